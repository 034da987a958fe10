package addons

import (
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// LBControllerRelease is the AWS Load Balancer Controller's release name.
const LBControllerRelease = "aws-load-balancer-controller"

// LBControllerArgs install the AWS Load Balancer Controller (EKS), which
// serves LoadBalancer Services annotated `aws-load-balancer-type: external`
// (the ingress gateway's NLB); the in-tree cloud provider ignores those.
// The AWS side (IAM role, pod identity association) comes from the EKS
// component.
type LBControllerArgs struct {
	ClusterName pulumi.StringInput
	// Region and VpcID spare the controller the instance metadata lookups,
	// which IMDSv2's hop limit can block from pods.
	Region string
	VpcID  pulumi.StringInput
	// Namespace and ServiceAccount are what the pod identity association
	// names: the chart creates that service account there.
	Namespace      string
	ServiceAccount string
	// DefaultTags go on every AWS resource the controller creates (the
	// stack's aws:defaultTags; tag policies may require them).
	DefaultTags map[string]string
	// DependsOn must exist before the controller's pods start: EKS injects
	// pod identity credentials only into pods created after the association.
	DependsOn []pulumi.Resource
}

// lbControllerValues are the chart's values we set, named as the chart
// (eks-charts aws-load-balancer-controller) names them.
type lbControllerValues struct {
	ClusterName    string `json:"clusterName"`
	Region         string `json:"region"`
	VpcID          string `json:"vpcId"`
	ServiceAccount struct {
		Create bool   `json:"create"`
		Name   string `json:"name"`
	} `json:"serviceAccount"`
	// The Service mutator webhook (failurePolicy Fail) sees every Service
	// created in the cluster and fails them while the controller is not
	// ready (its own install, upgrades). It only makes the controller the
	// default for un-annotated LoadBalancer Services; ours are annotated.
	EnableServiceMutatorWebhook bool              `json:"enableServiceMutatorWebhook"`
	DefaultTags                 map[string]string `json:"defaultTags,omitempty"`
}

// lbController installs the controller's pinned chart. The ingress gateway's
// release depends on it: Helm waits for the gateway Service's load balancer,
// which only the controller provides, and on destroy the Service (with the
// controller's finalizer) goes first, so the NLB is deleted, not leaked.
func lbController(ctx *pulumi.Context, args *LBControllerArgs, opts ...pulumi.ResourceOption) (*helmv3.Release, error) {
	values := pulumi.All(args.ClusterName, args.VpcID).ApplyT(func(v []any) (map[string]any, error) {
		var vals lbControllerValues
		vals.ClusterName, vals.Region, vals.VpcID = v[0].(string), args.Region, v[1].(string)
		vals.ServiceAccount.Create, vals.ServiceAccount.Name = true, args.ServiceAccount
		vals.DefaultTags = args.DefaultTags
		return kube.ValuesMap(vals)
	}).(pulumi.MapOutput)
	return releaseOf(ctx, LBControllerRelease, versions.AWSLoadBalancerController, args.Namespace, false, values,
		append(opts, pulumi.DependsOn(args.DependsOn))...)
}
