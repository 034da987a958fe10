package stacks

import (
	"fmt"
	"maps"

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

// NodePools are the node pools of a GKE or EKS stack that creates its cluster: the system pool
// and the GPU pool, for a simulated cluster shaped like them (internal/simcluster's tests). It
// fails for an existing cluster (its nodes are not the stack's), for an adopted one (its system
// nodes are unknown here) and for node types outside the capacity table.
func NodePools(cfg spec.Config) ([]cluster.NodePool, error) {
	system, gpu := pools(cfg)
	if system == nil || gpu == nil {
		return nil, fmt.Errorf("cloud %q: only a GKE or EKS stack that creates its cluster declares its node pools", cfg.Cloud)
	}
	var out []cluster.NodePool
	for _, p := range []*pool{system, gpu} {
		if len(p.types) == 0 {
			return nil, fmt.Errorf("%s: %s is not in the capacity table (internal/capacity)", p.typeKey, p.typeName())
		}
		np := cluster.NodePool{
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
