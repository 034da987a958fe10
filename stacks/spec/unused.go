package spec

import (
	"reflect"

	"github.com/llm-platform/llm-platform/components/tenants"
)

// validateUnused refuses settings that would do nothing because another setting turns off
// what reads them: a stack that writes them means something the program would silently not
// do. Each names the switch to turn on, or says to remove the setting. (A model's own, such as
// autoscaling bounds while autoscaling is off, are model.Spec.Validate's.)
func validateUnused(p *problems, cfg *Config) {
	def := Defaults()
	deriveDefaults(&def)
	unusedWhile(p, "edge", cfg.Edge, def.Edge, !cfg.Edge.Enabled, "edge.enabled is false", "set edge.enabled: true")
	unusedWhile(p, "webui", cfg.WebUI, def.WebUI, !cfg.WebUI.Enabled, "webui.enabled is false", "set webui.enabled: true")
	unusedWhile(p, "observability", cfg.Observability, def.Observability, !cfg.Observability.Enabled,
		"observability.enabled is false", "set observability.enabled: true")
	unusedWhile(p, "gke", cfg.GKE, def.GKE, cfg.Cloud != CloudGKE, "cloud is "+cfg.Cloud, "set cloud: gke")
	unusedWhile(p, "eks", cfg.EKS, def.EKS, cfg.Cloud != CloudEKS, "cloud is "+cfg.Cloud, "set cloud: eks")
	unusedWhile(p, "existing", cfg.Existing, def.Existing, cfg.Cloud != CloudExisting, "cloud is "+cfg.Cloud, "set cloud: existing")
	validateUnusedHolds(p, cfg, def)
	if cfg.Platform.KEDA.PrometheusURL != "" && !cfg.Autoscales() {
		p.add("platform.keda.prometheusURL", "is set, but no model has autoscaling.enabled, so KEDA is not used; remove it or turn on a model's autoscaling")
	}
	if t, d := cfg.Tenancy, tenants.Defaults(); !t.HasLimits() {
		why := "no tenant has limits or budgets (only they are counted in Redis), so nothing reads it; add a tenant's limits, or remove it"
		if !reflect.DeepEqual(t.Redis, d.Redis) {
			p.add("tenancy.redis", "is set, but %s", why)
		}
		if t.OnRedisDown != d.OnRedisDown {
			p.add("tenancy.onRedisDown", "is set, but %s", why)
		}
	}
}

// validateUnusedHolds: the gateway holds requests only for models that scale to zero.
func validateUnusedHolds(p *problems, cfg *Config, def Config) {
	if cfg.ScalesToZero() {
		return
	}
	why := "no model scales to zero (models[].autoscaling with enabled: true and minReplicas: 0), so the gateway holds no request"
	if cfg.Gateway.ColdStartTimeout != def.Gateway.ColdStartTimeout {
		p.add("gateway.coldStartTimeout", "is set, but %s; remove it", why)
	}
	if cfg.Gateway.HoldShare != def.Gateway.HoldShare {
		p.add("gateway.holdShare", "is set, but %s; remove it", why)
	}
}

// unusedWhile refuses, when off, every key of got (a config struct) that differs from its
// default, except the switch "enabled": nothing reads them while off.
func unusedWhile(p *problems, path string, got, def any, off bool, because, fix string) {
	if !off {
		return
	}
	g, d := reflect.ValueOf(got), reflect.ValueOf(def)
	for i := range g.NumField() {
		key := jsonName(g.Type().Field(i))
		if key == "enabled" || key == "" || sameSetting(g.Field(i), d.Field(i)) {
			continue
		}
		p.add(path+"."+key, "is set, but %s, so nothing reads it; %s, or remove it", because, fix)
	}
}

// sameSetting is reflect.DeepEqual, except that an empty map or list equals an absent one: a
// stack that writes `nodeSelector: {}` or `null` has set nothing.
func sameSetting(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Map, reflect.Slice:
		if a.Len() == 0 && b.Len() == 0 {
			return true
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameSetting(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if !a.IsNil() && !b.IsNil() {
			return sameSetting(a.Elem(), b.Elem())
		}
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
