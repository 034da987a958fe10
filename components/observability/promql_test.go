package observability_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/internal/promcheck"
)

// testArgs are a platform with two models, one of whose names needs escaping in PromQL.
func testArgs() observability.Args {
	cfg := observability.Config{
		Enabled: true, Namespace: "monitoring", Install: true,
		MonitorLabels:   map[string]string{"release": "kube-prometheus-stack"},
		DashboardLabels: map[string]string{"grafana_dashboard": "1"},
		ScrapeInterval:  "15s",
		Thresholds: observability.Thresholds{
			TTFTP95Seconds: 2, TTFTP95SecondsByModel: map[string]float64{`odd"name\with-quotes`: 5},
			QueueDepth: 10, QueueMinutes: 5, Gateway5xxRatio: 0.05, KVCacheUsage: 0.95, NoReplicaMinutes: 15,
		},
	}
	return observability.Args{
		Config:    cfg,
		Namespace: "llm",
		Models: []observability.ModelRef{
			{ServedName: "qwen3-0.6b", KubeName: "qwen3-0-6b"},
			{ServedName: `odd"name\with-quotes`, KubeName: "odd-name-with-quotes"},
		},
		ModelPods:      map[string]string{"app.kubernetes.io/name": "vllm", "app.kubernetes.io/component": "model"},
		ModelPort:      "http",
		GatewayService: map[string]string{"app.kubernetes.io/name": "llm-gateway", "app.kubernetes.io/component": "gateway-metrics"},
		GatewayPort:    "metrics",
		GatewayJob:     "llm-gateway-metrics",
	}
}

// grafanaVars are Grafana's interpolations, replaced as Grafana would before the query
// reaches Prometheus.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__range", "24h", "$model", "qwen3-0.6b", "$tenant", "team-a")

// checkExpr is the rule every query lives by: it parses, and names only known metrics, none
// that vLLM removed.
func checkExpr(expr string) error {
	return promcheck.Check(grafanaVars.Replace(expr), observability.SeriesNames(), observability.RemovedVLLMMetrics)
}

// dashboardExprs are every panel target's PromQL, by panel title, read back from the built
// dashboard models.
func dashboardExprs(t *testing.T) map[string][]string {
	t.Helper()
	ds, err := observability.Dashboards("llm", "llm-gateway-metrics")
	require.NoError(t, err)
	out := map[string][]string{}
	for _, d := range ds {
		for _, p := range d.Model.Panels {
			require.False(t, p.RowPanel == nil && p.Panel == nil, "a panel or a row")
			if p.Panel == nil {
				continue
			}
			require.NotEmpty(t, p.Panel.Targets, "panel %q has no query", *p.Panel.Title)
			for _, target := range p.Panel.Targets {
				dq, ok := target.(prometheus.Dataquery)
				require.True(t, ok, "panel %q: a Prometheus query", *p.Panel.Title)
				out[d.Name+": "+*p.Panel.Title] = append(out[d.Name+": "+*p.Panel.Title], dq.Expr)
			}
		}
		// Template variables query Prometheus too.
		for _, v := range d.Model.Templating.List {
			if v.Type == "query" && v.Query != nil && v.Query.String != nil {
				m := regexp.MustCompile(`^label_values\((.+), [a-z_]+\)$`).FindStringSubmatch(*v.Query.String)
				require.NotNil(t, m, "variable %s: %s", v.Name, *v.Query.String)
				out[d.Name+": $"+v.Name] = append(out[d.Name+": $"+v.Name], m[1])
			}
		}
	}
	return out
}

func ruleExprs(args observability.Args) map[string][]string {
	out := map[string][]string{}
	for _, g := range observability.RuleSpec(args).Groups {
		for _, r := range g.Rules {
			out[g.Name+": "+r.Alert] = append(out[g.Name+": "+r.Alert], r.Expr.String())
		}
	}
	return out
}

// TestEveryQueryParsesAndNamesKnownMetrics: dashboards and rules alike.
func TestEveryQueryParsesAndNamesKnownMetrics(t *testing.T) {
	all := dashboardExprs(t)
	for k, v := range ruleExprs(testArgs()) {
		all[k] = v
	}
	require.Greater(t, len(all), 20, "the dashboards and rules were found")
	used := map[string]bool{}
	for where, exprs := range all {
		for _, e := range exprs {
			assert.NoError(t, checkExpr(e), "%s: %s", where, e)
			names, _ := promcheck.MetricNames(grafanaVars.Replace(e))
			for _, n := range names {
				used[n] = true
			}
		}
	}
	// Every vLLM metric the issue names is shown somewhere.
	for _, m := range observability.Metrics {
		if m.Source != "vllm" {
			continue
		}
		name := m.Name
		if m.Type == "histogram" {
			name += "_bucket"
		}
		assert.True(t, used[name], "%s is in no dashboard or rule", name)
	}
}

// TestQueryCheckCatchesStrangers proves the check above can fail: an unknown or removed
// metric, and a query that does not parse.
func TestQueryCheckCatchesStrangers(t *testing.T) {
	assert.ErrorContains(t, checkExpr(`sum(rate(vllm:gpu_cache_usage_perc[5m]))`), "removed from vLLM")
	assert.ErrorContains(t, checkExpr(`vllm:time_per_output_token_seconds_bucket`), "removed from vLLM")
	assert.ErrorContains(t, checkExpr(`sum(made_up_metric{namespace="llm"})`), "made_up_metric is not in observability.Metrics")
	assert.ErrorContains(t, checkExpr(`{__name__=~"vllm:.*"}`), "selects no metric by name")
	assert.Error(t, checkExpr(`sum(rate(vllm:num_requests_running[5m])`))
	assert.NoError(t, checkExpr(`sum by (model_name) (vllm:num_requests_running{namespace="llm"})`))
}

// TestRulesLoadWithPrometheusRuleParser: the PrometheusRule's groups, as the operator hands
// them to Prometheus, load with Prometheus's own rule-file parser; every alert has a summary,
// a description and a runbook_url pointing at its section of docs/observability.md.
func TestRulesLoadWithPrometheusRuleParser(t *testing.T) {
	args := testArgs()
	file := struct {
		Groups []monv1.RuleGroup `json:"groups"`
	}{observability.RuleSpec(args).Groups}
	raw, err := yaml.Marshal(toYAMLTree(t, file))
	require.NoError(t, err)
	groups, errs := rulefmt.Parse(raw, false, model.UTF8Validation, promcheck.Parser, slog.New(slog.DiscardHandler))
	require.Empty(t, errs, "rulefmt:\n%s", raw)

	doc, err := os.ReadFile("../../docs/observability.md")
	require.NoError(t, err)
	alerts := map[string]int{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "only alerting rules")
			alerts[r.Alert]++
			for _, a := range []string{"summary", "description", "runbook_url"} {
				assert.NotEmpty(t, r.Annotations[a], "%s: annotation %s", r.Alert, a)
			}
			assert.Equal(t, observability.DefaultRunbookURL+"#"+strings.ToLower(r.Alert), r.Annotations["runbook_url"])
			assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], r.Alert)
			assert.NotZero(t, r.For, "%s fires only when it lasts", r.Alert)
			assert.Contains(t, string(doc), "\n### "+r.Alert+"\n", "docs/observability.md has a runbook section for %s", r.Alert)
		}
	}
	for _, a := range observability.Alerts {
		assert.Contains(t, alerts, a)
	}
	assert.Equal(t, len(args.Models), alerts[observability.AlertTTFTHigh], "one TTFT alert per model")
}

// TestTTFTThresholdPerModel: a model's own threshold wins over the default, and the served
// name is matched exactly (quotes and backslashes escaped, not a regex).
func TestTTFTThresholdPerModel(t *testing.T) {
	exprs := ruleExprs(testArgs())["llm-platform.models: "+observability.AlertTTFTHigh]
	require.Len(t, exprs, 2)
	for i, want := range []struct {
		name  string
		limit string
	}{{"qwen3-0.6b", "2"}, {`odd"name\with-quotes`, "5"}} {
		e, err := promcheck.Parser.ParseExpr(exprs[i])
		require.NoError(t, err)
		var matched bool
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				for _, m := range vs.LabelMatchers {
					if m.Name == observability.VLLMModelLabel {
						assert.Equal(t, labels.MatchEqual, m.Type)
						assert.Equal(t, want.name, m.Value)
						matched = true
					}
				}
			}
			return nil
		})
		assert.True(t, matched, exprs[i])
		assert.True(t, strings.HasSuffix(exprs[i], "> "+want.limit), exprs[i])
	}
}

// toYAMLTree turns a JSON-tagged value into plain maps and lists (what the operator writes).
func toYAMLTree(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}
