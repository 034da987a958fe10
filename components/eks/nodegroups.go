package eks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/internal/capacity"
)

// GPUNodeLabel is on every GPU node this component creates. It is the label
// the NVIDIA device plugin chart's default affinity requires, and the one
// the models select.
const GPUNodeLabel = "nvidia.com/gpu.present"

// AcceleratorLabel names a node's GPU for the Cluster Autoscaler on AWS (its GPULabel).
const AcceleratorLabel = "k8s.amazonaws.com/accelerator"

// GPUNodeSelector selects the GPU node group's nodes.
var GPUNodeSelector = map[string]string{GPUNodeLabel: "true"}

// GPUTaint is the taint on the GPU node group's nodes.
var GPUTaint = cluster.Taint{Key: "nvidia.com/gpu", Value: "true", Effect: "NoSchedule"}

// nodePolicies are the AWS-managed policies of every node's role.
var nodePolicies = []string{"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}

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

// gpuGroup is the GPU node group and the labels its nodes get.
type gpuGroup struct {
	group  *eks.NodeGroup
	labels map[string]string
}

// gpuNodeLabels are the configured labels and the ones the component relies on.
func gpuNodeLabels(ng GPUNodeGroupConfig) map[string]string {
	labels := map[string]string{}
	for k, v := range ng.Labels {
		labels[k] = v
	}
	// The Cluster Autoscaler knows a GPU node on AWS by this label (cloudprovider/aws, GPULabel):
	// without it, a new node whose device plugin has not yet offered nvidia.com/gpu looks like
	// one that does not fit, and a second node is started for the same pod.
	labels[AcceleratorLabel] = acceleratorName(ng.InstanceTypes)
	labels[GPUNodeLabel] = "true" // last: models and the device plugin rely on it
	return labels
}

// gpuSubnets are the subnets of the GPU node group: the cluster's private ones, or with
// oneZone only the first. The Cluster Autoscaler describes an empty group as a node in the
// group's first zone (asg.AvailabilityZones[0], cloudprovider/aws/aws_manager.go at 1.35.0),
// and a model's cache claim is an EBS volume, bound to one zone. Spread over two zones, the
// group could never come back from zero for a replica whose claim is in the second one: the
// GPU nodes of a stack with a model that scales to zero live in one zone.
func gpuSubnets(ctx *pulumi.Context, cfg Config, cp *controlPlane, oneZone bool) pulumi.StringArray {
	if !oneZone {
		return cp.privateSubnets
	}
	if !cfg.Cluster.Create && len(cfg.Cluster.SubnetIDs) > 1 {
		_ = ctx.Log.Warn(fmt.Sprintf("eks.cluster.subnetIds: the GPU node group uses only %s: a model scales to zero, and the "+
			"cluster autoscaler can bring back an empty group only in its first zone, where the model's EBS cache volumes must be", cfg.Cluster.SubnetIDs[0]), nil)
	}
	return cp.privateSubnets[:1]
}

// gpuNodeGroup is the GPU managed node group, on the AL2023 NVIDIA AMI, in subnets.
func gpuNodeGroup(ctx *pulumi.Context, name string, ng GPUNodeGroupConfig, cp *controlPlane, subnets pulumi.StringArray, child []pulumi.ResourceOption) (*gpuGroup, error) {
	nodeRole, err := role(ctx, name+"-gpu-node", "ec2.amazonaws.com", nodePolicies, child)
	if err != nil {
		return nil, err
	}
	labels := gpuNodeLabels(ng)
	group, err := eks.NewNodeGroup(ctx, name+"-gpu", &eks.NodeGroupArgs{
		ClusterName:   cp.name,
		NodeGroupName: pulumi.String("gpu"),
		NodeRoleArn:   nodeRole.role.Arn,
		SubnetIds:     subnets,
		// The control plane's version: a control-plane upgrade rolls the
		// nodes to it too, instead of leaving them a version behind.
		Version: cp.version,
		// The AL2023 NVIDIA AMI ships the driver and container toolkit; the
		// device plugin comes from the add-ons component (components/addons).
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
	}, append(child, pulumi.DependsOn(append(slices.Clone(cp.ready), nodeRole.attachments...)),
		// Its name is fixed: a replacement (new subnets, instance types) must delete it first.
		pulumi.DeleteBeforeReplace(true),
		// The cluster autoscaler owns the current size after creation.
		pulumi.IgnoreChanges([]string{"scalingConfig.desiredSize"}))...)
	if err != nil {
		return nil, err
	}
	return &gpuGroup{group: group, labels: labels}, nil
}

// systemNodeGroup is a created cluster's node group for everything but the models. It waits
// for the VPC CNI add-on, so its nodes join with NetworkPolicies enforced.
func systemNodeGroup(ctx *pulumi.Context, name string, cfg ClusterConfig, cluster *eks.Cluster, subnets pulumi.StringArray, cni *eks.Addon, child []pulumi.ResourceOption) (*eks.NodeGroup, error) {
	systemRole, err := role(ctx, name+"-system-node", "ec2.amazonaws.com", nodePolicies, child)
	if err != nil {
		return nil, err
	}
	return eks.NewNodeGroup(ctx, name+"-system", &eks.NodeGroupArgs{
		ClusterName:   cluster.Name,
		NodeGroupName: pulumi.String("system"),
		NodeRoleArn:   systemRole.role.Arn,
		SubnetIds:     subnets,
		Version:       cluster.Version, // follows control-plane upgrades
		AmiType:       pulumi.String("AL2023_x86_64_STANDARD"),
		InstanceTypes: pulumi.StringArray{pulumi.String(cfg.SystemInstanceType)},
		ScalingConfig: &eks.NodeGroupScalingConfigArgs{
			MinSize:     pulumi.Int(cfg.SystemNodeCount),
			MaxSize:     pulumi.Int(cfg.SystemNodeCount + 2),
			DesiredSize: pulumi.Int(cfg.SystemNodeCount),
		},
	}, append(child, pulumi.DependsOn(append([]pulumi.Resource{cni}, systemRole.attachments...)))...)
}
