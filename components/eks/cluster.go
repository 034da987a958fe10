package eks

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// controlPlane is the cluster the GPU node group joins, created or adopted.
type controlPlane struct {
	name, endpoint, caData, version, vpcID pulumi.StringOutput
	// securityGroup is the cluster security group, which EKS puts on every managed node.
	securityGroup pulumi.StringOutput
	// privateSubnets are the subnets the nodes live in (created, or eks.cluster.subnetIds).
	privateSubnets pulumi.StringArray
	// ready is what the node groups and add-ons wait for: a created cluster's system nodes
	// and VPC CNI add-on; nothing on an adopted cluster.
	ready []pulumi.Resource
}

// newControlPlane creates the cluster, or looks up the one to adopt.
func newControlPlane(ctx *pulumi.Context, name string, cfg Config, child []pulumi.ResourceOption, invoke ...pulumi.InvokeOption) (*controlPlane, error) {
	if cfg.Cluster.Create {
		return createCluster(ctx, name, cfg, child, invoke...)
	}
	return adoptCluster(ctx, cfg, invoke...)
}

// adoptCluster reads an existing cluster. Its GPU nodes go in the private subnets the stack
// names: the cluster's own subnets often include public ones, where nodes without public IPs
// never join.
func adoptCluster(ctx *pulumi.Context, cfg Config, invoke ...pulumi.InvokeOption) (*controlPlane, error) {
	if len(cfg.Cluster.SubnetIDs) == 0 {
		return nil, fmt.Errorf("eks.cluster.subnetIds: is required when adopting cluster %q; list the private subnets the GPU nodes go in", cfg.Cluster.Name)
	}
	found, err := eks.LookupCluster(ctx, &eks.LookupClusterArgs{Name: cfg.Cluster.Name}, invoke...)
	if err != nil {
		return nil, fmt.Errorf("eks.cluster.name: cannot adopt cluster %q: %w", cfg.Cluster.Name, err)
	}
	if len(found.CertificateAuthorities) == 0 {
		return nil, fmt.Errorf("eks.cluster.name: cluster %q has no certificate authority yet; wait until it is ACTIVE", cfg.Cluster.Name)
	}
	return &controlPlane{
		name:           pulumi.String(found.Name).ToStringOutput(),
		endpoint:       pulumi.String(found.Endpoint).ToStringOutput(),
		caData:         pulumi.String(found.CertificateAuthorities[0].Data).ToStringOutput(),
		version:        pulumi.String(found.Version).ToStringOutput(),
		vpcID:          pulumi.String(found.VpcConfig.VpcId).ToStringOutput(),
		securityGroup:  pulumi.String(found.VpcConfig.ClusterSecurityGroupId).ToStringOutput(),
		privateSubnets: pulumi.ToStringArray(cfg.Cluster.SubnetIDs),
	}, nil
}

// createCluster creates the cluster in a VPC of its own (network.go), with admin access for
// the configured roles, the VPC CNI add-on and a system node group.
func createCluster(ctx *pulumi.Context, name string, cfg Config, child []pulumi.ResourceOption, invoke ...pulumi.InvokeOption) (*controlPlane, error) {
	zones := cfg.Cluster.AvailabilityZones
	if len(zones) == 0 {
		var err error
		if zones, err = gpuZones(ctx, cfg, invoke...); err != nil {
			return nil, err
		}
	}
	net, err := network(ctx, name, cfg, zones, child)
	if err != nil {
		return nil, err
	}
	cluster, err := newCluster(ctx, name, cfg.Cluster, net, child)
	if err != nil {
		return nil, err
	}
	if err := adminAccess(ctx, name, cluster, cfg.Cluster.AdminRoleARNs, child); err != nil {
		return nil, err
	}
	cni, err := vpcCNI(ctx, name, cluster, child)
	if err != nil {
		return nil, err
	}
	system, err := systemNodeGroup(ctx, name, cfg.Cluster, cluster, net.private, cni, child)
	if err != nil {
		return nil, err
	}
	return &controlPlane{
		name: cluster.Name, endpoint: cluster.Endpoint, caData: cluster.CertificateAuthority.Data().Elem(),
		version: cluster.Version, vpcID: net.vpcID,
		securityGroup:  cluster.VpcConfig.ClusterSecurityGroupId().Elem(),
		privateSubnets: net.private,
		ready:          []pulumi.Resource{system, cni},
	}, nil
}

// newCluster is the EKS control plane and its role, over both tiers of subnets.
func newCluster(ctx *pulumi.Context, name string, cfg ClusterConfig, net *subnets, child []pulumi.ResourceOption) (*eks.Cluster, error) {
	clusterRole, err := role(ctx, name+"-cluster", "eks.amazonaws.com", []string{"AmazonEKSClusterPolicy"}, child)
	if err != nil {
		return nil, err
	}
	cluster, err := eks.NewCluster(ctx, name, &eks.ClusterArgs{
		Name:    pulumi.String(cfg.Name),
		RoleArn: clusterRole.role.Arn,
		Version: pulumi.String(cfg.Version),
		VpcConfig: &eks.ClusterVpcConfigArgs{
			SubnetIds:             append(append(pulumi.StringArray{}, net.private...), net.public...),
			EndpointPublicAccess:  pulumi.Bool(true),
			EndpointPrivateAccess: pulumi.Bool(true),
			// Who may reach the public endpoint; `pulumi up` itself must.
			PublicAccessCidrs: pulumi.ToStringArray(cfg.PublicAccessCIDRs),
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
	if slices.Contains(cfg.PublicAccessCIDRs, "0.0.0.0/0") {
		ctx.Log.Warn(fmt.Sprintf("eks.cluster.publicAccessCidrs: the API endpoint of cluster %q is open to the whole internet "+
			"(authenticated by IAM); narrow it to the networks that run pulumi and kubectl", cfg.Name),
			&pulumi.LogArgs{Resource: cluster})
	}
	return cluster, nil
}

// adminAccess makes each of roles a cluster admin (an access entry with the cluster admin
// policy).
func adminAccess(ctx *pulumi.Context, name string, cluster *eks.Cluster, roles []string, child []pulumi.ResourceOption) error {
	for i, arn := range roles {
		entry, err := eks.NewAccessEntry(ctx, fmt.Sprintf("%s-admin-%d", name, i), &eks.AccessEntryArgs{
			ClusterName: cluster.Name, PrincipalArn: pulumi.String(arn),
		}, child...)
		if err != nil {
			return err
		}
		_, err = eks.NewAccessPolicyAssociation(ctx, fmt.Sprintf("%s-admin-%d", name, i), &eks.AccessPolicyAssociationArgs{
			ClusterName:  cluster.Name,
			PrincipalArn: entry.PrincipalArn,
			PolicyArn:    pulumi.String("arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"),
			AccessScope:  &eks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String("cluster")},
		}, child...)
		if err != nil {
			return err
		}
	}
	return nil
}
