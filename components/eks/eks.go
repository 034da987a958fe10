// Package eks provides GPU capacity on Amazon EKS: it creates a cluster with
// its VPC and IAM (or adopts an existing cluster), adds a GPU managed node
// group on the AL2023 NVIDIA AMI, and installs the EBS CSI driver so cache
// claims bind. It hands back a kubeconfig; models select GPUNodeLabel=true.
// For the AWS Load Balancer Controller it creates the AWS side (an IAM role
// with the controller's published policy and a pod identity association);
// the platform component installs the chart. The Cluster Autoscaler gets the
// same treatment (autoscaler.go), and the GPU node group's Auto Scaling group
// the tags that let it scale from zero.
package eks

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/formertype"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// Type is the EKS component's type token.
const Type = "llm-platform:index:EKS"

// GPUNodeLabel is on every GPU node this component creates. It is the label
// the NVIDIA device plugin chart's default affinity requires, and the one
// the models select.
const GPUNodeLabel = "nvidia.com/gpu.present"

// AcceleratorLabel names a node's GPU for the Cluster Autoscaler on AWS (its GPULabel).
const AcceleratorLabel = "k8s.amazonaws.com/accelerator"

// acceleratorName is the GPU of the node group's first instance type as the capacity table
// names it ("nvidia-l4"), or "nvidia" for a type the table lacks: the autoscaler needs the
// label, its value only names the GPU in its own limits.
func acceleratorName(types []string) string {
	if len(types) > 0 {
		if t, ok := capacity.Lookup(capacity.EKS, types[0]); ok && t.Accelerator != "" {
			return "nvidia-" + strings.ToLower(t.Accelerator)
		}
	}
	return "nvidia"
}

// Where the AWS Load Balancer Controller's pod identity points: the chart
// must run its service account under these names.
const (
	LBControllerNamespace      = "kube-system"
	LBControllerServiceAccount = "aws-load-balancer-controller"
)

// lbControllerPolicy is the AWS Load Balancer Controller's published IAM
// policy, docs/install/iam_policy.json of kubernetes-sigs/aws-load-balancer-controller
// at tag v3.5.0 (the version versions.AWSLoadBalancerController installs),
// unchanged. Bump it with the chart.
//
//go:embed lbcontroller_iam_policy.json
var lbControllerPolicy string

// Args are the EKS settings of the stack.
type Args struct {
	Config Config `pulumi:"config"`
	// AWS are the stack's aws:* provider settings. The component's explicit
	// provider (which pins the region) would otherwise drop them, and the
	// kubeconfig's `aws eks get-token` needs the same identity.
	AWS AWSSettings `pulumi:"aws"`
	// ObjectReaders are the models that stream from S3, each given read access to exactly its
	// locations (weights.go).
	ObjectReaders []ObjectReader `pulumi:"objectReaders,optional"`
	// ClusterAutoscaler creates the Cluster Autoscaler's AWS side (its role and pod identity)
	// and tags the GPU node group's Auto Scaling group so that it scales from zero nodes;
	// the platform installs the chart. Resolved by the caller from Config.ClusterAutoscaler
	// (package stacks: on by default when the stack creates the cluster and a model autoscales).
	ClusterAutoscaler bool `pulumi:"clusterAutoscaler,optional"`
	// ScaleFromZero tags the GPU node group's Auto Scaling group with what its nodes offer
	// (GPUNodeTemplateTags), so that a cluster autoscaler, this one or the adopted cluster's
	// own, can scale it up from zero nodes. Implied by ClusterAutoscaler.
	ScaleFromZero bool `pulumi:"scaleFromZero,optional"`
	// OneGPUZone puts the GPU node group in one subnet (the first): set when a model scales to
	// zero. The autoscaler brings an empty group back only in its first zone, and a replica's
	// cache volume is zonal. Changing it replaces the GPU node group (delete first).
	OneGPUZone bool `pulumi:"oneGpuZone,optional"`
}

// AWSSettings are the parts of the stack's `aws:` config the component
// passes on; zero values are left to the AWS SDK's own chain.
type AWSSettings struct {
	Profile                string            `pulumi:"profile,optional"`
	AssumeRole             *AssumeRole       `pulumi:"assumeRole,optional"`
	DefaultTags            map[string]string `pulumi:"defaultTags,optional"`
	SharedCredentialsFiles []string          `pulumi:"sharedCredentialsFiles,optional"`
	SharedConfigFiles      []string          `pulumi:"sharedConfigFiles,optional"`
}

// AssumeRole is `aws:assumeRole`: the role every AWS call runs as.
type AssumeRole struct {
	RoleARN     string `pulumi:"roleArn"`
	ExternalID  string `pulumi:"externalId,optional"`
	SessionName string `pulumi:"sessionName,optional"`
	Duration    string `pulumi:"duration,optional"`
}

// EKS is the cluster and its GPU node group.
type EKS struct {
	pulumi.ResourceState

	ClusterName pulumi.StringOutput `pulumi:"clusterName"`
	// Kubeconfig authenticates with `aws eks get-token`; it is secret.
	Kubeconfig pulumi.StringOutput `pulumi:"kubeconfig"`
	// VpcID is the cluster's VPC: the created one, or the adopted cluster's.
	VpcID pulumi.StringOutput `pulumi:"vpcId"`
	// LBController is the AWS Load Balancer Controller's identity; nil when
	// eks.loadBalancerController is off.
	LBController *LBControllerIdentity
	// ObjectReaders are the models' S3 read identities, by ObjectReader.Name.
	ObjectReaders map[string]*ReaderIdentity
	// ClusterAutoscaler is the Cluster Autoscaler's identity; nil when Args.ClusterAutoscaler
	// is off.
	ClusterAutoscaler *ClusterAutoscalerIdentity
	// PrivateSubnetIDs are the subnets the nodes live in (created, or eks.cluster.subnetIds);
	// NodeSecurityGroupID is the cluster security group, which EKS puts on every managed node.
	// An RDS instance (EKS.RDS) lives in those subnets and admits that group.
	PrivateSubnetIDs    pulumi.StringArrayOutput
	NodeSecurityGroupID pulumi.StringOutput
	// provider is the component's AWS provider (the stack's region and identity).
	provider *aws.Provider
}

// GPUNodeSelector selects the GPU node group's nodes.
var GPUNodeSelector = map[string]string{GPUNodeLabel: "true"}

// GPUTaint is the taint on the GPU node group's nodes.
var GPUTaint = cluster.Taint{Key: "nvidia.com/gpu", Value: "true", Effect: "NoSchedule"}

// Cluster declares the Kubernetes provider for this cluster, named name (outside the
// component, so its URN does not depend on it), and returns the cluster as the application
// layer takes it.
func (e *EKS) Cluster(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (*cluster.Cluster, error) {
	taint := GPUTaint
	c, err := cluster.New(ctx, name, cluster.Args{
		Name: e.ClusterName, Kubeconfig: e.Kubeconfig, GPUNodeSelector: maps.Clone(GPUNodeSelector), GPUTaint: &taint,
	}, opts...)
	if err != nil {
		return nil, err
	}
	c.Kubeconfig = e.Kubeconfig
	for n, r := range e.ObjectReaders {
		if c.ObjectReaders == nil {
			c.ObjectReaders = map[string]cluster.ObjectReader{}
		}
		// Pod Identity binds the role to (namespace, ServiceAccount): no annotation.
		c.ObjectReaders[n] = cluster.ObjectReader{Env: r.Env, Ready: r.Ready}
	}
	return c, nil
}

// LBControllerIdentity is what the controller's chart needs from AWS.
type LBControllerIdentity struct {
	Namespace      string
	ServiceAccount string
	RoleARN        pulumi.StringOutput
	// Ready must exist before the controller's pods start: EKS injects pod
	// identity credentials only into pods created after their association.
	Ready []pulumi.Resource
}

const awsManaged = "arn:aws:iam::aws:policy/"

// New creates or adopts the cluster and adds the GPU node group.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*EKS, error) {
	cfg := args.Config
	e := &EKS{}
	if err := ctx.RegisterComponentResource(Type, name, e, formertype.Aliased(opts, formerType)...); err != nil {
		return nil, err
	}
	region, err := aws.NewProvider(ctx, name, providerArgs(cfg.Region, args.AWS), pulumi.Parent(e))
	if err != nil {
		return nil, err
	}
	// Every child runs against the stack's region, whatever the ambient
	// AWS configuration says.
	child := []pulumi.ResourceOption{pulumi.Parent(e), pulumi.Provider(region)}
	e.provider = region

	var endpoint, caData, version pulumi.StringOutput
	var subnetIDs pulumi.StringArrayInput
	var clusterDeps []pulumi.Resource
	var made *created
	if cfg.Cluster.Create {
		c, err := createCluster(ctx, name, cfg, child, pulumi.Parent(e), pulumi.Provider(region))
		if err != nil {
			return nil, err
		}
		made = c
		e.ClusterName, endpoint, caData = c.cluster.Name, c.cluster.Endpoint, c.cluster.CertificateAuthority.Data().Elem()
		e.VpcID, version = c.vpcID, c.cluster.Version
		subnetIDs, clusterDeps = c.privateSubnets, []pulumi.Resource{c.system, c.cni}
		e.PrivateSubnetIDs = c.privateSubnets.ToStringArrayOutput()
		e.NodeSecurityGroupID = c.cluster.VpcConfig.ClusterSecurityGroupId().Elem()
	} else {
		if len(cfg.Cluster.SubnetIDs) == 0 {
			return nil, fmt.Errorf("eks.cluster.subnetIds: is required when adopting cluster %q; list the private subnets the GPU nodes go in", cfg.Cluster.Name)
		}
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
		e.VpcID = pulumi.String(found.VpcConfig.VpcId).ToStringOutput()
		version = pulumi.String(found.Version).ToStringOutput()
		// The cluster's own subnets often include public ones, where nodes
		// without public IPs never join; the stack names private ones.
		subnetIDs = pulumi.ToStringArray(cfg.Cluster.SubnetIDs)
		e.PrivateSubnetIDs = pulumi.ToStringArray(cfg.Cluster.SubnetIDs).ToStringArrayOutput()
		e.NodeSecurityGroupID = pulumi.String(found.VpcConfig.ClusterSecurityGroupId).ToStringOutput()
	}

	if args.OneGPUZone {
		// The Cluster Autoscaler describes an empty group as a node in the group's first zone
		// (asg.AvailabilityZones[0], cloudprovider/aws/aws_manager.go at 1.35.0), and a model's
		// cache claim is an EBS volume, bound to one zone. Spread over two zones, the group
		// could never come back from zero for a replica whose claim is in the second one: the
		// GPU nodes of a stack with a model that scales to zero live in one zone.
		if cfg.Cluster.Create {
			subnetIDs = made.privateSubnets[:1]
		} else if len(cfg.Cluster.SubnetIDs) > 1 {
			subnetIDs = pulumi.ToStringArray(cfg.Cluster.SubnetIDs[:1])
			_ = ctx.Log.Warn(fmt.Sprintf("eks.cluster.subnetIds: the GPU node group uses only %s: a model scales to zero, and the "+
				"cluster autoscaler can bring back an empty group only in its first zone, where the model's EBS cache volumes must be", cfg.Cluster.SubnetIDs[0]), nil)
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
	// The Cluster Autoscaler knows a GPU node on AWS by this label (cloudprovider/aws, GPULabel):
	// without it, a new node whose device plugin has not yet offered nvidia.com/gpu looks like
	// one that does not fit, and a second node is started for the same pod.
	labels[AcceleratorLabel] = acceleratorName(ng.InstanceTypes)
	labels[GPUNodeLabel] = "true" // last: models and the device plugin rely on it
	gpuGroup, err := eks.NewNodeGroup(ctx, name+"-gpu", &eks.NodeGroupArgs{
		ClusterName:   e.ClusterName,
		NodeGroupName: pulumi.String("gpu"),
		NodeRoleArn:   nodeRole.role.Arn,
		SubnetIds:     subnetIDs,
		// The control plane's version: a control-plane upgrade rolls the
		// nodes to it too, instead of leaving them a version behind.
		Version: version,
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
			Key: pulumi.String(GPUTaint.Key), Value: pulumi.String(GPUTaint.Value), Effect: pulumi.String("NO_SCHEDULE"),
		}},
	}, append(child, pulumi.DependsOn(append(slices.Clone(clusterDeps), nodeRole.attachments...)),
		// Its name is fixed: a replacement (new subnets, instance types) must delete it first.
		pulumi.DeleteBeforeReplace(true),
		// The cluster autoscaler owns the current size after creation.
		pulumi.IgnoreChanges([]string{"scalingConfig.desiredSize"}))...)
	if err != nil {
		return nil, err
	}

	ebs := cfg.ForCreatedClusters(cfg.EBSCSIDriver)
	lb := cfg.ForCreatedClusters(cfg.LoadBalancerController)
	ca := args.ClusterAutoscaler
	// They and the models that read S3 get their AWS credentials through EKS Pod Identity,
	// whose agent an adopted cluster may already run (eks.podIdentityAgent).
	var agent []pulumi.Resource
	if (ebs || lb || ca || len(args.ObjectReaders) > 0) && cfg.ForCreatedClusters(cfg.PodIdentityAgent) {
		a, err := eks.NewAddon(ctx, name+"-pod-identity-agent", &eks.AddonArgs{
			ClusterName: e.ClusterName, AddonName: pulumi.String("eks-pod-identity-agent"),
		}, append(child, pulumi.DependsOn(clusterDeps))...)
		if err != nil {
			return nil, err
		}
		agent = []pulumi.Resource{a}
	}
	if ebs {
		if err := ebsCSI(ctx, name, e.ClusterName, agent, child); err != nil {
			return nil, err
		}
	}
	if lb {
		if e.LBController, err = lbControllerIdentity(ctx, name, e.ClusterName, append(slices.Clone(clusterDeps), agent...), child); err != nil {
			return nil, err
		}
	}
	if ca || args.ScaleFromZero {
		if err := tagGPUGroup(ctx, name+"-gpu", gpuGroup, GPUNodeTemplateTags(ng.GPUsPerNode, labels), child); err != nil {
			return nil, err
		}
	}
	if ca {
		if e.ClusterAutoscaler, err = clusterAutoscalerIdentity(ctx, name, e.ClusterName, append(slices.Clone(clusterDeps), agent...), child); err != nil {
			return nil, err
		}
	}

	if e.ObjectReaders, err = objectReaders(ctx, name, cfg.Region, e.ClusterName, args.ObjectReaders, append(slices.Clone(clusterDeps), agent...), child); err != nil {
		return nil, err
	}

	exec := getTokenArgs(cfg.Region, args.AWS)
	e.Kubeconfig = pulumi.ToSecret(pulumi.All(e.ClusterName, endpoint, caData).ApplyT(func(v []any) string {
		return kube.Kubeconfig(v[0].(string), v[1].(string), v[2].(string), kube.ExecAuth{
			Command: "aws",
			Args:    exec(v[0].(string)),
		})
	})).(pulumi.StringOutput)
	return e, ctx.RegisterResourceOutputs(e, pulumi.Map{"clusterName": e.ClusterName, "kubeconfig": e.Kubeconfig, "vpcId": e.VpcID})
}

// providerArgs is the component's AWS provider: the stack's region, and the
// stack's aws:* identity and tag settings an explicit provider does not
// inherit from the default one.
func providerArgs(region string, s AWSSettings) *aws.ProviderArgs {
	args := &aws.ProviderArgs{Region: pulumi.String(region)}
	if s.Profile != "" {
		args.Profile = pulumi.String(s.Profile)
	}
	if r := s.AssumeRole; r != nil {
		args.AssumeRole = &aws.ProviderAssumeRoleArgs{
			RoleArn:     pulumi.String(r.RoleARN),
			ExternalId:  optional(r.ExternalID),
			SessionName: optional(r.SessionName),
			Duration:    optional(r.Duration),
		}
	}
	if len(s.DefaultTags) > 0 {
		args.DefaultTags = &aws.ProviderDefaultTagsArgs{Tags: pulumi.ToStringMap(s.DefaultTags)}
	}
	if len(s.SharedCredentialsFiles) > 0 {
		args.SharedCredentialsFiles = pulumi.ToStringArray(s.SharedCredentialsFiles)
	}
	if len(s.SharedConfigFiles) > 0 {
		args.SharedConfigFiles = pulumi.ToStringArray(s.SharedConfigFiles)
	}
	return args
}

func optional(s string) pulumi.StringPtrInput {
	if s == "" {
		return nil
	}
	return pulumi.String(s)
}

// getTokenArgs are the `aws` CLI arguments that mint a cluster token as the
// identity Pulumi deploys with: the same profile and, when the stack
// assumes a role, that role (the cluster's creator and admin).
func getTokenArgs(region string, s AWSSettings) func(cluster string) []string {
	return func(cluster string) []string {
		args := []string{"eks", "get-token", "--cluster-name", cluster, "--region", region, "--output", "json"}
		if s.Profile != "" {
			args = append(args, "--profile", s.Profile)
		}
		if s.AssumeRole != nil {
			args = append(args, "--role-arn", s.AssumeRole.RoleARN)
		}
		return args
	}
}

type created struct {
	cluster        *eks.Cluster
	system         *eks.NodeGroup
	cni            *eks.Addon
	vpcID          pulumi.StringOutput
	privateSubnets pulumi.StringArray
}

// vpcCNIConfig is the vpc-cni add-on's configuration (its schema spells
// booleans as strings). enableNetworkPolicy turns on the network policy
// agent: without it NetworkPolicies are accepted but not enforced.
type vpcCNIConfig struct {
	EnableNetworkPolicy string `json:"enableNetworkPolicy"`
}

func createCluster(ctx *pulumi.Context, name string, cfg Config, child []pulumi.ResourceOption, invoke ...pulumi.InvokeOption) (*created, error) {
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
			// Who may reach the public endpoint; `pulumi up` itself must.
			PublicAccessCidrs: pulumi.ToStringArray(cfg.Cluster.PublicAccessCIDRs),
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
	if slices.Contains(cfg.Cluster.PublicAccessCIDRs, "0.0.0.0/0") {
		ctx.Log.Warn(fmt.Sprintf("eks.cluster.publicAccessCidrs: the API endpoint of cluster %q is open to the whole internet "+
			"(authenticated by IAM); narrow it to the networks that run pulumi and kubectl", cfg.Cluster.Name),
			&pulumi.LogArgs{Resource: cluster})
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
	// EKS installs the VPC CNI self-managed; taking it over as an add-on
	// (OVERWRITE: its objects already exist) sets enableNetworkPolicy before
	// any node joins, so the edge's NetworkPolicies are enforced from the
	// first pod on.
	cniConfig, err := json.Marshal(vpcCNIConfig{EnableNetworkPolicy: "true"})
	if err != nil {
		return nil, err
	}
	cni, err := eks.NewAddon(ctx, name+"-vpc-cni", &eks.AddonArgs{
		ClusterName:              cluster.Name,
		AddonName:                pulumi.String("vpc-cni"),
		ConfigurationValues:      pulumi.String(cniConfig),
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
	}, child...)
	if err != nil {
		return nil, err
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
		Version:       cluster.Version, // follows control-plane upgrades
		AmiType:       pulumi.String("AL2023_x86_64_STANDARD"),
		InstanceTypes: pulumi.StringArray{pulumi.String(cfg.Cluster.SystemInstanceType)},
		ScalingConfig: &eks.NodeGroupScalingConfigArgs{
			MinSize:     pulumi.Int(cfg.Cluster.SystemNodeCount),
			MaxSize:     pulumi.Int(cfg.Cluster.SystemNodeCount + 2),
			DesiredSize: pulumi.Int(cfg.Cluster.SystemNodeCount),
		},
	}, append(child, pulumi.DependsOn(append([]pulumi.Resource{cni}, systemRole.attachments...)))...)
	if err != nil {
		return nil, err
	}
	return &created{cluster: cluster, system: system, cni: cni, vpcID: net.vpcID, privateSubnets: net.private}, nil
}

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

// network is a VPC with a public and a private subnet per zone, one NAT
// gateway for the private subnets, and the tags load balancers look for.
func network(ctx *pulumi.Context, name string, cfg Config, zones []string, child []pulumi.ResourceOption) (*subnets, error) {
	clusterTag := "kubernetes.io/cluster/" + cfg.Cluster.Name
	block, err := netip.ParsePrefix(cfg.Cluster.VPCCIDR)
	if err != nil || !block.Addr().Is4() || block.Bits() != 16 {
		return nil, fmt.Errorf("eks.cluster.vpcCidr: %q must be an IPv4 /16", cfg.Cluster.VPCCIDR)
	}
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
	out := subnets{vpcID: vpc.ID().ToStringOutput()}
	var natGateway *ec2.NatGateway
	for i, zone := range zones {
		pub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			AvailabilityZone:    pulumi.String(zone),
			CidrBlock:           subnetCIDR(block, 2*i),
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
			CidrBlock:        subnetCIDR(block, 2*i+1),
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

// subnetCIDR carves the n-th /20 out of the VPC's /16 (checked with the
// config): 4096 addresses per subnet, room for pods with the VPC CNI.
func subnetCIDR(vpc netip.Prefix, n int) pulumi.String {
	a := vpc.Addr().As4()
	return pulumi.String(netip.PrefixFrom(netip.AddrFrom4([4]byte{a[0], a[1], byte(n * 16), 0}), 20).String())
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
// which no PersistentVolumeClaim binds on EKS. agent is the Pod Identity
// agent add-on, when this component installs it.
func ebsCSI(ctx *pulumi.Context, name string, cluster pulumi.StringOutput, agent []pulumi.Resource, child []pulumi.ResourceOption) error {
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
	}, append(child, pulumi.DependsOn(append(slices.Clone(agent), csiRole.attachments...)))...)
	return err
}

// lbControllerIdentity is the AWS side of the AWS Load Balancer Controller:
// a role that EKS Pod Identity hands to its service account, carrying the
// controller's published policy. deps (the pod identity agent, the nodes)
// come before the association, and the association before the chart.
func lbControllerIdentity(ctx *pulumi.Context, name string, cluster pulumi.StringOutput, deps []pulumi.Resource, child []pulumi.ResourceOption) (*LBControllerIdentity, error) {
	r, err := role(ctx, name+"-lb-controller", "pods.eks.amazonaws.com", nil, child)
	if err != nil {
		return nil, err
	}
	policy, err := iam.NewPolicy(ctx, name+"-lb-controller", &iam.PolicyArgs{
		Policy: pulumi.String(lbControllerPolicy),
	}, child...)
	if err != nil {
		return nil, err
	}
	attachment, err := iam.NewRolePolicyAttachment(ctx, name+"-lb-controller", &iam.RolePolicyAttachmentArgs{
		Role: r.role.Name, PolicyArn: policy.Arn,
	}, child...)
	if err != nil {
		return nil, err
	}
	assoc, err := eks.NewPodIdentityAssociation(ctx, name+"-lb-controller", &eks.PodIdentityAssociationArgs{
		ClusterName:    cluster,
		Namespace:      pulumi.String(LBControllerNamespace),
		ServiceAccount: pulumi.String(LBControllerServiceAccount),
		RoleArn:        r.role.Arn,
	}, append(child, pulumi.DependsOn(append(slices.Clone(deps), attachment)))...)
	if err != nil {
		return nil, err
	}
	return &LBControllerIdentity{
		Namespace:      LBControllerNamespace,
		ServiceAccount: LBControllerServiceAccount,
		RoleARN:        r.role.Arn,
		Ready:          []pulumi.Resource{assoc},
	}, nil
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:eks:EKS"
