package eks

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Where the Cluster Autoscaler's pod identity points: the chart must run its service account
// under these names (its rbac.serviceAccount.name, in the release's namespace).
const (
	ClusterAutoscalerNamespace      = "kube-system"
	ClusterAutoscalerServiceAccount = "cluster-autoscaler"
)

// Tag keys the Cluster Autoscaler reads on an Auto Scaling group
// (cluster-autoscaler/cloudprovider/aws/README.md at tag cluster-autoscaler-1.35.0).
const (
	// caTagPrefix + <cluster> marks the groups of one cluster; auto-discovery looks for it and
	// k8s.io/cluster-autoscaler/enabled. EKS puts both on every managed node group's group
	// ("Nodes launched as part of a managed node group are automatically tagged for
	// auto-discovery", docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html).
	caTagPrefix = "k8s.io/cluster-autoscaler/"
	// NodeTemplateTag prefixes what a node of an empty group would have: the autoscaler
	// cannot look at a node that does not exist, so it builds one from these tags
	// (resources/<name>, label/<key>, taint/<key> = <value>:<effect>).
	NodeTemplateTag = caTagPrefix + "node-template/"
)

// ClusterAutoscalerIdentity is what the Cluster Autoscaler's chart needs from AWS.
type ClusterAutoscalerIdentity struct {
	Namespace      string
	ServiceAccount string
	RoleARN        pulumi.StringOutput
	// Ready must exist before the autoscaler's pod starts: EKS injects pod identity
	// credentials only into pods created after their association.
	Ready []pulumi.Resource
}

// iamStatement and iamPolicy are an IAM policy document, as AWS spells it.
type (
	iamPolicy struct {
		Version   string         `json:"Version"`
		Statement []iamStatement `json:"Statement"`
	}
	iamStatement struct {
		Sid       string                       `json:"Sid"`
		Effect    string                       `json:"Effect"`
		Action    []string                     `json:"Action"`
		Resource  []string                     `json:"Resource"`
		Condition map[string]map[string]string `json:"Condition,omitempty"`
	}
)

// clusterAutoscalerPolicy is the least privilege the autoscaler needs with ASG auto-discovery
// (the AWS README's "Full Cluster Autoscaler Features Policy"), its two write actions narrowed
// by a tag condition as the README recommends: it may read every group, instance type and
// launch template, but change the size of, or terminate instances in, only the groups tagged
// k8s.io/cluster-autoscaler/<cluster> (whatever the tag's value: auto-discovery matches on
// the key too). eks:DescribeNodegroup lets it read a never-scaled managed group's labels and
// taints from EKS.
func clusterAutoscalerPolicy(cluster string) (string, error) {
	doc, err := json.Marshal(iamPolicy{Version: "2012-10-17", Statement: []iamStatement{
		{
			Sid: "Discover", Effect: "Allow", Resource: []string{"*"},
			Action: []string{
				"autoscaling:DescribeAutoScalingGroups",
				"autoscaling:DescribeAutoScalingInstances",
				"autoscaling:DescribeLaunchConfigurations",
				"autoscaling:DescribeScalingActivities",
				"ec2:DescribeImages",
				"ec2:DescribeInstanceTypes",
				"ec2:DescribeLaunchTemplateVersions",
				"ec2:GetInstanceTypesFromInstanceRequirements",
				"eks:DescribeNodegroup",
			},
		},
		{
			Sid: "ScaleThisClustersGroups", Effect: "Allow", Resource: []string{"*"},
			Action: []string{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"},
			// Null false: the tag is present. A group without it is refused.
			Condition: map[string]map[string]string{"Null": {"aws:ResourceTag/" + caTagPrefix + cluster: "false"}},
		},
	}})
	return string(doc), err
}

// GPUNodeTemplateTags are the tags that let the autoscaler scale the GPU node group up from
// zero nodes: the GPUs a node brings (nvidia.com/gpu, which the device plugin advertises
// only once the node runs), and the labels and taint the node group puts on its nodes, so
// that it knows a pending model pod (which selects GPUNodeLabel and tolerates GPUTaint) would
// fit. labels are the node group's labels. The autoscaler reads them in
// cloudprovider/aws/aws_manager.go at cluster-autoscaler-1.35.0: extractAllocatableResourcesFromAsg
// takes everything after ".../resources/" as the resource name (nvidia.com/gpu included), the
// taint tags' values split at the first ":" into value and effect. It places such a template node
// in the group's first zone (asg.AvailabilityZones[0]); docs/autoscaling.md says what that
// means for zonal cache claims.
func GPUNodeTemplateTags(gpusPerNode int, labels map[string]string) map[string]string {
	tags := map[string]string{
		NodeTemplateTag + "resources/nvidia.com/gpu": fmt.Sprint(gpusPerNode),
		NodeTemplateTag + "taint/" + GPUTaint.Key:    GPUTaint.Value + ":" + GPUTaint.Effect,
	}
	for k, v := range labels {
		tags[NodeTemplateTag+"label/"+k] = v
	}
	return tags
}

// tagGPUGroup puts GPUNodeTemplateTags on the node group's Auto Scaling group. Tags on an EKS
// node group are not copied to its group, so the group itself is tagged, one
// aws:autoscaling/Tag per key (the provider's resource for groups created outside it).
// PropagateAtLaunch is off: they describe the group to the autoscaler, the instances need
// none of them.
func tagGPUGroup(ctx *pulumi.Context, name string, ng *eks.NodeGroup, tags map[string]string, child []pulumi.ResourceOption) error {
	group := ng.Resources.ApplyT(func(rs []eks.NodeGroupResource) (string, error) {
		for _, r := range rs {
			for _, g := range r.AutoscalingGroups {
				if g.Name != nil && *g.Name != "" {
					return *g.Name, nil
				}
			}
		}
		return "", fmt.Errorf("eks.gpuNodeGroup: the node group reports no Auto Scaling group to tag for the cluster autoscaler")
	}).(pulumi.StringOutput)
	for _, key := range slices.Sorted(maps.Keys(tags)) {
		_, err := autoscaling.NewTag(ctx, name+"-"+key, &autoscaling.TagArgs{
			AutoscalingGroupName: group,
			Tag: &autoscaling.TagTagArgs{
				Key: pulumi.String(key), Value: pulumi.String(tags[key]), PropagateAtLaunch: pulumi.Bool(false),
			},
		}, child...)
		if err != nil {
			return err
		}
	}
	return nil
}

// clusterAutoscalerIdentity is the AWS side of the Cluster Autoscaler: a role that EKS Pod
// Identity hands to its service account, with clusterAutoscalerPolicy. deps (the pod
// identity agent, the nodes) come before the association, and the association before the
// chart.
func clusterAutoscalerIdentity(ctx *pulumi.Context, name string, cluster pulumi.StringOutput, deps []pulumi.Resource, child []pulumi.ResourceOption) (*ClusterAutoscalerIdentity, error) {
	id, err := podIdentity(ctx, name+"-cluster-autoscaler", cluster, ClusterAutoscalerNamespace, ClusterAutoscalerServiceAccount, &iam.PolicyArgs{
		Description: pulumi.String("Cluster Autoscaler: scales the Auto Scaling groups of this EKS cluster"),
		Policy:      cluster.ApplyT(clusterAutoscalerPolicy).(pulumi.StringOutput),
	}, deps, child)
	return (*ClusterAutoscalerIdentity)(id), err
}
