package gke

import (
	"fmt"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/container"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	// gkeMetadata serves Pods GKE's metadata server (Workload Identity)
	// instead of the node's: a Pod never sees the node's credentials.
	gkeMetadata = "GKE_METADATA"
	// AdvancedDatapath is Dataplane V2 (eBPF), which enforces
	// NetworkPolicy itself; the legacy Calico networkPolicy block must not
	// be set with it.
	AdvancedDatapath = "ADVANCED_DATAPATH"
)

// controlPlane is the cluster the GPU pool joins, created or adopted.
type controlPlane struct {
	name, endpoint, caCert pulumi.StringOutput
	// zones are the cluster's node locations; network is its VPC.
	zones   pulumi.StringArrayOutput
	network pulumi.StringOutput
	// metadataMode is GKE_METADATA, which needs Workload Identity on the cluster (checked on an
	// adopted one).
	metadataMode pulumi.StringInput
	// ready is what the GPU pool waits for besides the node account's grants: a created
	// cluster's system pool.
	ready []pulumi.Resource
}

// newControlPlane creates the cluster, or looks up the one to adopt.
func newControlPlane(ctx *pulumi.Context, name string, cfg Config, location, base string, nodes *nodeIdentity,
	ports []ControlPlanePort, parent pulumi.ResourceOrInvokeOption) (*controlPlane, error) {
	if !cfg.Cluster.Create {
		return adoptCluster(ctx, cfg, location, parent), nil
	}
	cluster, system, err := newCluster(ctx, name, cfg, location, base, nodes, ports, parent)
	if err != nil {
		return nil, err
	}
	return &controlPlane{
		name:         cluster.Name,
		endpoint:     cluster.Endpoint,
		caCert:       cluster.MasterAuth.ClusterCaCertificate().Elem(),
		zones:        cluster.NodeLocations,
		network:      cluster.Network.Elem(),
		metadataMode: pulumi.String(gkeMetadata),
		ready:        []pulumi.Resource{system},
	}, nil
}

// adoptCluster reads an existing cluster; the GPU pool's metadata mode fails the deployment
// when the cluster lacks Workload Identity (adoptedMetadataMode).
func adoptCluster(ctx *pulumi.Context, cfg Config, location string, parent pulumi.InvokeOption) *controlPlane {
	found := container.LookupClusterOutput(ctx, container.LookupClusterOutputArgs{
		Name:     pulumi.String(cfg.Cluster.Name),
		Location: pulumi.String(location),
		Project:  pulumi.String(cfg.Project),
	}, parent)
	return &controlPlane{
		name:     found.Name(),
		endpoint: found.Endpoint(),
		caCert:   found.MasterAuths().Index(pulumi.Int(0)).ClusterCaCertificate(),
		zones:    found.NodeLocations(),
		network:  found.Network(),
		metadataMode: found.ApplyT(func(c container.LookupClusterResult) (string, error) {
			return adoptedMetadataMode(ctx, cfg, location, c)
		}).(pulumi.StringOutput),
	}
}

// newCluster creates the cluster in its own private VPC, and its system pool.
func newCluster(ctx *pulumi.Context, name string, cfg Config, location, base string, nodes *nodeIdentity,
	ports []ControlPlanePort, parent pulumi.ResourceOption) (*container.Cluster, *container.NodePool, error) {
	net, err := newVPC(ctx, name, cfg.Project, cfg.Region, base, ports, parent)
	if err != nil {
		return nil, nil, err
	}
	cluster, err := container.NewCluster(ctx, name, &container.ClusterArgs{
		Name:     pulumi.String(cfg.Cluster.Name),
		Project:  pulumi.String(cfg.Project),
		Location: pulumi.String(location),
		// Node pools are managed separately so the GPU pool can change
		// without touching the cluster.
		RemoveDefaultNodePool: pulumi.Bool(true),
		InitialNodeCount:      pulumi.Int(1),
		// Only the short-lived default pool reads this; it too runs as the
		// node account, so the cluster never needs the Compute Engine
		// default service account (absent or disabled in many projects).
		NodeConfig: &container.ClusterNodeConfigArgs{
			ServiceAccount: nodes.Email,
			OauthScopes:    cloudPlatformScope,
		},
		DeletionProtection: pulumi.Bool(cfg.Cluster.DeletionProtection),
		NetworkingMode:     pulumi.String("VPC_NATIVE"),
		// Relative links, not bare names: a bare subnet name would have to
		// be resolved against the cluster's location, a zone for a zonal
		// cluster.
		Network:    pulumi.Sprintf("projects/%s/global/networks/%s", cfg.Project, net.Network.Name),
		Subnetwork: pulumi.Sprintf("projects/%s/regions/%s/subnetworks/%s", cfg.Project, cfg.Region, net.Subnetwork.Name),
		IpAllocationPolicy: &container.ClusterIpAllocationPolicyArgs{
			ClusterSecondaryRangeName:  pulumi.String(PodsRange),
			ServicesSecondaryRangeName: pulumi.String(ServicesRange),
		},
		// Nodes get internal addresses only (egress through the VPC's Cloud
		// NAT); the control plane keeps its public endpoint, so pulumi and
		// kubectl reach it from anywhere with Google credentials.
		PrivateClusterConfig: &container.ClusterPrivateClusterConfigArgs{
			EnablePrivateNodes:    pulumi.Bool(true),
			EnablePrivateEndpoint: pulumi.Bool(false),
		},
		// Dataplane V2 enforces the NetworkPolicies the edge declares;
		// without it (or Calico) they are accepted and ignored.
		DatapathProvider: pulumi.String(AdvancedDatapath),
		ReleaseChannel:   &container.ClusterReleaseChannelArgs{Channel: pulumi.String(cfg.Cluster.ReleaseChannel)},
		WorkloadIdentityConfig: &container.ClusterWorkloadIdentityConfigArgs{
			WorkloadPool: pulumi.String(cfg.Project + ".svc.id.goog"),
		},
	}, parent, pulumi.DependsOn(nodes.Grants),
		// nodeConfig describes the default pool, which is deleted right
		// after creation; what GKE reports for it later must not replace
		// the cluster.
		pulumi.IgnoreChanges([]string{"nodeConfig"}))
	if err != nil {
		return nil, nil, err
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
			MachineType:    pulumi.String(cfg.Cluster.SystemMachineType),
			ServiceAccount: nodes.Email,
			// With a dedicated account the scope is the broad one Google
			// recommends: its IAM roles, not scopes, limit what nodes do.
			OauthScopes: cloudPlatformScope,
			WorkloadMetadataConfig: &container.NodePoolNodeConfigWorkloadMetadataConfigArgs{
				Mode: pulumi.String(gkeMetadata),
			},
		},
	}, parent, pulumi.DependsOn(nodes.Grants))
	if err != nil {
		return nil, nil, err
	}
	return cluster, system, nil
}

// adoptedMetadataMode checks what the GPU pool needs from an adopted cluster.
// The pool always runs with GKE_METADATA: falling back to the node's
// metadata server would hand every Pod on a GPU node the node's credentials
// and break the Workload Identity the platform's Pods rely on, silently. So
// a cluster without a workload pool fails the deployment, before the pool is
// created, with the command that fixes it.
func adoptedMetadataMode(ctx *pulumi.Context, cfg Config, location string, c container.LookupClusterResult) (string, error) {
	if !enforcesNetworkPolicy(c) {
		// Not fatal (many clusters predate Dataplane V2), but the edge's
		// NetworkPolicies are then decorative.
		_ = ctx.Log.Warn(fmt.Sprintf("gke.cluster.name: the adopted cluster %q enforces no NetworkPolicy (neither Dataplane V2 "+
			"nor network policy enforcement is on), so the platform's NetworkPolicies have no effect; turn enforcement on with "+
			"`gcloud container clusters update %s --location=%s --project=%s --update-addons=NetworkPolicy=ENABLED` and then "+
			"`--enable-network-policy`, or adopt a cluster created with --enable-dataplane-v2",
			cfg.Cluster.Name, cfg.Cluster.Name, location, cfg.Project), nil)
	}
	for _, w := range c.WorkloadIdentityConfigs {
		if w.WorkloadPool != "" {
			return gkeMetadata, nil
		}
	}
	return "", fmt.Errorf("gke.cluster.name: the adopted cluster %q (gke.cluster.create: false) has no Workload Identity, which "+
		"the GPU pool needs (its nodes serve Pods GKE's metadata server, GKE_METADATA, so Pods never get the node's "+
		"credentials); enable it with `gcloud container clusters update %s --location=%s --project=%s "+
		"--workload-pool=%s.svc.id.goog` and run again, or set gke.cluster.create: true to create a cluster that has it",
		cfg.Cluster.Name, cfg.Cluster.Name, location, cfg.Project, cfg.Project)
}

// enforcesNetworkPolicy: Dataplane V2, or the legacy Calico enforcement.
func enforcesNetworkPolicy(c container.LookupClusterResult) bool {
	if c.DatapathProvider == AdvancedDatapath {
		return true
	}
	for _, p := range c.NetworkPolicies {
		if p.Enabled {
			return true
		}
	}
	return false
}
