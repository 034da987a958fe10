// Package gke provides GPU capacity on Google Kubernetes Engine: it creates a
// cluster (or adopts an existing one) and adds a GPU node pool, and hands
// back a kubeconfig. Models select the pool's GPUs by AcceleratorLabel.
package gke

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/container"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// AcceleratorLabel is the label GKE puts on every GPU node, valued with the
// accelerator type; models select on it.
const AcceleratorLabel = "cloud.google.com/gke-accelerator"

var cloudPlatformScope = pulumi.StringArray{pulumi.String("https://www.googleapis.com/auth/cloud-platform")}

// Args are the GKE settings of the stack.
type Args struct {
	Config spec.GKEConfig
}

// GKE is the cluster and its GPU pool.
type GKE struct {
	pulumi.ResourceState

	ClusterName pulumi.StringOutput
	// Kubeconfig authenticates with gke-gcloud-auth-plugin; it is secret.
	Kubeconfig pulumi.StringOutput
}

// New creates or adopts the cluster and adds the GPU node pool.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*GKE, error) {
	cfg := args.Config
	g := &GKE{}
	if err := ctx.RegisterComponentResource("llm-platform:gke:GKE", name, g, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	// A zonal cluster when a zone is given (cheaper, one control plane
	// zone), otherwise regional.
	location := cfg.Region
	if cfg.Zone != "" {
		location = cfg.Zone
	}

	var endpoint, caCert pulumi.StringOutput
	var poolDeps []pulumi.Resource
	if cfg.Cluster.Create {
		cluster, err := container.NewCluster(ctx, name, &container.ClusterArgs{
			Name:     pulumi.String(cfg.Cluster.Name),
			Project:  pulumi.String(cfg.Project),
			Location: pulumi.String(location),
			// Node pools are managed separately so the GPU pool can change
			// without touching the cluster.
			RemoveDefaultNodePool: pulumi.Bool(true),
			InitialNodeCount:      pulumi.Int(1),
			DeletionProtection:    pulumi.Bool(cfg.Cluster.DeletionProtection),
			NetworkingMode:        pulumi.String("VPC_NATIVE"),
			IpAllocationPolicy:    &container.ClusterIpAllocationPolicyArgs{},
			ReleaseChannel:        &container.ClusterReleaseChannelArgs{Channel: pulumi.String(cfg.Cluster.ReleaseChannel)},
			WorkloadIdentityConfig: &container.ClusterWorkloadIdentityConfigArgs{
				WorkloadPool: pulumi.String(cfg.Project + ".svc.id.goog"),
			},
		}, parent)
		if err != nil {
			return nil, err
		}
		system, err := container.NewNodePool(ctx, name+"-system", &container.NodePoolArgs{
			Name:      pulumi.String("system"),
			Project:   pulumi.String(cfg.Project),
			Location:  pulumi.String(location),
			Cluster:   cluster.Name,
			NodeCount: pulumi.Int(cfg.Cluster.SystemNodeCount),
			Management: &container.NodePoolManagementArgs{
				AutoRepair: pulumi.Bool(true), AutoUpgrade: pulumi.Bool(true),
			},
			NodeConfig: &container.NodePoolNodeConfigArgs{
				MachineType: pulumi.String(cfg.Cluster.SystemMachineType),
				OauthScopes: cloudPlatformScope,
				WorkloadMetadataConfig: &container.NodePoolNodeConfigWorkloadMetadataConfigArgs{
					Mode: pulumi.String("GKE_METADATA"),
				},
			},
		}, parent)
		if err != nil {
			return nil, err
		}
		g.ClusterName = cluster.Name
		endpoint = cluster.Endpoint
		caCert = cluster.MasterAuth.ClusterCaCertificate().Elem()
		poolDeps = []pulumi.Resource{system}
	} else {
		found := container.LookupClusterOutput(ctx, container.LookupClusterOutputArgs{
			Name:     pulumi.String(cfg.Cluster.Name),
			Location: pulumi.String(location),
			Project:  pulumi.String(cfg.Project),
		}, pulumi.Parent(g))
		g.ClusterName = found.Name()
		endpoint = found.Endpoint()
		caCert = found.MasterAuths().Index(pulumi.Int(0)).ClusterCaCertificate()
	}

	pool := cfg.GPUPool
	_, err := container.NewNodePool(ctx, name+"-gpu", &container.NodePoolArgs{
		Name:     pulumi.String("gpu"),
		Project:  pulumi.String(cfg.Project),
		Location: pulumi.String(location),
		Cluster:  g.ClusterName,
		// GPU types exist only in some zones of a region.
		NodeLocations:    pulumi.ToStringArray(pool.NodeLocations),
		InitialNodeCount: pulumi.Int(pool.MinNodes),
		Autoscaling: &container.NodePoolAutoscalingArgs{
			MinNodeCount: pulumi.Int(pool.MinNodes),
			MaxNodeCount: pulumi.Int(pool.MaxNodes),
		},
		Management: &container.NodePoolManagementArgs{AutoRepair: pulumi.Bool(true), AutoUpgrade: pulumi.Bool(true)},
		NodeConfig: &container.NodePoolNodeConfigArgs{
			MachineType: pulumi.String(pool.MachineType),
			Spot:        pulumi.Bool(pool.Spot),
			DiskSizeGb:  pulumi.Int(pool.DiskSizeGB),
			DiskType:    pulumi.String(pool.DiskType),
			OauthScopes: cloudPlatformScope,
			Labels:      pulumi.ToStringMap(pool.Labels),
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
				Key: pulumi.String("nvidia.com/gpu"), Value: pulumi.String("present"), Effect: pulumi.String("NO_SCHEDULE"),
			}},
			WorkloadMetadataConfig: &container.NodePoolNodeConfigWorkloadMetadataConfigArgs{Mode: pulumi.String("GKE_METADATA")},
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
