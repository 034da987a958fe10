package eks

import (
	_ "embed"
	"encoding/json"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

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

// LBControllerIdentity is what the controller's chart needs from AWS.
type LBControllerIdentity struct {
	Namespace      string
	ServiceAccount string
	RoleARN        pulumi.StringOutput
	// Ready must exist before the controller's pods start: EKS injects pod
	// identity credentials only into pods created after their association.
	Ready []pulumi.Resource
}

// addOns gives the cluster's workloads what they need from AWS: the EBS CSI driver, the AWS
// side of the LB controller and of the Cluster Autoscaler (the platform installs their charts),
// the GPU group's scale-from-zero tags and the models' S3 read identities.
func (e *EKS) addOns(ctx *pulumi.Context, name string, args Args, cp *controlPlane, gpu *gpuGroup, child []pulumi.ResourceOption) error {
	cfg := args.Config
	ebs := cfg.ForCreatedClusters(cfg.EBSCSIDriver)
	lb := cfg.ForCreatedClusters(cfg.LoadBalancerController)
	ca := args.ClusterAutoscaler
	// They and the models that read S3 get their AWS credentials through EKS Pod Identity,
	// whose agent an adopted cluster may already run (eks.podIdentityAgent).
	var agent []pulumi.Resource
	if (ebs || lb || ca || len(args.ObjectReaders) > 0) && cfg.ForCreatedClusters(cfg.PodIdentityAgent) {
		a, err := podIdentityAgent(ctx, name, cp, child)
		if err != nil {
			return err
		}
		agent = []pulumi.Resource{a}
	}
	// A pod identity association waits for the nodes and the agent.
	identityDeps := append(slices.Clone(cp.ready), agent...)
	if ebs {
		if err := ebsCSI(ctx, name, cp.name, agent, child); err != nil {
			return err
		}
	}
	var err error
	if lb {
		if e.LBController, err = lbControllerIdentity(ctx, name, cp.name, identityDeps, child); err != nil {
			return err
		}
	}
	if ca || args.ScaleFromZero {
		if err := tagGPUGroup(ctx, name+"-gpu", gpu.group, GPUNodeTemplateTags(cfg.GPUNodeGroup.GPUsPerNode, gpu.labels), child); err != nil {
			return err
		}
	}
	if ca {
		if e.ClusterAutoscaler, err = clusterAutoscalerIdentity(ctx, name, cp.name, identityDeps, child); err != nil {
			return err
		}
	}
	e.ObjectReaders, err = objectReaders(ctx, name, cfg.Region, cp.name, args.ObjectReaders, identityDeps, child)
	return err
}

// podIdentityAgent installs the EKS Pod Identity agent add-on, which hands the roles of
// pod identity associations to their pods.
func podIdentityAgent(ctx *pulumi.Context, name string, cp *controlPlane, child []pulumi.ResourceOption) (pulumi.Resource, error) {
	return eks.NewAddon(ctx, name+"-pod-identity-agent", &eks.AddonArgs{
		ClusterName: cp.name, AddonName: pulumi.String("eks-pod-identity-agent"),
	}, append(child, pulumi.DependsOn(cp.ready))...)
}

// vpcCNIConfig is the vpc-cni add-on's configuration (its schema spells
// booleans as strings). enableNetworkPolicy turns on the network policy
// agent: without it NetworkPolicies are accepted but not enforced.
type vpcCNIConfig struct {
	EnableNetworkPolicy string `json:"enableNetworkPolicy"`
}

// vpcCNI takes over the VPC CNI, which EKS installs self-managed, as an add-on
// (OVERWRITE: its objects already exist). That sets enableNetworkPolicy before
// any node joins, so the edge's NetworkPolicies are enforced from the first pod on.
func vpcCNI(ctx *pulumi.Context, name string, cluster *eks.Cluster, child []pulumi.ResourceOption) (*eks.Addon, error) {
	cniConfig, err := json.Marshal(vpcCNIConfig{EnableNetworkPolicy: "true"})
	if err != nil {
		return nil, err
	}
	return eks.NewAddon(ctx, name+"-vpc-cni", &eks.AddonArgs{
		ClusterName:              cluster.Name,
		AddonName:                pulumi.String("vpc-cni"),
		ConfigurationValues:      pulumi.String(cniConfig),
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
	}, child...)
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
	id, err := podIdentity(ctx, name+"-lb-controller", cluster, LBControllerNamespace, LBControllerServiceAccount, &iam.PolicyArgs{
		Policy: pulumi.String(lbControllerPolicy),
	}, deps, child)
	return (*LBControllerIdentity)(id), err
}
