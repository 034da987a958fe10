package addons

import (
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/internal/versions"
)

func release(ctx *pulumi.Context, name string, chart versions.Chart, namespace string, values any, opts ...pulumi.ResourceOption) (*helmv3.Release, error) {
	return releaseOf(ctx, name, chart, namespace, true, kube.Values(values), opts...)
}

// releaseOf declares a release of a pinned chart whose values may hold outputs (a cluster's
// name or VPC, from helmValues in an apply); createNamespace false for kube-system.
func releaseOf(ctx *pulumi.Context, name string, chart versions.Chart, namespace string, createNamespace bool, values pulumi.MapInput, opts ...pulumi.ResourceOption) (*helmv3.Release, error) {
	return helmv3.NewRelease(ctx, name, &helmv3.ReleaseArgs{
		Name:            pulumi.String(name),
		Chart:           pulumi.String(chart.Name),
		Version:         pulumi.String(chart.Version),
		RepositoryOpts:  &helmv3.RepositoryOptsArgs{Repo: pulumi.String(chart.Repo)},
		Namespace:       pulumi.String(namespace),
		CreateNamespace: pulumi.Bool(createNamespace),
		Atomic:          pulumi.Bool(true),
		CleanupOnFail:   pulumi.Bool(true),
		Timeout:         pulumi.Int(900),
		Values:          values,
	}, opts...)
}

// resources are a pod's requests and limits, as the charts' values spell them.
type resources struct {
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
}
