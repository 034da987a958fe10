package eks

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// gpuZones picks the VPC's two zones: the region's first standard
// Availability Zones (no Local or Wavelength Zones, which lack EKS and most
// GPU types) that offer one of the GPU node group's instance types, in the
// region's order.
func gpuZones(ctx *pulumi.Context, cfg Config, invoke ...pulumi.InvokeOption) ([]string, error) {
	found, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
		State: pulumi.StringRef("available"),
		Filters: []aws.GetAvailabilityZonesFilter{
			{Name: "zone-type", Values: []string{"availability-zone"}},
			{Name: "opt-in-status", Values: []string{"opt-in-not-required"}},
		},
	}, invoke...)
	if err != nil {
		return nil, fmt.Errorf("eks.cluster.availabilityZones: listing zones of %s: %w", cfg.Region, err)
	}
	types := cfg.GPUNodeGroup.InstanceTypes
	offers, err := ec2.GetInstanceTypeOfferings(ctx, &ec2.GetInstanceTypeOfferingsArgs{
		LocationType: pulumi.StringRef("availability-zone"),
		Filters:      []ec2.GetInstanceTypeOfferingsFilter{{Name: "instance-type", Values: types}},
	}, invoke...)
	if err != nil {
		return nil, fmt.Errorf("eks.gpuNodeGroup.instanceTypes: listing the zones of %s that offer %v: %w", cfg.Region, types, err)
	}
	var zones []string
	for _, z := range found.Names {
		if slices.Contains(offers.Locations, z) {
			zones = append(zones, z)
		}
	}
	if len(zones) < 2 {
		return nil, fmt.Errorf("eks.cluster.availabilityZones: %s has %d standard zones offering eks.gpuNodeGroup.instanceTypes %v (%v); EKS needs 2: "+
			"set eks.cluster.availabilityZones to two zones, add instance types, or pick another region", cfg.Region, len(zones), types, zones)
	}
	return zones[:2], nil
}

type subnets struct {
	vpcID           pulumi.StringOutput
	public, private pulumi.StringArray
}

// vpc is the created cluster's VPC while its network is being declared.
type vpc struct {
	name       string
	vpc        *ec2.Vpc
	block      netip.Prefix
	clusterTag string
	child      []pulumi.ResourceOption
}

// network is a VPC with a public and a private subnet per zone, one NAT
// gateway for the private subnets, and the tags load balancers look for.
func network(ctx *pulumi.Context, name string, cfg Config, zones []string, child []pulumi.ResourceOption) (*subnets, error) {
	block, err := netip.ParsePrefix(cfg.Cluster.VPCCIDR)
	if err != nil || !block.Addr().Is4() || block.Bits() != 16 {
		return nil, fmt.Errorf("eks.cluster.vpcCidr: %q must be an IPv4 /16", cfg.Cluster.VPCCIDR)
	}
	v, err := ec2.NewVpc(ctx, name, &ec2.VpcArgs{
		CidrBlock:          pulumi.String(cfg.Cluster.VPCCIDR),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               pulumi.StringMap{"Name": pulumi.String(cfg.Cluster.Name)},
	}, child...)
	if err != nil {
		return nil, err
	}
	net := &vpc{name: name, vpc: v, block: block, clusterTag: "kubernetes.io/cluster/" + cfg.Cluster.Name, child: child}
	igw, err := ec2.NewInternetGateway(ctx, name, &ec2.InternetGatewayArgs{VpcId: v.ID()}, child...)
	if err != nil {
		return nil, err
	}
	public, err := net.routeTable(ctx, "public", &ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()})
	if err != nil {
		return nil, err
	}
	out := subnets{vpcID: v.ID().ToStringOutput()}
	var natGateway *ec2.NatGateway
	for i, zone := range zones {
		pub, err := net.publicSubnet(ctx, i, zone, public)
		if err != nil {
			return nil, err
		}
		if natGateway == nil {
			if natGateway, err = net.natGateway(ctx, pub, igw); err != nil {
				return nil, err
			}
		}
		priv, err := net.privateSubnet(ctx, i, zone)
		if err != nil {
			return nil, err
		}
		out.public = append(out.public, pub.ID())
		out.private = append(out.private, priv.ID())
	}
	private, err := net.routeTable(ctx, "private", &ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), NatGatewayId: natGateway.ID()})
	if err != nil {
		return nil, err
	}
	for i, id := range out.private {
		if err := net.associate(ctx, fmt.Sprintf("private-%d", i), id, private); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// routeTable is the VPC's route table for one tier ("public", "private"), with its default
// route.
func (n *vpc) routeTable(ctx *pulumi.Context, tier string, route *ec2.RouteTableRouteArgs) (*ec2.RouteTable, error) {
	return ec2.NewRouteTable(ctx, n.name+"-"+tier, &ec2.RouteTableArgs{
		VpcId:  n.vpc.ID(),
		Routes: ec2.RouteTableRouteArray{route},
	}, n.child...)
}

// associate routes subnet by table; suffix names the association.
func (n *vpc) associate(ctx *pulumi.Context, suffix string, subnet pulumi.StringInput, table *ec2.RouteTable) error {
	_, err := ec2.NewRouteTableAssociation(ctx, n.name+"-"+suffix, &ec2.RouteTableAssociationArgs{
		SubnetId: subnet, RouteTableId: table.ID(),
	}, n.child...)
	return err
}

// publicSubnet is zone's public subnet, the i-th pair's first /20, routed by the public
// table; internet-facing load balancers go there.
func (n *vpc) publicSubnet(ctx *pulumi.Context, i int, zone string, public *ec2.RouteTable) (*ec2.Subnet, error) {
	pub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%d", n.name, i), &ec2.SubnetArgs{
		VpcId:               n.vpc.ID(),
		AvailabilityZone:    pulumi.String(zone),
		CidrBlock:           subnetCIDR(n.block, 2*i),
		MapPublicIpOnLaunch: pulumi.Bool(true),
		Tags:                pulumi.StringMap{"kubernetes.io/role/elb": pulumi.String("1"), n.clusterTag: pulumi.String("shared")},
	}, n.child...)
	if err != nil {
		return nil, err
	}
	return pub, n.associate(ctx, fmt.Sprintf("public-%d", i), pub.ID(), public)
}

// privateSubnet is zone's private subnet, the i-th pair's second /20: the nodes and internal
// load balancers go there.
func (n *vpc) privateSubnet(ctx *pulumi.Context, i int, zone string) (*ec2.Subnet, error) {
	return ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%d", n.name, i), &ec2.SubnetArgs{
		VpcId:            n.vpc.ID(),
		AvailabilityZone: pulumi.String(zone),
		CidrBlock:        subnetCIDR(n.block, 2*i+1),
		Tags:             pulumi.StringMap{"kubernetes.io/role/internal-elb": pulumi.String("1"), n.clusterTag: pulumi.String("shared")},
	}, n.child...)
}

// natGateway is the private subnets' one way out, in the public subnet pub.
func (n *vpc) natGateway(ctx *pulumi.Context, pub *ec2.Subnet, igw *ec2.InternetGateway) (*ec2.NatGateway, error) {
	eip, err := ec2.NewEip(ctx, n.name+"-nat", &ec2.EipArgs{Domain: pulumi.String("vpc")}, n.child...)
	if err != nil {
		return nil, err
	}
	return ec2.NewNatGateway(ctx, n.name, &ec2.NatGatewayArgs{AllocationId: eip.ID(), SubnetId: pub.ID()},
		append(n.child, pulumi.DependsOn([]pulumi.Resource{igw}))...)
}

// subnetCIDR carves the n-th /20 out of the VPC's /16 (checked with the
// config): 4096 addresses per subnet, room for pods with the VPC CNI.
func subnetCIDR(block netip.Prefix, n int) pulumi.String {
	a := block.Addr().As4()
	return pulumi.String(netip.PrefixFrom(netip.AddrFrom4([4]byte{a[0], a[1], byte(n * 16), 0}), 20).String())
}

// nodesOnly is a security group for a data store in the cluster's VPC: it admits TCP on Port
// from the cluster's nodes (their security group) and nothing else, and allows no egress (the
// store starts no connections). The descriptions stay as first applied: EC2 replaces a group
// whose description changes.
type nodesOnly struct {
	VpcID, NodeSecurityGroupID pulumi.StringInput
	Port                       int
	Group, Rule                string // the group's and the rule's descriptions
}

func (n nodesOnly) declare(ctx *pulumi.Context, name string, parent pulumi.ResourceOption) (*ec2.SecurityGroup, error) {
	return ec2.NewSecurityGroup(ctx, name, &ec2.SecurityGroupArgs{
		VpcId:       n.VpcID,
		Description: pulumi.String(n.Group),
		Ingress: ec2.SecurityGroupIngressArray{&ec2.SecurityGroupIngressArgs{
			Description: pulumi.String(n.Rule), Protocol: pulumi.String("tcp"),
			FromPort: pulumi.Int(n.Port), ToPort: pulumi.Int(n.Port), SecurityGroups: pulumi.StringArray{n.NodeSecurityGroupID},
		}},
	}, parent)
}
