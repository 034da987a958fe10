package addons

import (
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// ClusterAutoscalerRelease is the Cluster Autoscaler's release name.
const ClusterAutoscalerRelease = "cluster-autoscaler"

// clusterAutoscalerCPU, clusterAutoscalerMemory are its pod's requests. The chart sets none
// (resources: {}); these are the requests of the autoscaler's own example manifests
// (cloudprovider/aws/examples), set so the pod is not BestEffort and the capacity check counts it.
const clusterAutoscalerCPU, clusterAutoscalerMemory = "100m", "600Mi"

// ClusterAutoscalerRequests are the Cluster Autoscaler pod's requests.
var ClusterAutoscalerRequests = capacity.MustParse(clusterAutoscalerCPU, clusterAutoscalerMemory)

// ClusterAutoscalerArgs install the Kubernetes Cluster Autoscaler (EKS), which adds nodes to
// the Auto Scaling groups it discovers when pods are pending and removes idle ones: the GPU
// node group follows the models' replicas, down to zero nodes. The AWS side (IAM role, pod
// identity association, the GPU group's tags) comes from the EKS component.
type ClusterAutoscalerArgs struct {
	// ClusterName picks the groups it manages: those tagged k8s.io/cluster-autoscaler/enabled
	// and k8s.io/cluster-autoscaler/<ClusterName>, which EKS puts on its managed node groups.
	ClusterName pulumi.StringInput
	// Region is the cluster's AWS region (AWS_REGION of the pod).
	Region string
	// Namespace and ServiceAccount are what the pod identity association names: the chart
	// creates that service account in the release's namespace.
	Namespace      string
	ServiceAccount string
	// DependsOn must exist before its pod starts: EKS injects pod identity credentials only
	// into pods created after the association.
	DependsOn []pulumi.Resource
}

// clusterAutoscalerValues are the chart's values we set, named as chart 9.59.0's values.yaml
// names them (kubernetes/autoscaler, cluster-autoscaler/charts/cluster-autoscaler).
type clusterAutoscalerValues struct {
	CloudProvider string `json:"cloudProvider"`
	AWSRegion     string `json:"awsRegion"`
	AutoDiscovery struct {
		// ClusterName turns on --node-group-auto-discovery=asg:tag=<the chart's default tags>.
		ClusterName string `json:"clusterName"`
	} `json:"autoDiscovery"`
	RBAC struct {
		ServiceAccount struct {
			Create bool   `json:"create"`
			Name   string `json:"name"`
		} `json:"serviceAccount"`
	} `json:"rbac"`
	// ExtraArgs become --key=value flags of the autoscaler.
	ExtraArgs map[string]string `json:"extraArgs"`
	Resources resources         `json:"resources"`
}

// clusterAutoscalerFlags are the autoscaler's flags we set. Each is the autoscaler's own
// default (FAQ.md, "What are the parameters to CA?", at cluster-autoscaler-1.35.0), stated
// because docs/autoscaling.md's cold-start and cost figures depend on them.
var clusterAutoscalerFlags = map[string]string{
	// Of the groups that fit a pending pod, the one that leaves the least CPU and memory idle:
	// never a GPU node for a pod that a system node would hold.
	"expander": "least-waste",
	// A GPU node no pod needs goes after 10 minutes: the idle cost after a model scales to zero.
	"scale-down-unneeded-time": "10m",
	// A GPU instance may take minutes to boot and register; past this the autoscaler gives up
	// on it and tries again.
	"max-node-provision-time": "15m",
}

// clusterAutoscaler installs the Cluster Autoscaler's pinned chart with auto-discovery of this
// cluster's Auto Scaling groups.
func clusterAutoscaler(ctx *pulumi.Context, args *ClusterAutoscalerArgs, opts ...pulumi.ResourceOption) (*helmv3.Release, error) {
	values := args.ClusterName.ToStringOutput().ApplyT(func(cluster string) (map[string]any, error) {
		var v clusterAutoscalerValues
		v.CloudProvider, v.AWSRegion = "aws", args.Region
		v.AutoDiscovery.ClusterName = cluster
		v.RBAC.ServiceAccount.Create, v.RBAC.ServiceAccount.Name = true, args.ServiceAccount
		v.ExtraArgs = clusterAutoscalerFlags
		v.Resources = resources{Requests: map[string]string{"cpu": clusterAutoscalerCPU, "memory": clusterAutoscalerMemory}}
		return kube.ValuesMap(v)
	}).(pulumi.MapOutput)
	return releaseOf(ctx, ClusterAutoscalerRelease, versions.ClusterAutoscaler, args.Namespace, false, values,
		append(opts, pulumi.DependsOn(args.DependsOn))...)
}
