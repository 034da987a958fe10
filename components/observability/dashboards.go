package observability

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
)

// Gateway metric names, as the dashboards and rules use them.
const (
	gatewayRequests    = nginx.MetricRequests
	gatewayRefused     = nginx.MetricRefused
	gatewayInFlight    = nginx.MetricInFlight
	gatewayEndpointIF  = nginx.MetricEndpointInFlight
	gatewayTTFB        = nginx.MetricTimeToFirstByte
	gatewayDuration    = nginx.MetricRequestDuration
	gatewayUpstreamErr = nginx.MetricUpstreamFailures
)

// Dashboard names (ConfigMap keys are <name>.json).
const (
	OverviewDashboard = "llm-platform-overview"
	ModelDashboard    = "llm-platform-model"
)

// MaxUIDLength is the longest dashboard UID Grafana accepts (its ErrDashboardUidTooLong,
// "uid too long, max 40 characters"); a provisioned dashboard with a longer one is skipped with
// only a log line.
const MaxUIDLength = 40

// uidHashLength is how many hex digits of the namespace's SHA-256 a shortened UID carries.
const uidHashLength = 8

// DashboardUID is dashboard name's UID for app namespace ns: "<name>-<ns>" when that fits
// MaxUIDLength (the UIDs of earlier releases, so links keep working), else "<name>-<start of
// ns>_<8 hex digits of sha256(ns)>", at most MaxUIDLength long (a dash where the namespace is cut
// is dropped). It depends on nothing but its inputs, so it is the same on every run; the "_",
// which no namespace contains, keeps a shortened UID from ever equalling a short namespace's.
func DashboardUID(name, ns string) string {
	if uid := name + "-" + ns; len(uid) <= MaxUIDLength {
		return uid
	}
	sum := sha256.Sum256([]byte(ns))
	keep := MaxUIDLength - len(name) - 2 - uidHashLength
	return name + "-" + strings.TrimRight(ns[:keep], "-") + "_" + hex.EncodeToString(sum[:])[:uidHashLength]
}

// rateInterval is Grafana's own step-aware range for rate(); the parser test stands in a
// real duration for it.
const rateInterval = "$__rate_interval"

// datasource is the dashboards' Prometheus, picked with the ${datasource} variable.
func datasource() common.DataSourceRef {
	t, uid := "prometheus", "${datasource}"
	return common.DataSourceRef{Type: &t, Uid: &uid}
}

// query is one PromQL target with its legend.
type query struct{ expr, legend string }

func q(expr, legend string) query { return query{expr, legend} }

func targets(qs []query) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(qs))
	for i, x := range qs {
		out[i] = prometheus.NewDataqueryBuilder().Expr(x.expr).LegendFormat(x.legend).RefId(string(rune('A' + i)))
	}
	return out
}

// timeSeries is a graph panel of width w (of 24) and height 8.
func timeSeries(title, description, unit string, w uint32, qs ...query) cog.Builder[dashboard.Panel] {
	b := timeseries.NewPanelBuilder().Title(title).Description(description).Unit(unit).
		Datasource(datasource()).Height(8).Span(w).Min(0)
	for _, t := range targets(qs) {
		b = b.WithTarget(t)
	}
	return b
}

// statPanel is a single-number panel of width w and height 4.
func statPanel(title, description, unit string, w uint32, x query) cog.Builder[dashboard.Panel] {
	b := stat.NewPanelBuilder().Title(title).Description(description).Unit(unit).
		Datasource(datasource()).Height(4).Span(w)
	for _, t := range targets([]query{x}) {
		b = b.WithTarget(t)
	}
	return b
}

// heatmapPanel shows a histogram's buckets over time.
func heatmapPanel(title, description string, w uint32, x query) cog.Builder[dashboard.Panel] {
	b := heatmap.NewPanelBuilder().Title(title).Description(description).
		Datasource(datasource()).Height(8).Span(w)
	t := prometheus.NewDataqueryBuilder().Expr(x.expr).LegendFormat(x.legend).RefId("A").Format(prometheus.PromQueryFormatHeatmap)
	return b.WithTarget(t)
}

func datasourceVariable() cog.Builder[dashboard.VariableModel] {
	return dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus")
}

// sel is a label matcher list for the platform's namespace plus extra matchers.
func sel(ns string, extra ...string) string {
	s := "namespace=" + promString(ns)
	for _, e := range extra {
		s += ", " + e
	}
	return "{" + s + "}"
}

func quantile(p float64, metric, by, selector string) string {
	return fmt.Sprintf(`histogram_quantile(%s, sum by (le, %s) (rate(%s_bucket%s[%s])))`, num(p), by, metric, selector, rateInterval)
}

// overview is every model at a glance.
func overview(ns, gatewayJob string) *dashboard.DashboardBuilder {
	s := sel(ns)
	m := VLLMModelLabel
	return dashboard.NewDashboardBuilder("LLM platform: overview ("+ns+")").
		Uid(DashboardUID(OverviewDashboard, ns)).
		Tags([]string{"llm-platform", "vllm", "gateway"}).
		Refresh("30s").Time("now-3h", "now").Timezone(common.TimeZoneBrowser).
		WithVariable(datasourceVariable()).
		WithRow(dashboard.NewRowBuilder("Traffic")).
		WithPanel(statPanel("Requests/s", "API requests the gateway routed, all models.", "reqps", 6,
			q(fmt.Sprintf(`sum(rate(%s{namespace=%s, outcome="routed"}[%s]))`, gatewayRequests, promString(ns), rateInterval), "routed"))).
		WithPanel(statPanel("Error ratio", "Share of API requests answered 5xx (gateway and model servers).", "percentunit", 6,
			q(fmt.Sprintf(`sum(rate(%[1]s{namespace=%[2]s, status_class="5xx"}[%[3]s])) / sum(rate(%[1]s%[4]s[%[3]s]))`, gatewayRequests, promString(ns), rateInterval, s), "5xx"))).
		WithPanel(statPanel("Running", "Requests vLLM is generating for, all models.", "short", 6,
			q(fmt.Sprintf(`sum(%s%s)`, VLLMRunning, s), "running"))).
		WithPanel(statPanel("Waiting", "Requests queued in vLLM, all models.", "short", 6,
			q(fmt.Sprintf(`sum(%s%s)`, VLLMWaiting, s), "waiting"))).
		WithPanel(timeSeries("Request rate by model", "Routed requests per second, by served model (gateway).", "reqps", 12,
			q(fmt.Sprintf(`sum by (%s) (rate(%s{namespace=%s, outcome="routed"}[%s]))`, GatewayModelLabel, gatewayRequests, promString(ns), rateInterval), "{{model}}"))).
		WithPanel(timeSeries("Error rate by model", "5xx answers per second by model, and refusals by reason (no model).", "reqps", 12,
			q(fmt.Sprintf(`sum by (%s) (rate(%s{namespace=%s, status_class="5xx"}[%s]))`, GatewayModelLabel, gatewayRequests, promString(ns), rateInterval), "5xx {{model}}"),
			q(fmt.Sprintf(`sum by (reason) (rate(%s%s[%s]))`, gatewayRefused, s, rateInterval), "refused: {{reason}}"))).
		WithRow(dashboard.NewRowBuilder("Latency and throughput")).
		WithPanel(timeSeries("Time to first token p50 / p95", "vLLM's TTFT by model.", "s", 12,
			q(quantile(0.5, VLLMTimeToFirstToken, m, s), "p50 {{model_name}}"),
			q(quantile(0.95, VLLMTimeToFirstToken, m, s), "p95 {{model_name}}"))).
		WithPanel(timeSeries("Tokens/s", "Generated and prompt tokens per second by model.", "short", 12,
			q(fmt.Sprintf(`sum by (%s) (rate(%s%s[%s]))`, m, VLLMGenerationTokens, s, rateInterval), "generated {{model_name}}"),
			q(fmt.Sprintf(`sum by (%s) (rate(%s%s[%s]))`, m, VLLMPromptTokens, s, rateInterval), "prompt {{model_name}}"))).
		WithRow(dashboard.NewRowBuilder("Capacity")).
		WithPanel(timeSeries("Queue", "Requests waiting for and running in vLLM's scheduler, by model.", "short", 8,
			q(fmt.Sprintf(`sum by (%s) (%s%s)`, m, VLLMWaiting, s), "waiting {{model_name}}"),
			q(fmt.Sprintf(`sum by (%s) (%s%s)`, m, VLLMRunning, s), "running {{model_name}}"))).
		WithPanel(timeSeries("KV-cache use", "Fullest replica's KV cache, by model (1 = full: preemptions follow).", "percentunit", 8,
			q(fmt.Sprintf(`max by (%s) (%s%s)`, m, VLLMKVCacheUsage, s), "{{model_name}}"))).
		WithPanel(timeSeries("GPU use", "GPU utilisation of the model pods (DCGM exporter; empty where none runs).", "percent", 8,
			q(fmt.Sprintf(`avg by (pod) (%s%s)`, DCGMGPUUtil, s), "{{pod}}"))).
		WithRow(dashboard.NewRowBuilder("Gateway")).
		WithPanel(timeSeries("Gateway in flight", "Requests in progress in the gateway, by model.", "short", 12,
			q(fmt.Sprintf(`sum by (%s) (%s%s)`, GatewayModelLabel, gatewayInFlight, s), "{{model}}"))).
		WithPanel(timeSeries("Gateway targets up", "Gateway pods Prometheus reaches, and model servers it could not.", "short", 12,
			q(fmt.Sprintf(`sum(%s{namespace=%s, job=%s})`, PrometheusUp, promString(ns), promString(gatewayJob)), "gateway pods up"),
			q(fmt.Sprintf(`sum by (%s) (rate(%s%s[%s]))`, GatewayModelLabel, gatewayUpstreamErr, s, rateInterval), "upstream failures {{model}}"))).
		WithPanel(timeSeries("Replica /metrics reads failing", "Failed reads of the replicas' /metrics by the gateway (a sidecar's 426, a 503, a timeout): "+
			"while they fail, routing sees only each gateway pod's own requests; and DNS queries for the replicas that failed.", "reqps", 12,
			q(fmt.Sprintf(`sum by (%s, reason) (rate(%s%s[%s]))`, GatewayModelLabel, nginx.MetricPollFailures, s, rateInterval), "poll {{reason}} {{model}}"),
			q(fmt.Sprintf(`sum by (%s, reason) (rate(%s%s[%s]))`, GatewayModelLabel, nginx.MetricDNSFailures, s, rateInterval), "dns {{reason}} {{model}}"))).
		WithPanel(timeSeries("Held and fallen back", "Requests held for models scaled to zero, held requests refused at the bound (per s), "+
			"and models whose requests go to their Service because the DNS answer is not trusted.", "short", 12,
			q(fmt.Sprintf(`sum by (%s) (%s%s)`, GatewayModelLabel, nginx.MetricHeld, s), "held {{model}}"),
			q(fmt.Sprintf(`sum(rate(%s{namespace=%s, reason=%q}[%s]))`, gatewayRefused, promString(ns), nginx.RefusedHoldFull, rateInterval), "refused: hold full"),
			q(fmt.Sprintf(`max by (%s) (%s%s)`, GatewayModelLabel, nginx.MetricServiceFallback, s), "fallback {{model}}")))
}

// modelDetail is one model in depth, picked with the $model variable.
func modelDetail(ns string) *dashboard.DashboardBuilder {
	vm := fmt.Sprintf(`%s="$model"`, VLLMModelLabel)
	gm := fmt.Sprintf(`%s="$model"`, GatewayModelLabel)
	s, g := sel(ns, vm), sel(ns, gm)
	m := VLLMModelLabel
	modelVar := dashboard.NewQueryVariableBuilder("model").Label("Model").
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(fmt.Sprintf(`label_values(%s%s, %s)`, VLLMRunning, sel(ns), m))}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged)
	return dashboard.NewDashboardBuilder("LLM platform: model ("+ns+")").
		Uid(DashboardUID(ModelDashboard, ns)).
		Tags([]string{"llm-platform", "vllm", "gateway"}).
		Refresh("30s").Time("now-3h", "now").Timezone(common.TimeZoneBrowser).
		WithVariable(datasourceVariable()).
		WithVariable(modelVar).
		WithRow(dashboard.NewRowBuilder("Latency")).
		WithPanel(heatmapPanel("Time to first token", "vLLM's TTFT histogram over time.", 12,
			q(fmt.Sprintf(`sum by (le) (rate(%s_bucket%s[%s]))`, VLLMTimeToFirstToken, s, rateInterval), "{{le}}"))).
		WithPanel(timeSeries("Inter-token latency p50 / p95 / p99", "Time between two generated tokens.", "s", 12,
			q(quantile(0.5, VLLMInterTokenLatency, m, s), "p50"),
			q(quantile(0.95, VLLMInterTokenLatency, m, s), "p95"),
			q(quantile(0.99, VLLMInterTokenLatency, m, s), "p99"))).
		WithPanel(timeSeries("End-to-end latency p50 / p95", "Whole request in vLLM.", "s", 8,
			q(quantile(0.5, VLLME2ELatency, m, s), "p50"),
			q(quantile(0.95, VLLME2ELatency, m, s), "p95"))).
		WithPanel(timeSeries("Queue time p95", "Time waiting for a scheduler slot.", "s", 8,
			q(quantile(0.95, VLLMQueueTime, m, s), "p95"))).
		WithPanel(timeSeries("Gateway first byte p95", "Time until the model server's first byte, seen by the gateway.", "s", 8,
			q(quantile(0.95, gatewayTTFB, GatewayModelLabel, g), "first byte p95"),
			q(quantile(0.95, gatewayDuration, GatewayModelLabel, g), "request p95"))).
		WithRow(dashboard.NewRowBuilder("Cache and scheduling")).
		WithPanel(timeSeries("Prefix-cache hit rate", "Share of prompt tokens found in the prefix cache.", "percentunit", 8,
			q(fmt.Sprintf(`sum(rate(%s%s[%s])) / sum(rate(%s%s[%s]))`, VLLMPrefixCacheHits, s, rateInterval, VLLMPrefixCacheQueries, s, rateInterval), "hit rate"))).
		WithPanel(timeSeries("Preemptions", "Requests preempted per second (KV cache full).", "short", 8,
			q(fmt.Sprintf(`sum(rate(%s%s[%s]))`, VLLMPreemptions, s, rateInterval), "preemptions/s"))).
		WithPanel(timeSeries("Finished requests", "Requests vLLM finished, by reason (stop, length, abort).", "reqps", 8,
			q(fmt.Sprintf(`sum by (finished_reason) (rate(%s%s[%s]))`, VLLMRequestSuccess, s, rateInterval), "{{finished_reason}}"))).
		WithRow(dashboard.NewRowBuilder("Replicas")).
		WithPanel(timeSeries("Load per replica", "Running and waiting requests per vLLM pod.", "short", 8,
			q(fmt.Sprintf(`sum by (pod) (%s%s)`, VLLMRunning, s), "running {{pod}}"),
			q(fmt.Sprintf(`sum by (pod) (%s%s)`, VLLMWaiting, s), "waiting {{pod}}"))).
		WithPanel(timeSeries("KV-cache use per replica", "KV-cache fill per vLLM pod.", "percentunit", 8,
			q(fmt.Sprintf(`max by (pod) (%s%s)`, VLLMKVCacheUsage, s), "{{pod}}"))).
		WithPanel(timeSeries("GPU per replica", "GPU utilisation and memory of each pod's GPUs (DCGM).", "percent", 8,
			// DCGM labels each GPU's series with the pod using it; keep this model's pods.
			q(fmt.Sprintf(`avg by (pod) (%s%s) and on (pod) max by (pod) (%s%s)`, DCGMGPUUtil, sel(ns), VLLMRunning, s), "util {{pod}}"))).
		WithRow(dashboard.NewRowBuilder("Gateway routing")).
		WithPanel(timeSeries("Routing outcomes", "The gateway's answers for this model, by outcome and status class.", "reqps", 12,
			q(fmt.Sprintf(`sum by (outcome, status_class) (rate(%s%s[%s]))`, gatewayRequests, g, rateInterval), "{{outcome}} {{status_class}}"),
			q(fmt.Sprintf(`sum by (reason) (rate(%s%s[%s]))`, gatewayUpstreamErr, g, rateInterval), "upstream failure: {{reason}}"))).
		WithPanel(timeSeries("In flight per endpoint", "Requests in progress per model server address.", "short", 12,
			q(fmt.Sprintf(`sum by (endpoint) (%s%s)`, gatewayEndpointIF, g), "{{endpoint}}")))
}

// Dashboard is one built dashboard.
type Dashboard struct {
	Name  string
	Model dashboard.Dashboard
}

// JSON is the dashboard as Grafana loads it.
func (d Dashboard) JSON() (string, error) {
	b, err := json.MarshalIndent(d.Model, "", "  ")
	return string(b), err
}

// Dashboards builds the platform's dashboards for the app namespace ns, whose gateway is
// scraped as Prometheus job gatewayJob.
func Dashboards(ns, gatewayJob string) ([]Dashboard, error) {
	var out []Dashboard
	for _, d := range []struct {
		name string
		b    *dashboard.DashboardBuilder
	}{{OverviewDashboard, overview(ns, gatewayJob)}, {ModelDashboard, modelDetail(ns)}, {UsageDashboard, usage(ns)}} {
		model, err := d.b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.name, err)
		}
		out = append(out, Dashboard{Name: d.name, Model: model})
	}
	return out, nil
}
