package gke

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/compute"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The address plan of a created cluster's own VPC. The VPC holds nothing
// else, so fixed ranges cannot collide inside it; they are GKE's usual
// sizes: 4096 node addresses, a /14 of Pod addresses (256 nodes at 110 Pods
// each, with room) and 4096 Service addresses.
const (
	NodesCIDR         = "10.0.0.0/20"
	PodsRange         = "pods"
	PodsCIDR          = "10.4.0.0/14"
	ServicesRange     = "services"
	ServicesCIDR      = "10.8.0.0/20"
	natAllIPRanges    = "ALL_SUBNETWORKS_ALL_IP_RANGES"
	natAutoAllocation = "AUTO_ONLY"
)

// vpc is the network a created cluster lives in.
type vpc struct {
	Network    *compute.Network
	Subnetwork *compute.Subnetwork
}

// newVPC creates the cluster's own network instead of the project's
// `default` one (whose auto subnets and permissive firewall rules are shared
// with everything else in the project), plus a Cloud Router and Cloud NAT:
// the nodes are private, and they still pull images from Docker Hub and
// ghcr.io and download weights from Hugging Face. The control plane may reach ports on the
// nodes' pods beyond GKE's own (firewall.go).
func newVPC(ctx *pulumi.Context, name, project, region, base string, ports []ControlPlanePort, opts ...pulumi.ResourceOption) (*vpc, error) {
	network, err := compute.NewNetwork(ctx, name+"-network", &compute.NetworkArgs{
		Name:    pulumi.String(base),
		Project: pulumi.String(project),
		// One subnet, ours, in the cluster's region; no subnet in every
		// region of the world.
		AutoCreateSubnetworks: pulumi.Bool(false),
		Description:           pulumi.String("llm-platform GKE cluster network"),
	}, opts...)
	if err != nil {
		return nil, err
	}
	subnet, err := compute.NewSubnetwork(ctx, name+"-subnet", &compute.SubnetworkArgs{
		Name:        pulumi.String(base),
		Project:     pulumi.String(project),
		Region:      pulumi.String(region),
		Network:     network.Name,
		IpCidrRange: pulumi.String(NodesCIDR),
		// Private nodes reach Google APIs (Artifact Registry, logging,
		// gs:// weights) without NAT.
		PrivateIpGoogleAccess: pulumi.Bool(true),
		SecondaryIpRanges: compute.SubnetworkSecondaryIpRangeArray{
			&compute.SubnetworkSecondaryIpRangeArgs{RangeName: pulumi.String(PodsRange), IpCidrRange: pulumi.String(PodsCIDR)},
			&compute.SubnetworkSecondaryIpRangeArgs{RangeName: pulumi.String(ServicesRange), IpCidrRange: pulumi.String(ServicesCIDR)},
		},
	}, opts...)
	if err != nil {
		return nil, err
	}
	router, err := compute.NewRouter(ctx, name+"-router", &compute.RouterArgs{
		Name:    pulumi.String(base),
		Project: pulumi.String(project),
		Region:  pulumi.String(region),
		Network: network.Name,
	}, opts...)
	if err != nil {
		return nil, err
	}
	_, err = compute.NewRouterNat(ctx, name+"-nat", &compute.RouterNatArgs{
		Name:    pulumi.String(base),
		Project: pulumi.String(project),
		Region:  pulumi.String(region),
		Router:  router.Name,
		// Google allocates the NAT addresses; nodes and Pods (primary and
		// alias ranges) all egress through it.
		NatIpAllocateOption:           pulumi.String(natAutoAllocation),
		SourceSubnetworkIpRangesToNat: pulumi.String(natAllIPRanges),
		LogConfig: &compute.RouterNatLogConfigArgs{
			// Port exhaustion and dropped connections show up in Cloud
			// Logging instead of as slow image pulls.
			Enable: pulumi.Bool(true),
			Filter: pulumi.String("ERRORS_ONLY"),
		},
	}, opts...)
	if err != nil {
		return nil, err
	}
	if err := controlPlaneFirewall(ctx, name, project, base, network, ports, opts...); err != nil {
		return nil, err
	}
	return &vpc{Network: network, Subnetwork: subnet}, nil
}
