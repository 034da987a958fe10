// The gateway of the application layer (Application) and what it scales and authenticates with.

package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/redis"
)

// declareGateway declares the gateway in front of mods, with the tenants' limits (tenancy) and
// the Redis it counts them in, if any, which Open WebUI may share.
func (l *layer) declareGateway(mods []*model.Model) (*gateway.Gateway, *redis.Redis, error) {
	cfg := l.cfg
	gwConfig := cfg.Gateway
	if !hasMetricsAPI(cfg) {
		// An autoscaler without the metrics API never scales: fixed replicas, like Istio's.
		gwConfig.MaxReplicas = gwConfig.Replicas
	}
	args := gateway.Args{Name: gateway.DefaultName, Config: gwConfig, Namespace: cfg.Namespace,
		Routes: l.routes(mods), Upstreams: upstreams(mods)}
	if cfg.Autoscales() {
		// KEDA is there (installed, or the cluster's own): held requests scale the gateway too.
		args.KEDA = &gateway.KEDA{PrometheusURL: cfg.PrometheusURL()}
		if l.plat.KEDA != nil {
			args.KEDA.DependsOn = []pulumi.Resource{l.plat.KEDA}
		}
	}
	if l.secrets.NumAPIKeys > 0 {
		args.APIKeys = l.secrets.GatewayAPIKeys
	}
	limitsRedis, err := tenancy(l.ctx, l.o.Prefix, cfg, l.secrets, l.cloud.LimitsRedis, &args, l.opts)
	if err != nil {
		return nil, nil, err
	}
	gw, err := gateway.New(l.ctx, l.o.Prefix+"gateway", args, l.opts...)
	return gw, limitsRedis, err
}
