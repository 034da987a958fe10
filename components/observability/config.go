package observability

import (
	"time"

	prommodel "github.com/prometheus/common/model"
)

// The component's configuration types. Every field is plain Go, known at plan time: they
// decide which resources exist and what the rules say. The JSON names are the stack config's
// `observability` keys (package stacks/spec aliases these types).

// Config turns on metrics scraping, dashboards and alerts.
type Config struct {
	// Enabled declares the monitors, rules and dashboards (and, with Install, the stack).
	Enabled bool `json:"enabled" pulumi:"enabled"`
	// Namespace is where the monitoring stack runs (installed or existing): the dashboards'
	// ConfigMaps go there, and the app's NetworkPolicies let it scrape.
	Namespace string `json:"namespace" pulumi:"namespace"`
	// Install installs kube-prometheus-stack (and, on EKS, the DCGM exporter); false uses a
	// Prometheus operator, Prometheus and Grafana already in the cluster.
	Install bool `json:"install" pulumi:"install"`
	// MonitorLabels label the PodMonitor, ServiceMonitor and PrometheusRule so the Prometheus
	// selects them (kube-prometheus-stack selects `release: <its release name>`).
	MonitorLabels map[string]string `json:"monitorLabels" pulumi:"monitorLabels"`
	// DashboardLabels label the dashboards' ConfigMaps for Grafana's sidecar.
	DashboardLabels map[string]string `json:"dashboardLabels" pulumi:"dashboardLabels"`
	// DCGMExporter installs NVIDIA's DCGM exporter for GPU metrics (EKS only, with Install).
	DCGMExporter bool `json:"dcgmExporter" pulumi:"dcgmExporter"`
	// ScrapeControlPlane has the installed stack (Install) scrape kube-scheduler,
	// kube-controller-manager and etcd, and alert on them; nil: on for the existing cloud, off on
	// gke and eks, whose managed control planes keep them out of the cluster's reach.
	ScrapeControlPlane *bool `json:"scrapeControlPlane" pulumi:"scrapeControlPlane"`
	// ScrapeKubeProxy has the installed stack scrape kube-proxy and alert on it; nil: on for the
	// existing cloud, off on gke (Dataplane V2 runs no kube-proxy) and eks (kube-proxy serves its
	// metrics on 127.0.0.1 only).
	ScrapeKubeProxy *bool `json:"scrapeKubeProxy" pulumi:"scrapeKubeProxy"`
	// ScrapeInterval is how often Prometheus scrapes the models and the gateway ("15s").
	ScrapeInterval string `json:"scrapeInterval" pulumi:"scrapeInterval"`
	// Thresholds are the alerts' limits.
	Thresholds Thresholds `json:"thresholds" pulumi:"thresholds"`
}

// Thresholds are the limits the alerts fire at.
type Thresholds struct {
	// TTFTP95Seconds is the time-to-first-token p95 above which a model alerts; per model
	// (served name) in TTFTP95SecondsByModel.
	TTFTP95Seconds        float64            `json:"ttftP95Seconds" pulumi:"ttftP95Seconds"`
	TTFTP95SecondsByModel map[string]float64 `json:"ttftP95SecondsByModel" pulumi:"ttftP95SecondsByModel"`
	// QueueDepth is the waiting requests per model that, held for QueueMinutes, alert.
	QueueDepth   float64 `json:"queueDepth" pulumi:"queueDepth"`
	QueueMinutes int     `json:"queueMinutes" pulumi:"queueMinutes"`
	// Gateway5xxRatio is the share of gateway answers that are 5xx (over 5 minutes) that alerts.
	Gateway5xxRatio float64 `json:"gateway5xxRatio" pulumi:"gateway5xxRatio"`
	// KVCacheUsage is the KV-cache fill (0-1) that, with preemptions, alerts.
	KVCacheUsage float64 `json:"kvCacheUsage" pulumi:"kvCacheUsage"`
	// NoReplicaMinutes is how long a model may have no ready replica before it alerts (first
	// starts download weights: keep it above a normal start).
	NoReplicaMinutes int `json:"noReplicaMinutes" pulumi:"noReplicaMinutes"`
}

// TTFTThreshold is the TTFT p95 limit of one served model.
func (t Thresholds) TTFTThreshold(servedName string) float64 {
	if v, ok := t.TTFTP95SecondsByModel[servedName]; ok {
		return v
	}
	return t.TTFTP95Seconds
}

// ScrapeDuration is ScrapeInterval as a duration; 0 when it is not a Prometheus duration (the
// stack's validation reports that by key).
func (c Config) ScrapeDuration() time.Duration {
	d, err := prommodel.ParseDuration(c.ScrapeInterval)
	if err != nil {
		return 0
	}
	return time.Duration(d)
}
