// Package eks provides GPU capacity on Amazon EKS: it creates a cluster with
// its VPC and IAM (or adopts an existing cluster), adds a GPU managed node
// group on the AL2023 NVIDIA AMI, and installs the EBS CSI driver so cache
// claims bind. It hands back a kubeconfig; models select GPUNodeLabel=true.
package eks

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// GPUNodeLabel is on every GPU node this component creates. It is the label
// the NVIDIA device plugin chart's default affinity requires, and the one
// the models select.
const GPUNodeLabel = "nvidia.com/gpu.present"

// Args are the EKS settings of the stack.
type Args struct {
	Config spec.EKSConfig
}

// EKS is the cluster and its GPU node group.
type EKS struct {
	pulumi.ResourceState

	ClusterName pulumi.StringOutput
	// Kubeconfig authenticates with `aws eks get-token`; it is secret.
	Kubeconfig pulumi.StringOutput
}

const awsManaged = "arn:aws:iam::aws:policy/"

// New creates or adopts the cluster and adds the GPU node group.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*EKS, error) {
	cfg := args.Config
	e := &EKS{}
	if err := ctx.RegisterComponentResource("llm-platform:eks:EKS", name, e, opts...); err != nil {
		return nil, err
	}
	region, err := aws.NewProvider(ctx, name, &aws.ProviderArgs{Region: pulumi.String(cfg.Region)}, pulumi.Parent(e))
	if err != nil {
		return nil, err
	}
	// Every child runs against the stack's region, whatever the ambient
	// AWS configuration says.
	child := []pulumi.ResourceOption{pulumi.Parent(e), pulumi.Provider(region)}

	var endpoint, caData pulumi.StringOutput
	var subnetIDs pulumi.StringArrayInput
	var clusterDeps []pulumi.Resource
	if cfg.Cluster.Create {
		c, err := createCluster(ctx, name, cfg, child, pulumi.Parent(e), pulumi.Provider(region))
		if err != nil {
			return nil, err
		}
		e.ClusterName, endpoint, caData = c.cluster.Name, c.cluster.Endpoint, c.cluster.CertificateAuthority.Data().Elem()
		subnetIDs, clusterDeps = c.privateSubnets, []pulumi.Resource{c.system}
	} else {
		found, err := eks.LookupCluster(ctx, &eks.LookupClusterArgs{Name: cfg.Cluster.Name}, pulumi.Parent(e), pulumi.Provider(region))
		if err != nil {
			return nil, fmt.Errorf("eks.cluster.name: cannot adopt cluster %q: %w", cfg.Cluster.Name, err)
		}
		if len(found.CertificateAuthorities) == 0 {
			return nil, fmt.Errorf("eks.cluster.name: cluster %q has no certificate authority yet; wait until it is ACTIVE", cfg.Cluster.Name)
		}
		e.ClusterName = pulumi.String(found.Name).ToStringOutput()
		endpoint = pulumi.String(found.Endpoint).ToStringOutput()
		caData = pulumi.String(found.CertificateAuthorities[0].Data).ToStringOutput()
		subnetIDs = pulumi.ToStringArray(found.VpcConfig.SubnetIds)
		if len(cfg.Cluster.SubnetIDs) > 0 {
			// The cluster's subnets often include public ones; GPU nodes
			// belong in private subnets.
			subnetIDs = pulumi.ToStringArray(cfg.Cluster.SubnetIDs)
		}
	}

	nodeRole, err := role(ctx, name+"-gpu-node", "ec2.amazonaws.com",
		[]string{"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}, child)
	if err != nil {
		return nil, err
	}
	ng := cfg.GPUNodeGroup
	labels := map[string]string{}
	for k, v := range ng.Labels {
		labels[k] = v
	}
	labels[GPUNodeLabel] = "true" // last: models and the device plugin rely on it
	_, err = eks.NewNodeGroup(ctx, name+"-gpu", &eks.NodeGroupArgs{
		ClusterName:   e.ClusterName,
		NodeGroupName: pulumi.String("gpu"),
		NodeRoleArn:   nodeRole.role.Arn,
		SubnetIds:     subnetIDs,
		// The AL2023 NVIDIA AMI ships the driver and container toolkit; the
		// device plugin comes from the platform component.
		AmiType:       pulumi.String("AL2023_x86_64_NVIDIA"),
		InstanceTypes: pulumi.ToStringArray(ng.InstanceTypes),
		CapacityType:  pulumi.String(ng.CapacityType),
		DiskSize:      pulumi.Int(ng.DiskSizeGB),
		ScalingConfig: &eks.NodeGroupScalingConfigArgs{
			MinSize: pulumi.Int(ng.MinSize), MaxSize: pulumi.Int(ng.MaxSize), DesiredSize: pulumi.Int(ng.DesiredSize),
		},
		UpdateConfig: &eks.NodeGroupUpdateConfigArgs{MaxUnavailable: pulumi.Int(1)},
		Labels:       pulumi.ToStringMap(labels),
		Taints: eks.NodeGroupTaintArray{&eks.NodeGroupTaintArgs{
			Key: pulumi.String("nvidia.com/gpu"), Value: pulumi.String("true"), Effect: pulumi.String("NO_SCHEDULE"),
		}},
	}, append(child, pulumi.DependsOn(append(clusterDeps, nodeRole.attachments...)),
		// The cluster autoscaler owns the current size after creation.
		pulumi.IgnoreChanges([]string{"scalingConfig.desiredSize"}))...)
	if err != nil {
		return nil, err
	}

	if cfg.EBSCSIDriver {
		if err := ebsCSI(ctx, name, e.ClusterName, clusterDeps, child); err != nil {
			return nil, err
		}
	}

	e.Kubeconfig = pulumi.ToSecret(pulumi.All(e.ClusterName, endpoint, caData).ApplyT(func(v []any) string {
		return kube.Kubeconfig(v[0].(string), v[1].(string), v[2].(string), kube.ExecAuth{
			Command: "aws",
			Args:    []string{"eks", "get-token", "--cluster-name", v[0].(string), "--region", cfg.Region, "--output", "json"},
		})
	})).(pulumi.StringOutput)
	return e, ctx.RegisterResourceOutputs(e, pulumi.Map{"clusterName": e.ClusterName, "kubeconfig": e.Kubeconfig})
}

type created struct {
	cluster        *eks.Cluster
	system         *eks.NodeGroup
	privateSubnets pulumi.StringArray
}

func createCluster(ctx *pulumi.Context, name string, cfg spec.EKSConfig, child []pulumi.ResourceOption, invoke ...pulumi.InvokeOption) (*created, error) {
	zones := cfg.Cluster.AvailabilityZones
	if len(zones) == 0 {
		found, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{State: pulumi.StringRef("available")}, invoke...)
		if err != nil {
			return nil, fmt.Errorf("eks.cluster.availabilityZones: listing zones of %s: %w", cfg.Region, err)
		}
		if len(found.Names) < 2 {
			return nil, fmt.Errorf("eks.cluster.availabilityZones: region %s offers %d zones; EKS needs 2", cfg.Region, len(found.Names))
		}
		zones = found.Names[:2]
	}
	net, err := network(ctx, name, cfg, zones, child)
	if err != nil {
		return nil, err
	}
	clusterRole, err := role(ctx, name+"-cluster", "eks.amazonaws.com", []string{"AmazonEKSClusterPolicy"}, child)
	if err != nil {
		return nil, err
	}
	cluster, err := eks.NewCluster(ctx, name, &eks.ClusterArgs{
		Name:    pulumi.String(cfg.Cluster.Name),
		RoleArn: clusterRole.role.Arn,
		Version: pulumi.String(cfg.Cluster.Version),
		VpcConfig: &eks.ClusterVpcConfigArgs{
			SubnetIds:             append(append(pulumi.StringArray{}, net.private...), net.public...),
			EndpointPublicAccess:  pulumi.Bool(true),
			EndpointPrivateAccess: pulumi.Bool(true),
		},
		// Access entries (API) instead of the aws-auth ConfigMap; whoever
		// runs `pulumi up` is admin, plus the configured roles.
		AccessConfig: &eks.ClusterAccessConfigArgs{
			AuthenticationMode:                      pulumi.String("API"),
			BootstrapClusterCreatorAdminPermissions: pulumi.Bool(true),
		},
	}, append(child, pulumi.DependsOn(clusterRole.attachments))...)
	if err != nil {
		return nil, err
	}
	for i, arn := range cfg.Cluster.AdminRoleARNs {
		entry, err := eks.NewAccessEntry(ctx, fmt.Sprintf("%s-admin-%d", name, i), &eks.AccessEntryArgs{
			ClusterName: cluster.Name, PrincipalArn: pulumi.String(arn),
		}, child...)
		if err != nil {
			return nil, err
		}
		_, err = eks.NewAccessPolicyAssociation(ctx, fmt.Sprintf("%s-admin-%d", name, i), &eks.AccessPolicyAssociationArgs{
			ClusterName:  cluster.Name,
			PrincipalArn: entry.PrincipalArn,
			PolicyArn:    pulumi.String("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"),
			AccessScope:  &eks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String("cluster")},
		}, child...)
		if err != nil {
			return nil, err
		}
	}
	systemRole, err := role(ctx, name+"-system-node", "ec2.amazonaws.com",
		[]string{"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}, child)
	if err != nil {
		return nil, err
	}
	system, err := eks.NewNodeGroup(ctx, name+"-system", &eks.NodeGroupArgs{
		ClusterName:   cluster.Name,
		NodeGroupName: pulumi.String("system"),
		NodeRoleArn:   systemRole.role.Arn,
		SubnetIds:     net.private,
		AmiType:       pulumi.String("AL2023_x86_64_STANDARD"),
		InstanceTypes: pulumi.StringArray{pulumi.String(cfg.Cluster.SystemInstanceType)},
		ScalingConfig: &eks.NodeGroupScalingConfigArgs{
			MinSize:     pulumi.Int(cfg.Cluster.SystemNodeCount),
			MaxSize:     pulumi.Int(cfg.Cluster.SystemNodeCount + 2),
			DesiredSize: pulumi.Int(cfg.Cluster.SystemNodeCount),
		},
	}, append(child, pulumi.DependsOn(systemRole.attachments))...)
	if err != nil {
		return nil, err
	}
	return &created{cluster: cluster, system: system, privateSubnets: net.private}, nil
}

type subnets struct{ public, private pulumi.StringArray }

// network is a VPC with a public and a private subnet per zone, one NAT
// gateway for the private subnets, and the tags load balancers look for.
func network(ctx *pulumi.Context, name string, cfg spec.EKSConfig, zones []string, child []pulumi.ResourceOption) (*subnets, error) {
	clusterTag := "kubernetes.io/cluster/" + cfg.Cluster.Name
	vpc, err := ec2.NewVpc(ctx, name, &ec2.VpcArgs{
		CidrBlock:          pulumi.String(cfg.Cluster.VPCCIDR),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               pulumi.StringMap{"Name": pulumi.String(cfg.Cluster.Name)},
	}, child...)
	if err != nil {
		return nil, err
	}
	igw, err := ec2.NewInternetGateway(ctx, name, &ec2.InternetGatewayArgs{VpcId: vpc.ID()}, child...)
	if err != nil {
		return nil, err
	}
	public, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{
		VpcId:  vpc.ID(),
		Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()}},
	}, child...)
	if err != nil {
		return nil, err
	}
	var out subnets
	var natGateway *ec2.NatGateway
	for i, zone := range zones {
		pub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			AvailabilityZone:    pulumi.String(zone),
			CidrBlock:           subnetCIDR(vpc, 2*i),
			MapPublicIpOnLaunch: pulumi.Bool(true),
			Tags:                pulumi.StringMap{"kubernetes.io/role/elb": pulumi.String("1"), clusterTag: pulumi.String("shared")},
		}, child...)
		if err != nil {
			return nil, err
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId: pub.ID(), RouteTableId: public.ID(),
		}, child...); err != nil {
			return nil, err
		}
		if natGateway == nil {
			eip, err := ec2.NewEip(ctx, name+"-nat", &ec2.EipArgs{Domain: pulumi.String("vpc")}, child...)
			if err != nil {
				return nil, err
			}
			natGateway, err = ec2.NewNatGateway(ctx, name, &ec2.NatGatewayArgs{AllocationId: eip.ID(), SubnetId: pub.ID()},
				append(child, pulumi.DependsOn([]pulumi.Resource{igw}))...)
			if err != nil {
				return nil, err
			}
		}
		priv, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%d", name, i), &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			AvailabilityZone: pulumi.String(zone),
			CidrBlock:        subnetCIDR(vpc, 2*i+1),
			Tags:             pulumi.StringMap{"kubernetes.io/role/internal-elb": pulumi.String("1"), clusterTag: pulumi.String("shared")},
		}, child...)
		if err != nil {
			return nil, err
		}
		out.public = append(out.public, pub.ID())
		out.private = append(out.private, priv.ID())
	}
	private, err := ec2.NewRouteTable(ctx, name+"-private", &ec2.RouteTableArgs{
		VpcId:  vpc.ID(),
		Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), NatGatewayId: natGateway.ID()}},
	}, child...)
	if err != nil {
		return nil, err
	}
	for i, id := range out.private {
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%d", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId: id, RouteTableId: private.ID(),
		}, child...); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// subnetCIDR carves the n-th /20 out of the VPC's block (a /16 by default:
// 4096 addresses per subnet, room for pods with the VPC CNI).
func subnetCIDR(vpc *ec2.Vpc, n int) pulumi.StringOutput {
	return vpc.CidrBlock.ApplyT(func(cidr string) (string, error) {
		var a, b, c, d, bits int
		if _, err := fmt.Sscanf(cidr, "%d.%d.%d.%d/%d", &a, &b, &c, &d, &bits); err != nil || bits > 16 {
			return "", fmt.Errorf("eks.cluster.vpcCidr: %q must be a /16 or larger IPv4 block", cidr)
		}
		return fmt.Sprintf("%d.%d.%d.0/20", a, b, n*16), nil
	}).(pulumi.StringOutput)
}

type iamRole struct {
	role        *iam.Role
	attachments []pulumi.Resource
}

// role is an IAM role that service may assume, with AWS-managed policies.
func role(ctx *pulumi.Context, name, service string, policies []string, child []pulumi.ResourceOption) (*iamRole, error) {
	trust, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string]string{"Service": service},
			"Action":    []string{"sts:AssumeRole", "sts:TagSession"},
		}},
	})
	r, err := iam.NewRole(ctx, name, &iam.RoleArgs{AssumeRolePolicy: pulumi.String(trust)}, child...)
	if err != nil {
		return nil, err
	}
	out := &iamRole{role: r}
	for _, p := range policies {
		a, err := iam.NewRolePolicyAttachment(ctx, name+"-"+p, &iam.RolePolicyAttachmentArgs{
			Role: r.Name, PolicyArn: pulumi.String(awsManaged + p),
		}, child...)
		if err != nil {
			return nil, err
		}
		out.attachments = append(out.attachments, a)
	}
	return out, nil
}

// ebsCSI installs the EBS CSI driver add-on with EKS Pod Identity, without
// which no PersistentVolumeClaim binds on EKS.
func ebsCSI(ctx *pulumi.Context, name string, cluster pulumi.StringOutput, deps []pulumi.Resource, child []pulumi.ResourceOption) error {
	agent, err := eks.NewAddon(ctx, name+"-pod-identity-agent", &eks.AddonArgs{
		ClusterName: cluster, AddonName: pulumi.String("eks-pod-identity-agent"),
	}, append(child, pulumi.DependsOn(deps))...)
	if err != nil {
		return err
	}
	csiRole, err := role(ctx, name+"-ebs-csi", "pods.eks.amazonaws.com", []string{"service-role/AmazonEBSCSIDriverPolicy"}, child)
	if err != nil {
		return err
	}
	_, err = eks.NewAddon(ctx, name+"-ebs-csi", &eks.AddonArgs{
		ClusterName: cluster,
		AddonName:   pulumi.String("aws-ebs-csi-driver"),
		PodIdentityAssociations: eks.AddonPodIdentityAssociationArray{&eks.AddonPodIdentityAssociationArgs{
			RoleArn: csiRole.role.Arn, ServiceAccount: pulumi.String("ebs-csi-controller-sa"),
		}},
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
	}, append(child, pulumi.DependsOn(append([]pulumi.Resource{agent}, csiRole.attachments...)))...)
	return err
}
