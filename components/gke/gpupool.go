package gke

import (
	"slices"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/container"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// gpuPool is the GPU node pool: autoscaled between totals over its zones (sizing.go), tainted
// for the models, its nodes running as the node account and serving Pods GKE's metadata
// server.
func gpuPool(ctx *pulumi.Context, name string, cfg Config, location string, cp *controlPlane, nodes *nodeIdentity, parent pulumi.ResourceOption) error {
	pool := cfg.GPUPool
	_, err := container.NewNodePool(ctx, name+"-gpu", &container.NodePoolArgs{
		Name:     pulumi.String("gpu"),
		Project:  pulumi.String(cfg.Project),
		Location: pulumi.String(location),
		Cluster:  cp.name,
		// GPU types exist only in some zones of a region.
		NodeLocations: pulumi.ToStringArray(pool.NodeLocations),
		// Per zone (see InitialPerZone); the totals below bound the pool.
		InitialNodeCount: initialNodeCount(cfg, cp.zones),
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
			WorkloadMetadataConfig: &container.NodePoolNodeConfigWorkloadMetadataConfigArgs{Mode: cp.metadataMode},
		},
	}, parent, pulumi.DependsOn(append(slices.Clone(nodes.Grants), cp.ready...)),
		// initialNodeCount forces a replacement when changed; the autoscaler
		// owns the size after creation, so a later minNodes change must not
		// recreate the pool.
		pulumi.IgnoreChanges([]string{"initialNodeCount"}))
	return err
}
