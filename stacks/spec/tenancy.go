package spec

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/llm-platform/llm-platform/components/tenants"
)

// TenancyConfig is the `tenancy` key: the teams sharing the platform (components/tenants).
type TenancyConfig = tenants.Config

// servedNames are every served model and adapter name.
func (c Config) servedNames() []string {
	var out []string
	for _, m := range c.Models {
		out = append(out, m.ModelName)
		for _, l := range m.LoRAs {
			out = append(out, l.Name)
		}
	}
	return out
}

func validateTenancy(p *problems, cfg *Config) {
	*p = append(*p, cfg.Tenancy.Validate("tenancy", cfg.servedNames())...)
}

// checkTenantKeys checks the tenants against their keys (counts only: the keys themselves
// were checked for duplicates when read). A declared tenant needs keys, except the reserved
// ones, whose keys come from elsewhere; the in-cluster and managed Redis need nothing (their
// passwords are their own), an external one its password.
func checkTenantKeys(cfg Config, s Secrets) []error {
	var errs []error
	for i, t := range cfg.Tenancy.Tenants {
		switch {
		case t.Name == tenants.Default && s.NumAPIKeys == 0:
			errs = append(errs, fmt.Errorf("tenancy.tenants[%d]: tenant %q has no keys: its keys are gatewayApiKeys", i, t.Name))
		case t.Name == tenants.WebUI && !cfg.WebUI.Enabled:
			errs = append(errs, fmt.Errorf("tenancy.tenants[%d]: tenant %q is Open WebUI's, and webui.enabled is false", i, t.Name))
		case t.Name != tenants.Default && t.Name != tenants.WebUI && s.TenantKeyCounts[t.Name] == 0:
			errs = append(errs, fmt.Errorf("tenancy.tenants[%d]: tenant %q has no keys; set them with `pulumi config set --secret --path '%s.%s[0]' <key>`",
				i, t.Name, keyGatewayTenantKeys, t.Name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.TenantKeyCounts)) {
		// A tenant with keys but no policy is a tenant all the same: its name labels metrics and
		// keys Redis counters (unescaped), as a declared one's does.
		if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s.%q: the tenant name is not a DNS-1123 label (%s); it names the tenant in metrics and counters, rename it",
				keyGatewayTenantKeys, name, strings.Join(msgs, "; ")))
		} else if name == tenants.Default || name == tenants.WebUI {
			errs = append(errs, fmt.Errorf("%s.%s: %q is reserved (gatewayApiKeys are %q's keys; Open WebUI's key is generated)",
				keyGatewayTenantKeys, name, name, tenants.Default))
		}
	}
	external := cfg.Tenancy.HasLimits() && cfg.Tenancy.Redis.Kind == tenants.RedisExternal
	if external && !s.HasGatewayRedisPassword {
		errs = append(errs, fmt.Errorf("%s: is required with tenancy.redis.kind external (the server's password)", keyGatewayRedisPassword))
	} else if !external && s.HasGatewayRedisPassword && cfg.Tenancy.HasLimits() && cfg.Tenancy.Redis.Kind == tenants.RedisManaged {
		errs = append(errs, fmt.Errorf("%s: is set, but tenancy.redis.kind is managed: the gateway gets the instance's own password (Memorystore's "+
			"AUTH string, ElastiCache's generated auth token); remove it (`pulumi config rm %s`)", keyGatewayRedisPassword, keyGatewayRedisPassword))
	} else if !external && s.HasGatewayRedisPassword {
		errs = append(errs, fmt.Errorf("%s: is set, but only an external Redis (tenancy.redis.kind external, for tenants with limits or budgets) reads it; "+
			"remove it (`pulumi config rm %s`)", keyGatewayRedisPassword, keyGatewayRedisPassword))
	}
	return errs
}
