// Package eks provides GPU capacity on Amazon EKS: it creates a cluster with
// its VPC and IAM (or adopts an existing cluster), adds a GPU managed node
// group on the AL2023 NVIDIA AMI, and installs the EBS CSI driver so cache
// claims bind. It hands back a kubeconfig; models select GPUNodeLabel=true.
// For the AWS Load Balancer Controller it creates the AWS side (an IAM role
// with the controller's published policy and a pod identity association);
// the add-ons component (components/addons) installs the chart. The Cluster Autoscaler gets the
// same treatment (autoscaler.go), and the GPU node group's Auto Scaling group
// the tags that let it scale from zero.
//
// New reads as its steps, each in the file of its concern: the control plane,
// created or adopted (cluster.go), with a created cluster's VPC (network.go);
// the node groups (nodegroups.go); the add-ons and workload identities
// (addons.go, autoscaler.go, objectstore.go) over IAM roles (iam.go); the AWS
// provider and the kubeconfig (provider.go).
package eks

import (
	"maps"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/internal/formertype"
)

// Type is the EKS component's type token.
const Type = "llm-platform:index:EKS"

// Args are the EKS settings of the stack.
type Args struct {
	Config Config `pulumi:"config"`
	// AWS are the stack's aws:* provider settings. The component's explicit
	// provider (which pins the region) would otherwise drop them, and the
	// kubeconfig's `aws eks get-token` needs the same identity.
	AWS AWSSettings `pulumi:"aws"`
	// ObjectReaders are the models that stream from S3, each given read access to exactly its
	// locations (objectstore.go).
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

// New creates or adopts the cluster, adds the GPU node group and gives the workloads what
// they need from AWS.
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
	e.provider = region
	// Every child runs against the stack's region, whatever the ambient
	// AWS configuration says.
	child := []pulumi.ResourceOption{pulumi.Parent(e), pulumi.Provider(region)}

	cp, err := newControlPlane(ctx, name, cfg, child, pulumi.Parent(e), pulumi.Provider(region))
	if err != nil {
		return nil, err
	}
	e.ClusterName, e.VpcID = cp.name, cp.vpcID
	e.PrivateSubnetIDs, e.NodeSecurityGroupID = cp.privateSubnets.ToStringArrayOutput(), cp.securityGroup
	gpu, err := gpuNodeGroup(ctx, name, cfg.GPUNodeGroup, cp, gpuSubnets(ctx, cfg, cp, args.OneGPUZone), child)
	if err != nil {
		return nil, err
	}
	if err := e.addOns(ctx, name, args, cp, gpu, child); err != nil {
		return nil, err
	}
	e.Kubeconfig = kubeconfig(cp, cfg.Region, args.AWS)
	return e, ctx.RegisterResourceOutputs(e, pulumi.Map{"clusterName": e.ClusterName, "kubeconfig": e.Kubeconfig, "vpcId": e.VpcID})
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:eks:EKS"
