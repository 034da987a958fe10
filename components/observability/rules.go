package observability

import (
	"fmt"
	"strconv"
	"strings"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
)

// Alert names. docs/observability.md has a runbook section per alert (a test checks it).
const (
	AlertModelNoReadyReplica = "LLMModelNoReadyReplica"
	AlertGateway5xxRatio     = "LLMGatewayHigh5xxRatio"
	AlertTTFTHigh            = "LLMModelTTFTHigh"
	AlertQueueHigh           = "LLMModelQueueHigh"
	AlertKVCacheFull         = "LLMModelKVCacheFullPreempting"
	AlertGatewayDown         = "LLMGatewayDown"
	// AlertTenantBudget: a tenant has used 80% of a token budget.
	AlertTenantBudget = "LLMTenantBudget80Percent"
	// AlertLimitsStoreDown: a gateway pod cannot reach the Redis its tenants' limits are counted in.
	AlertLimitsStoreDown = "LLMGatewayLimitsStoreDown"
)

// Alerts are every alert name, in runbook order.
var Alerts = []string{AlertModelNoReadyReplica, AlertGateway5xxRatio, AlertTTFTHigh, AlertQueueHigh, AlertKVCacheFull, AlertGatewayDown,
	AlertTenantBudget, AlertLimitsStoreDown}

// DefaultRunbookURL is where each alert's runbook_url points (with "#<alert name in lower case>").
const DefaultRunbookURL = "https://github.com/llm-platform/llm-platform/blob/main/docs/observability.md"

// promString is a PromQL string literal (double-quoted, Go escapes: PromQL reads them).
func promString(s string) string { return strconv.Quote(s) }

func dur(minutes int) *monv1.Duration {
	d := monv1.Duration(fmt.Sprintf("%dm", minutes))
	return &d
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// ruleGroups are the alerting rules of one platform: its models, its gateway, in namespace ns.
func ruleGroups(args *Args) []monv1.RuleGroup {
	r := rules{args: args, ns: promString(args.Namespace), th: args.Config.Thresholds}
	return []monv1.RuleGroup{
		{Name: "llm-platform.models", Rules: r.models()},
		{Name: "llm-platform.gateway", Rules: r.gateway()},
	}
}

// rules writes the alerts of one platform.
type rules struct {
	args *Args
	ns   string // the namespace as a PromQL string
	th   Thresholds
}

// alert is one alerting rule, its runbook the section of the alert's name.
func (r rules) alert(name, expr string, forMinutes int, severity, summary, description string, labels map[string]string) monv1.Rule {
	l := map[string]string{"severity": severity}
	for k, v := range labels {
		l[k] = v
	}
	return monv1.Rule{
		Alert:  name,
		Expr:   intstr.FromString(expr),
		For:    dur(forMinutes),
		Labels: l,
		Annotations: map[string]string{
			"summary":     summary,
			"description": description,
			"runbook_url": r.args.RunbookURL + "#" + strings.ToLower(name),
		},
	}
}

// models are the models' alerts: no ready replica, a long queue, a full KV cache, a slow
// first token.
func (r rules) models() []monv1.Rule {
	out := append(r.noReadyReplica(),
		r.alert(AlertQueueHigh,
			fmt.Sprintf(`sum by (%s) (%s{namespace=%s}) > %s`, VLLMModelLabel, VLLMWaiting, r.ns, num(r.th.QueueDepth)),
			r.th.QueueMinutes, "warning",
			"Model {{ $labels.model_name }} has {{ $value }} requests waiting",
			fmt.Sprintf("More than %s requests have waited for a slot in vLLM's scheduler for %d minutes: the model needs more replicas (or a smaller max-model-len).", num(r.th.QueueDepth), r.th.QueueMinutes),
			nil),
		r.alert(AlertKVCacheFull,
			fmt.Sprintf(`max by (%[1]s) (%[2]s{namespace=%[3]s}) > %[4]s and on (%[1]s) sum by (%[1]s) (rate(%[5]s{namespace=%[3]s}[5m])) > 0`,
				VLLMModelLabel, VLLMKVCacheUsage, r.ns, num(r.th.KVCacheUsage), VLLMPreemptions),
			5, "warning",
			"Model {{ $labels.model_name }}: KV cache above "+num(r.th.KVCacheUsage*100)+"% and preempting",
			"The KV cache is nearly full and vLLM is preempting running requests (recomputing them later): latency climbs for everyone on this model.",
			nil),
	)
	for _, m := range r.args.Models {
		limit := r.th.TTFTThreshold(m.ServedName)
		out = append(out, r.alert(AlertTTFTHigh,
			fmt.Sprintf(`histogram_quantile(0.95, sum by (le, %s) (rate(%s_bucket{namespace=%s, %s=%s}[5m]))) > %s`,
				VLLMModelLabel, VLLMTimeToFirstToken, r.ns, VLLMModelLabel, promString(m.ServedName), num(limit)),
			10, "warning",
			"Model {{ $labels.model_name }}: TTFT p95 {{ $value | humanizeDuration }}",
			fmt.Sprintf("The 95th percentile time to first token has been above %ss for 10 minutes.", num(limit)),
			map[string]string{"model": m.KubeName}))
	}
	return out
}

// noReadyReplica alerts on a model without a ready replica: one rule for the models that
// always run, and one per model that scales to zero, which waits out its cold start.
func (r rules) noReadyReplica() []monv1.Rule {
	// A model whose StatefulSet wants no replica (scaled to zero on purpose) has none ready
	// and is fine: the alert needs kube-state-metrics' desired count above zero as well.
	expr := func(kubeNames []string) string {
		sel := fmt.Sprintf(`namespace=%s, statefulset=~%s`, r.ns, promString(strings.Join(kubeNames, "|")))
		return fmt.Sprintf(`%s{%s} == 0 and on (namespace, statefulset) %s{%s} > 0`, KSMStatefulSetReady, sel, KSMStatefulSetReplicas, sel)
	}
	var always []string
	var out []monv1.Rule
	for _, m := range r.args.Models {
		if m.ColdStartMinutes == 0 {
			always = append(always, m.KubeName)
			continue
		}
		// A model starting from zero has no ready replica for a whole cold start.
		minutes := max(r.th.NoReplicaMinutes, m.ColdStartMinutes)
		out = append(out, r.alert(AlertModelNoReadyReplica, expr([]string{m.KubeName}),
			minutes, "critical",
			"Model {{ $labels.statefulset }} has no ready replica",
			fmt.Sprintf("StatefulSet {{ $labels.namespace }}/{{ $labels.statefulset }} (scales to zero) has been asked for replicas but has had no ready vLLM pod for %d minutes, longer than a start from zero should take: requests held by the gateway time out with 503.", minutes),
			map[string]string{"model": m.KubeName}))
	}
	if len(always) > 0 {
		out = append(out, r.alert(AlertModelNoReadyReplica, expr(always),
			r.th.NoReplicaMinutes, "critical",
			"Model {{ $labels.statefulset }} has no ready replica",
			fmt.Sprintf("StatefulSet {{ $labels.namespace }}/{{ $labels.statefulset }} has had no ready vLLM pod for %d minutes: every request for this model fails with 502/503.", r.th.NoReplicaMinutes),
			nil))
	}
	return out
}

// gateway are the gateway's alerts: 5xx answers, no pod to scrape, a tenant near its budget,
// the limits store out of reach.
func (r rules) gateway() []monv1.Rule {
	gatewayJob := promString(r.args.GatewayJob)
	return []monv1.Rule{
		r.alert(AlertGateway5xxRatio,
			fmt.Sprintf(`sum(rate(%[1]s{namespace=%[2]s, status_class="5xx"}[5m])) / sum(rate(%[1]s{namespace=%[2]s}[5m])) > %[3]s`,
				gatewayRequests, r.ns, num(r.th.Gateway5xxRatio)),
			5, "critical",
			"The gateway answers {{ $value | humanizePercentage }} of requests with 5xx",
			fmt.Sprintf("More than %s%% of API requests have failed with a 5xx (model servers down, timing out or refusing) for 5 minutes.", num(r.th.Gateway5xxRatio*100)),
			nil),
		r.alert(AlertGatewayDown,
			fmt.Sprintf(`absent(%s{namespace=%s, job=%s} == 1)`, PrometheusUp, r.ns, gatewayJob),
			2, "critical",
			"No gateway pod can be scraped",
			"Prometheus has not reached any gateway pod's metrics port for 2 minutes: the gateway is down (or its metrics Service, ServiceMonitor or NetworkPolicy is broken).",
			nil),
		r.alert(AlertTenantBudget,
			fmt.Sprintf(`max by (tenant, period) (%s{namespace=%s}) > 0.8`, nginx.MetricTenantBudgetUsed, r.ns),
			5, "warning",
			"Tenant {{ $labels.tenant }} has used {{ $value | humanizePercentage }} of its {{ $labels.period }} token budget",
			"A tenant has passed 80% of a token budget; at 100% its requests get 429 insufficient_quota until the next period (UTC).",
			nil),
		r.alert(AlertLimitsStoreDown,
			fmt.Sprintf(`min(%s{namespace=%s}) == 0`, nginx.MetricLimitsBackendUp, r.ns),
			2, "critical",
			"A gateway pod cannot reach the Redis of the tenants' limits",
			"For 2 minutes a gateway pod has not reached the Redis its tenants' limits are counted in: limits are enforced per pod (fail-open) or requests get 503 (fail-closed).",
			nil),
	}
}
