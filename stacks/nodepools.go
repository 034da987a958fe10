package stacks

import (
	"fmt"
	"maps"
	"strings"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// Well-known node labels (k8s.io/api/core/v1 spells them too; plain strings keep this file
// free of the API types).
const (
	labelInstanceType = "node.kubernetes.io/instance-type"
	labelZone         = "topology.kubernetes.io/zone"
	labelRegion       = "topology.kubernetes.io/region"
	gkeNodePoolLabel  = "cloud.google.com/gke-nodepool"
	gkeSpotLabel      = "cloud.google.com/gke-spot"
	eksNodeGroupLabel = "eks.amazonaws.com/nodegroup"
	eksCapacityLabel  = "eks.amazonaws.com/capacityType"
)

// NodePool is one node pool a GKE or EKS stack declares, as its nodes look to the scheduler:
// the node type (from the capacity table, the same one the config-time check uses), how many
// nodes, in which zones, with which labels and taints. A simulated cluster builds its Nodes
// from it (internal/simcluster).
type NodePool struct {
	// Name is the pool's (node group's) name in the cloud: "system" or "gpu".
	Name  string
	Cloud string
	// TypeKey and CountKey are the config keys that set the type and the node count.
	TypeKey, CountKey string
	// Type is the node type; a pool listing several (EKS) gets its first one, which the
	// config-time check also judges (it takes the smallest of each resource over all).
	Type capacity.NodeType
	// Nodes is the most nodes the pool runs: the system pool's count (over all its zones), the
	// GPU pool's maximum, so that every scale-up the config allows can happen.
	Nodes int
	// Zones the nodes are spread over, in order.
	Zones []string
	// Labels are what the cloud and this program put on every node of the pool (without the
	// per-node hostname and zone).
	Labels map[string]string
	// Taints are the pool's taints (the GPU pool's, which this program declares).
	Taints []cluster.Taint
	// GPU reports the GPU pool.
	GPU bool
}

// NodePools are the node pools of a GKE or EKS stack that creates its cluster: the system pool
// and the GPU pool. It fails for an existing cluster (its nodes are not the stack's), for an
// adopted one (its system nodes are unknown here) and for node types outside the capacity table.
func NodePools(cfg spec.Config) ([]NodePool, error) {
	system, gpu := pools(cfg)
	if system == nil || gpu == nil {
		return nil, fmt.Errorf("cloud %q: only a GKE or EKS stack that creates its cluster declares its node pools", cfg.Cloud)
	}
	var out []NodePool
	for _, p := range []*pool{system, gpu} {
		if len(p.types) == 0 {
			return nil, fmt.Errorf("%s: %s is not in the capacity table (internal/capacity)", p.typeKey, p.typeName())
		}
		np := NodePool{
			Cloud: p.cloud, TypeKey: p.typeKey, CountKey: p.countKey, Type: p.types[0], Nodes: p.nodes,
			GPU: p == gpu, Labels: map[string]string{labelInstanceType: p.types[0].Name},
		}
		switch cfg.Cloud {
		case spec.CloudGKE:
			np.Labels[labelRegion] = cfg.GKE.Region
			np.Zones = gkeZones(cfg.GKE, np.GPU)
			if np.GPU {
				np.Name = "gpu"
				maps.Copy(np.Labels, cfg.GKE.GPUPool.Labels)
				maps.Copy(np.Labels, modelNodeSelector(cfg))
				if cfg.GKE.GPUPool.Spot {
					np.Labels[gkeSpotLabel] = "true"
				}
				np.Taints = []cluster.Taint{gke.GPUTaint}
			} else {
				np.Name = "system"
			}
			np.Labels[gkeNodePoolLabel] = np.Name
		case spec.CloudEKS:
			np.Labels[labelRegion] = cfg.EKS.Region
			np.Zones = eksZones(cfg.EKS)
			np.Labels[eksCapacityLabel] = "ON_DEMAND"
			if np.GPU {
				np.Name = "gpu"
				maps.Copy(np.Labels, cfg.EKS.GPUNodeGroup.Labels)
				maps.Copy(np.Labels, modelNodeSelector(cfg))
				np.Labels[eksCapacityLabel] = cfg.EKS.GPUNodeGroup.CapacityType
				np.Taints = []cluster.Taint{eks.GPUTaint}
			} else {
				np.Name = "system"
			}
			np.Labels[eksNodeGroupLabel] = np.Name
		}
		out = append(out, np)
	}
	return out, nil
}

// gkeZones: the GPU pool's node locations when set; otherwise the cluster's zone, or for a
// regional cluster the first SystemPoolZones of its region (GKE picks them; "-a", "-b", "-c"
// stand in for them).
func gkeZones(g spec.GKEConfig, gpu bool) []string {
	if gpu && len(g.GPUPool.NodeLocations) > 0 {
		return g.GPUPool.NodeLocations
	}
	if g.Zone != "" {
		return []string{g.Zone}
	}
	zones := make([]string, g.SystemPoolZones())
	for i := range zones {
		zones[i] = g.Region + "-" + string(rune('a'+i))
	}
	return zones
}

// eksZones: the configured Availability Zones, or two of the region's (the component picks the
// first two that offer the GPU types; "a" and "b" stand in for them).
func eksZones(e spec.EKSConfig) []string {
	if len(e.Cluster.AvailabilityZones) > 0 {
		return e.Cluster.AvailabilityZones
	}
	return []string{e.Region + "a", e.Region + "b"}
}

// ModelNodeSelector is the node selector the stack's cloud gives GPU models: what
// existing.nodeSelector must say to deploy the stack's application layer into a cluster shaped
// like its pools.
func ModelNodeSelector(cfg spec.Config) map[string]string { return modelNodeSelector(cfg) }

// CheckCapacity is the config-time capacity check `pulumi up` runs first (before anything is
// declared): nil when the stack's pods fit its pools, else a *spec.ConfigError naming each key.
func CheckCapacity(cfg spec.Config) error {
	problems, _ := capacityProblems(cfg)
	if len(problems) > 0 {
		return &spec.ConfigError{Problems: problems}
	}
	return nil
}

// NodeOverhead is what runs on every node besides the platform's workloads, as the config-time
// check counts it: the cloud's DaemonSets (capacity.DaemonSetAllowance) and the add-ons' (Istio's
// CNI agent).
func NodeOverhead(cfg spec.Config) capacity.Resources {
	return capacity.DaemonSetAllowance.Add(addons.NodeDaemonSets(addons.Args{Istio: cfg.Platform.Istio}))
}

// AddOnPods are the pods on the system pool that are not the platform's own workloads (cluster
// DNS, the EBS CSI controller, istiod, the ingress gateways, Argo CD, metrics-server), as the
// config-time check counts them.
func AddOnPods(cfg spec.Config) []capacity.Pods {
	var out []capacity.Pods
	for _, p := range platformPods(cfg, capacity.Resources{}) {
		if p.Name != gatewayPods && p.Name != webUIPods {
			out = append(out, p)
		}
	}
	return out
}

// String is "gpu: 3 x a2-ultragpu-2g in us-central1-a, us-central1-c".
func (p NodePool) String() string {
	return fmt.Sprintf("%s: %d x %s in %s", p.Name, p.Nodes, p.Type.Name, strings.Join(p.Zones, ", "))
}
