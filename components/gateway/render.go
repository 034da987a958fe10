// What the router runs: the nginx parameters the gateway's Args come to, and the ConfigMap of
// the files rendered from them.

package gateway

import (
	"fmt"
	"time"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/argcheck"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// params are the router's parameters for valid Args (validate) in the production pod: its
// ports, runtime and worker count, config.coldStartTimeout applied to the routes (holding),
// and the tenants' part (tenancy).
func (a Args) params(name string) (nginx.Params, error) {
	maxBody := resource.MustParse(a.Config.MaxBodySize)
	p := nginx.Params{
		Routes:        holding(a.Routes, a.Config),
		Listen:        fmt.Sprint(ContainerPort),
		MetricsListen: fmt.Sprint(MetricsPort),
		MaxBodySize:   maxBody.Value(),
		ProxyTimeout:  time.Duration(a.Config.TimeoutSeconds) * time.Second,
		MaxStreams:    a.Config.MaxStreamsPerPod,
		Runtime:       nginx.ProductionRuntime(configDir),
		Routing:       a.Config.Routing,
		HoldShare:     a.Config.HoldShare,
	}
	p.Runtime.WorkerProcesses = workers
	if err := a.tenancy(&p); err != nil {
		return p, argcheck.Invalid("Gateway", name, "limits", "%v", err)
	}
	return p, nil
}

// declareConfigMap declares the rendered files, which the pods mount at configDir.
func declareConfigMap(ctx *pulumi.Context, name, objName string, args Args, labels map[string]string,
	files map[string]string, parent pulumi.ResourceOption) (*corev1.ConfigMap, error) {
	return corev1.NewConfigMap(ctx, name, &corev1.ConfigMapArgs{
		Metadata: kube.Meta(objName, args.Namespace, labels),
		Data:     pulumi.ToStringMap(files),
	}, parent)
}
