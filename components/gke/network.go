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
// ghcr.io and download weights from Hugging Face.
func newVPC(ctx *pulumi.Context, name, project, region, base string, opts ...pulumi.ResourceOption) (*vpc, error) {
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
	// GKE opens only 443 and 10250 from the control plane to private nodes; Istio's sidecar
	// injection and validation webhooks listen on istiod's 15017, so without this rule every
	// pod creation in an injected namespace times out. A cluster without a masterIpv4CidrBlock
	// uses Private Service Connect, whose control plane endpoint takes an address in the node
	// subnet: that subnet is the source.
	_, err = compute.NewFirewall(ctx, name+"-webhooks", &compute.FirewallArgs{
		Name:         pulumi.String(base + "-webhooks"),
		Project:      pulumi.String(project),
		Network:      network.Name,
		Direction:    pulumi.String("INGRESS"),
		SourceRanges: pulumi.StringArray{pulumi.String(NodesCIDR)},
		Allows: compute.FirewallAllowArray{&compute.FirewallAllowArgs{
			Protocol: pulumi.String("tcp"), Ports: pulumi.StringArray{pulumi.String(IstioWebhookPort)},
		}},
		Description: pulumi.String("control plane to istiod's admission webhooks"),
	}, opts...)
	if err != nil {
		return nil, err
	}
	return &vpc{Network: network, Subnetwork: subnet}, nil
}

// IstioWebhookPort is istiod's webhook port, which the control plane must reach.
const IstioWebhookPort = "15017"
