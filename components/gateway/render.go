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

// pendingRedis stands in for a limits' Redis address that is another resource's output while
// the files are checked at plan time; never rendered into what the pods run.
const pendingRedis = "redis.pending.invalid:6379"

// known returns in's value when it is a plain string; def when it is nil or another
// resource's output (not known at plan time).
func known(in pulumi.StringInput, def string) string {
	if v, ok := in.(pulumi.String); ok {
		return string(v)
	}
	return def
}

// renderFiles renders the router's files. params are checked and rendered now, so every
// mistake is an error before anything is declared; when the limits' Redis address or CA is
// another resource's output (a managed Redis the stack creates), the files are rendered again
// with the real values once they are known. Plain values give the same files either way.
func (a Args) renderFiles(params nginx.Params) (pulumi.StringMapOutput, error) {
	planned, err := nginx.Generate(params)
	if err != nil {
		return pulumi.StringMapOutput{}, err
	}
	if a.Limits == nil || !params.HasLimits() {
		return pulumi.ToStringMap(planned).ToStringMapOutput(), nil
	}
	var ca pulumi.StringInput = pulumi.String("")
	if a.Limits.TLS != nil && a.Limits.TLS.CACert != nil {
		ca = a.Limits.TLS.CACert
	}
	return pulumi.All(a.Limits.Address, ca).ApplyT(func(v []any) (map[string]string, error) {
		p := params
		p.Limits.Redis = v[0].(string)
		if t := p.Limits.TLS; t != nil {
			tls := *t
			tls.CACert = v[1].(string)
			p.Limits.TLS = &tls
		}
		return nginx.Generate(p)
	}).(pulumi.StringMapOutput), nil
}

// declareConfigMap declares the rendered files, which the pods mount at configDir.
func declareConfigMap(ctx *pulumi.Context, name, objName string, args Args, labels map[string]string,
	files pulumi.StringMapOutput, parent pulumi.ResourceOption) (*corev1.ConfigMap, error) {
	return corev1.NewConfigMap(ctx, name, &corev1.ConfigMapArgs{
		Metadata: kube.Meta(objName, args.Namespace, labels),
		Data:     files,
	}, parent)
}
