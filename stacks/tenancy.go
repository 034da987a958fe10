package stacks

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/redis"
	"github.com/llm-platform/llm-platform/components/tenants"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// LimitsRedisName names the in-cluster Redis the tenants' limits are counted in (shared with
// Open WebUI's replicas when both need one).
const LimitsRedisName = "llm-redis"

// tenancy maps tenancy and the tenants' keys onto the gateway's Args and declares the in-cluster
// Redis when a tenant has limits (returned, nil otherwise); managed is the cloud's instance
// (tenancy.redis.kind managed).
func tenancy(ctx *pulumi.Context, prefix string, cfg spec.Config, secrets spec.Secrets, managed *ManagedRedis, args *gateway.Args,
	opts []pulumi.ResourceOption) (*redis.Redis, error) {
	t := cfg.Tenancy
	args.Tenants, args.Prices = t.Gateway(), t.GatewayPrices()
	if len(secrets.TenantKeyCounts) > 0 {
		args.TenantKeys = secrets.TenantKeys
	}
	if cfg.WebUI.Enabled {
		args.ClientTenant = tenants.WebUI
	}
	if !t.HasLimits() {
		return nil, nil
	}
	limits := &gateway.Limits{FailClosed: t.OnRedisDown == tenants.FailClosed, KeyPrefix: t.Redis.KeyPrefix}
	args.Limits = limits
	switch t.Redis.Kind {
	case tenants.RedisExternal:
		limits.Address, limits.Password = pulumi.String(t.Redis.Address), secrets.GatewayRedisPassword
		if limits.KeyPrefix == "" {
			// Another stack may count in the same server; the in-cluster Redis is this stack's.
			limits.KeyPrefix = tenants.StackKeyPrefix(ctx.Project(), ctx.Stack())
		}
		if tls := t.Redis.TLS; tls.Enabled {
			limits.TLS = &gateway.RedisTLS{CACert: pulumi.String(tls.CACert), ServerName: tls.ServerName}
		}
		return nil, nil
	case tenants.RedisManaged:
		if managed == nil {
			return nil, fmt.Errorf("tenancy.redis.kind managed: the cloud created no instance (cloud gke or eks, without render.dir)")
		}
		// Always TLS; the certificate names the address's host (Memorystore's IP, ElastiCache's
		// endpoint), and chains to the instance's CA or, with none, to the public CAs.
		limits.Address, limits.Password = managed.Address, managed.Password
		limits.TLS = &gateway.RedisTLS{CACert: managed.CACert}
		return nil, nil
	case tenants.RedisInCluster:
		clients := []map[string]string{gateway.Selector(gateway.DefaultName)}
		if cfg.WebUI.Enabled {
			clients = append(clients, webui.Selector(webui.DefaultName))
		}
		r, err := redis.New(ctx, prefix+"redis", redis.Args{Name: LimitsRedisName, Namespace: cfg.Namespace, Clients: clients}, opts...)
		if err != nil {
			return nil, err
		}
		limits.Address, limits.Password = pulumi.String(fmt.Sprintf("%s:%d", r.Host, redis.Port)), r.Password
		return r, nil
	}
	return nil, fmt.Errorf("tenancy.redis.kind %q is not declared by this program yet", t.Redis.Kind)
}
