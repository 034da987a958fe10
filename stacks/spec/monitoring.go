package spec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	prommodel "github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/llm-platform/llm-platform/components/addons"
)

// validateClusterScrapes checks observability.scrapeControlPlane and scrapeKubeProxy, which
// span the observability settings and the cloud: those scrapes exist only in the installed
// kube-prometheus-stack, and a managed control plane has nothing for them to reach.
func validateClusterScrapes(p *problems, cfg *Config) {
	o := cfg.Observability
	if !o.Install {
		for _, s := range []struct {
			key string
			v   *bool
		}{{"observability.scrapeControlPlane", o.ScrapeControlPlane}, {"observability.scrapeKubeProxy", o.ScrapeKubeProxy}} {
			if s.v != nil {
				p.add(s.key, "is set, but only the installed kube-prometheus-stack (observability.install: true) has this scrape; "+
					"remove it and configure your own Prometheus's scrapes there")
			}
		}
		return
	}
	if v := o.ScrapeControlPlane; v != nil && *v && cfg.Cloud != CloudExisting {
		p.add("observability.scrapeControlPlane", "is true, but %s runs a managed control plane: its kube-scheduler, "+
			"kube-controller-manager and etcd are out of the cluster's reach, so KubeSchedulerDown and KubeControllerManagerDown "+
			"would fire for ever; remove it (null: off on gke and eks, on for existing)", cfg.Cloud)
	}
	if v := o.ScrapeKubeProxy; v != nil && *v && cfg.Cloud == CloudGKE && cfg.GKE.Cluster.Create {
		p.add("observability.scrapeKubeProxy", "is true, but the GKE cluster this stack creates runs Dataplane V2, which has "+
			"no kube-proxy, so KubeProxyDown would fire for ever; remove it (null: off on gke and eks, on for existing)")
	}
}

// validateObservability checks the observability settings (only when they are on: a stack
// that leaves observability off is not judged on settings it does not use).
func validateObservability(p *problems, cfg *Config) {
	o := cfg.Observability
	if !o.Enabled {
		return
	}
	if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
		p.add("observability.namespace", "%q is not a valid namespace name (%s)", o.Namespace, strings.Join(errs, "; "))
	} else if o.Namespace == cfg.Namespace {
		p.add("observability.namespace", "%q is the application namespace; give the monitoring stack its own (e.g. \"monitoring\"): "+
			"the app namespace's sidecars, mutual TLS and NetworkPolicies would fence Prometheus in", o.Namespace)
	}
	labels := func(key string, m map[string]string) {
		if len(m) == 0 {
			p.add(key, "is empty; set the labels your Prometheus (or Grafana's sidecar) selects on")
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				p.add(key+"."+k, "is not a valid label name (%s)", strings.Join(errs, "; "))
			}
			if errs := validation.IsValidLabelValue(m[k]); len(errs) > 0 {
				p.add(key+"."+k, "%q is not a valid label value (%s)", m[k], strings.Join(errs, "; "))
			}
		}
	}
	labels("observability.monitorLabels", o.MonitorLabels)
	labels("observability.dashboardLabels", o.DashboardLabels)
	validateClusterScrapes(p, cfg)
	if o.Install && len(o.DashboardLabels) > 1 {
		p.add("observability.dashboardLabels", "has %d labels, but the installed Grafana's sidecar looks for one; keep one (e.g. grafana_dashboard: \"1\")", len(o.DashboardLabels))
	}
	if o.Install && o.MonitorLabels["release"] != addons.MonitoringRelease {
		p.add("observability.monitorLabels.release", "is %q, but the installed Prometheus (observability.install: true) selects release: %q; "+
			"set it to %q or set install: false to use your own Prometheus", o.MonitorLabels["release"], addons.MonitoringRelease, addons.MonitoringRelease)
	}
	if d, err := prommodel.ParseDuration(o.ScrapeInterval); err != nil || time.Duration(d) < time.Second {
		p.add("observability.scrapeInterval", "%q is not a Prometheus duration of 1s or more; write it like \"15s\" or \"1m\"", o.ScrapeInterval)
	}
	validateThresholds(p, cfg)
}

// validateThresholds checks the alerts' thresholds.
func validateThresholds(p *problems, cfg *Config) {
	th := cfg.Observability.Thresholds
	if th.TTFTP95Seconds <= 0 {
		p.add("observability.thresholds.ttftP95Seconds", "is %v; use a positive number of seconds, e.g. 2", th.TTFTP95Seconds)
	}
	served := map[string]bool{}
	for _, m := range cfg.Models {
		served[m.ModelName] = true
	}
	for _, name := range slices.Sorted(maps.Keys(th.TTFTP95SecondsByModel)) {
		key := fmt.Sprintf("observability.thresholds.ttftP95SecondsByModel[%q]", name)
		if !served[name] {
			p.add(key, "names no model; use a models[].modelName")
		}
		if v := th.TTFTP95SecondsByModel[name]; v <= 0 {
			p.add(key, "is %v; use a positive number of seconds", v)
		}
	}
	if th.QueueDepth <= 0 {
		p.add("observability.thresholds.queueDepth", "is %v; use the waiting requests per model that should page, e.g. 10", th.QueueDepth)
	}
	if th.QueueMinutes < 1 {
		p.add("observability.thresholds.queueMinutes", "is %d; use 1 or more minutes", th.QueueMinutes)
	}
	if th.Gateway5xxRatio <= 0 || th.Gateway5xxRatio >= 1 {
		p.add("observability.thresholds.gateway5xxRatio", "is %v; use a fraction in (0, 1), e.g. 0.05", th.Gateway5xxRatio)
	}
	if th.KVCacheUsage <= 0 || th.KVCacheUsage > 1 {
		p.add("observability.thresholds.kvCacheUsage", "is %v; use a fraction in (0, 1], e.g. 0.95", th.KVCacheUsage)
	}
	if th.NoReplicaMinutes < 1 {
		p.add("observability.thresholds.noReplicaMinutes", "is %d; use 1 or more minutes (more than a model's normal start)", th.NoReplicaMinutes)
	}
}
