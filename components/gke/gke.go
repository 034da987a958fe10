// Package gke provides GPU capacity on Google Kubernetes Engine: it creates a
// cluster (or adopts an existing one) and adds a GPU node pool, and hands
// back a kubeconfig. Models select the pool's GPUs by AcceleratorLabel.
//
// A created cluster lives in a VPC of its own with private nodes, Cloud NAT
// for their egress and Dataplane V2 enforcing NetworkPolicy (cluster.go,
// network.go). Every node the component creates runs as a dedicated,
// minimal service account (identity.go). GPU pool sizes are totals over
// the pool's zones (sizing.go).
package gke

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/container"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/internal/formertype"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// Type is the GKE component's type token.
const Type = "llm-platform:index:GKE"

// AcceleratorLabel is the label GKE puts on every GPU node, valued with the
// accelerator type; models select on it.
const AcceleratorLabel = "cloud.google.com/gke-accelerator"

var cloudPlatformScope = pulumi.StringArray{pulumi.String("https://www.googleapis.com/auth/cloud-platform")}

// Args are the GKE settings of the stack.
type Args struct {
	Config Config `pulumi:"config"`
	// ObjectReaders are the models that stream from Cloud Storage, each given read access to
	// exactly its locations (weights.go).
	ObjectReaders []ObjectReader `pulumi:"objectReaders,optional"`
	// ControlPlanePorts are the webhook and aggregated-API ports of what will run in a created
	// cluster; its firewall opens those GKE does not (firewall.go).
	ControlPlanePorts []ControlPlanePort `pulumi:"controlPlanePorts,optional"`
}

// GKE is the cluster and its GPU pool.
type GKE struct {
	pulumi.ResourceState

	ClusterName pulumi.StringOutput `pulumi:"clusterName"`
	// Kubeconfig authenticates with gke-gcloud-auth-plugin; it is secret.
	Kubeconfig pulumi.StringOutput `pulumi:"kubeconfig"`
	// GPUNodeSelector selects the GPU pool's nodes (AcceleratorLabel = the accelerator type).
	GPUNodeSelector map[string]string
	// ObjectReaders are the models' Cloud Storage read identities, by ObjectReader.Name.
	ObjectReaders map[string]*ReaderIdentity
	// Network is the cluster's VPC (projects/<project>/global/networks/<name>), where a Cloud
	// SQL instance gets its private address (NewCloudSQL).
	Network pulumi.StringOutput
}

// GPUTaint is the taint on the GPU pool's nodes.
var GPUTaint = cluster.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: "NoSchedule"}

// Cluster declares the Kubernetes provider for this cluster, named name (outside the
// component, so its URN does not depend on it), and returns the cluster as the application
// layer takes it.
func (g *GKE) Cluster(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (*cluster.Cluster, error) {
	taint := GPUTaint
	c, err := cluster.New(ctx, name, cluster.Args{
		Name: g.ClusterName, Kubeconfig: g.Kubeconfig, GPUNodeSelector: g.GPUNodeSelector, GPUTaint: &taint,
	}, opts...)
	if err != nil {
		return nil, err
	}
	c.Kubeconfig = g.Kubeconfig
	for n, r := range g.ObjectReaders {
		if c.ObjectReaders == nil {
			c.ObjectReaders = map[string]cluster.ObjectReader{}
		}
		c.ObjectReaders[n] = cluster.ObjectReader{
			Annotations: pulumi.StringMap{WorkloadIdentityAnnotation: r.Email},
			Ready:       r.Ready,
		}
	}
	return c, nil
}

// New creates or adopts the cluster and adds the GPU node pool.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*GKE, error) {
	cfg := args.Config
	g := &GKE{GPUNodeSelector: map[string]string{AcceleratorLabel: cfg.GPUPool.AcceleratorType}}
	if err := ctx.RegisterComponentResource(Type, name, g, formertype.Aliased(opts, formerType)...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	// A zonal cluster when a zone is given (cheaper, one control plane
	// zone), otherwise regional.
	location := cfg.Region
	if cfg.Zone != "" {
		location = cfg.Zone
	}
	base := baseName(cfg.Project, location, cfg.Cluster.Name)

	// Every pool, adopted cluster or not, runs as this account rather than
	// the Compute Engine default one.
	nodes, err := newNodeIdentity(ctx, name, cfg.Project, base, cfg.Cluster.Name, parent)
	if err != nil {
		return nil, err
	}

	var endpoint, caCert pulumi.StringOutput
	var clusterZones pulumi.StringArrayOutput
	// The GKE_METADATA mode needs Workload Identity on the cluster.
	var metadataMode pulumi.StringInput = pulumi.String(gkeMetadata)
	poolDeps := append([]pulumi.Resource{}, nodes.Grants...)
	if cfg.Cluster.Create {
		cluster, system, err := newCluster(ctx, name, cfg, location, base, nodes, args.ControlPlanePorts, parent)
		if err != nil {
			return nil, err
		}
		g.ClusterName = cluster.Name
		endpoint = cluster.Endpoint
		caCert = cluster.MasterAuth.ClusterCaCertificate().Elem()
		clusterZones = cluster.NodeLocations
		g.Network = cluster.Network.Elem()
		poolDeps = append(poolDeps, system)
	} else {
		found := container.LookupClusterOutput(ctx, container.LookupClusterOutputArgs{
			Name:     pulumi.String(cfg.Cluster.Name),
			Location: pulumi.String(location),
			Project:  pulumi.String(cfg.Project),
		}, pulumi.Parent(g))
		g.ClusterName = found.Name()
		endpoint = found.Endpoint()
		caCert = found.MasterAuths().Index(pulumi.Int(0)).ClusterCaCertificate()
		clusterZones = found.NodeLocations()
		g.Network = found.Network()
		metadataMode = found.ApplyT(func(c container.LookupClusterResult) (string, error) {
			return adoptedMetadataMode(ctx, cfg, location, c)
		}).(pulumi.StringOutput)
	}

	if g.ObjectReaders, err = objectReaders(ctx, name, cfg.Project, base, args.ObjectReaders, parent); err != nil {
		return nil, err
	}

	pool := cfg.GPUPool
	_, err = container.NewNodePool(ctx, name+"-gpu", &container.NodePoolArgs{
		Name:     pulumi.String("gpu"),
		Project:  pulumi.String(cfg.Project),
		Location: pulumi.String(location),
		Cluster:  g.ClusterName,
		// GPU types exist only in some zones of a region.
		NodeLocations: pulumi.ToStringArray(pool.NodeLocations),
		// Per zone (see InitialPerZone); the totals below bound the pool.
		InitialNodeCount: initialNodeCount(cfg, clusterZones),
		Autoscaling: &container.NodePoolAutoscalingArgs{
			// minNodes/maxNodes are totals over all the pool's zones;
			// minNodeCount/maxNodeCount would be per zone (maxNodes 3 over
			// 2 zones would allow 6 GPU nodes).
			TotalMinNodeCount: pulumi.Int(pool.MinNodes),
			TotalMaxNodeCount: pulumi.Int(pool.MaxNodes),
			LocationPolicy:    pulumi.String(LocationPolicy(pool.Spot)),
		},
		Management: &container.NodePoolManagementArgs{AutoRepair: pulumi.Bool(true), AutoUpgrade: pulumi.Bool(true)},
		NodeConfig: &container.NodePoolNodeConfigArgs{
			MachineType:    pulumi.String(pool.MachineType),
			Spot:           pulumi.Bool(pool.Spot),
			DiskSizeGb:     pulumi.Int(pool.DiskSizeGB),
			DiskType:       pulumi.String(pool.DiskType),
			ServiceAccount: nodes.Email,
			OauthScopes:    cloudPlatformScope,
			Labels:         pulumi.ToStringMap(pool.Labels),
			GuestAccelerators: container.NodePoolNodeConfigGuestAcceleratorArray{&container.NodePoolNodeConfigGuestAcceleratorArgs{
				Type:  pulumi.String(pool.AcceleratorType),
				Count: pulumi.Int(pool.AcceleratorCount),
				// GKE installs the driver itself (LATEST by default), so the
				// pool needs no driver DaemonSet.
				GpuDriverInstallationConfig: &container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs{
					GpuDriverVersion: pulumi.String(pool.DriverVersion),
				},
			}},
			// GKE adds this taint itself only when the cluster also has a
			// non-GPU pool; declared so non-GPU pods never land here.
			Taints: container.NodePoolNodeConfigTaintArray{&container.NodePoolNodeConfigTaintArgs{
				Key: pulumi.String(GPUTaint.Key), Value: pulumi.String(GPUTaint.Value), Effect: pulumi.String("NO_SCHEDULE"),
			}},
			WorkloadMetadataConfig: &container.NodePoolNodeConfigWorkloadMetadataConfigArgs{Mode: metadataMode},
		},
	}, parent, pulumi.DependsOn(poolDeps),
		// initialNodeCount forces a replacement when changed; the autoscaler
		// owns the size after creation, so a later minNodes change must not
		// recreate the pool.
		pulumi.IgnoreChanges([]string{"initialNodeCount"}))
	if err != nil {
		return nil, err
	}

	g.Kubeconfig = pulumi.ToSecret(pulumi.All(g.ClusterName, endpoint, caCert).ApplyT(func(v []any) string {
		// gke-gcloud-auth-plugin is the only method GKE supports since 1.26.
		return kube.Kubeconfig(v[0].(string), "https://"+v[1].(string), v[2].(string), kube.ExecAuth{
			Command:            "gke-gcloud-auth-plugin",
			InstallHint:        "Install gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin)",
			ProvideClusterInfo: true,
		})
	})).(pulumi.StringOutput)
	return g, ctx.RegisterResourceOutputs(g, pulumi.Map{"clusterName": g.ClusterName, "kubeconfig": g.Kubeconfig})
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:gke:GKE"
