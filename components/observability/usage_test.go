package observability_test

import (
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/internal/promcheck"
)

// TestUsageDashboardShowsEveryTeamsUse: "usage by team" is declared beside the other dashboards,
// with its UID, a $tenant picker over the tenants the gateway counts, and a panel for each of
// requests, tokens, cost, 429s and budget left whose queries read the gateway's tenant metrics
// (and only real metrics: TestEveryQueryParsesAndNamesKnownMetrics checks every query of every
// dashboard). Cost joins the tokens to the configured prices on model and kind.
func TestUsageDashboardShowsEveryTeamsUse(t *testing.T) {
	ds, err := observability.Dashboards("llm", "llm-gateway-metrics")
	require.NoError(t, err)
	var usage *dashboard.Dashboard
	for i := range ds {
		if ds[i].Name == observability.UsageDashboard {
			usage = &ds[i].Model
		}
	}
	require.NotNil(t, usage, "the usage dashboard is declared")
	require.NotNil(t, usage.Uid)
	assert.Equal(t, observability.DashboardUID(observability.UsageDashboard, "llm"), *usage.Uid)

	var vars []string
	for _, v := range usage.Templating.List {
		vars = append(vars, v.Name)
	}
	assert.Equal(t, []string{"datasource", "tenant"}, vars)

	metricsOf := map[string][]string{} // panel title -> metric names its queries read
	for _, p := range usage.Panels {
		if p.Panel == nil {
			continue
		}
		for _, target := range p.Panel.Targets {
			dq := target.(prometheus.Dataquery)
			assert.Contains(t, dq.Expr, `namespace="llm"`, "%s: this platform's series only", *p.Panel.Title)
			names, err := promcheck.MetricNames(grafanaVars.Replace(dq.Expr))
			require.NoError(t, err, dq.Expr)
			metricsOf[*p.Panel.Title] = append(metricsOf[*p.Panel.Title], names...)
			if strings.Contains(*p.Panel.Title, "Cost") {
				assert.Contains(t, dq.Expr, "on (model, kind) group_left", "prices joined per model and kind")
			}
		}
	}
	for title, want := range map[string][]string{
		"Requests":               {nginx.MetricTenantRequests},
		"Tokens":                 {nginx.MetricTenantTokens},
		"Cost":                   {nginx.MetricTenantTokens, nginx.MetricModelPrice},
		"Refused 429":            {nginx.MetricTenantLimited},
		"Requests/s by team":     {nginx.MetricTenantRequests},
		"Tokens/s by team":       {nginx.MetricTenantTokens},
		"Cost per hour by team":  {nginx.MetricTenantTokens, nginx.MetricModelPrice},
		"429s by team and limit": {nginx.MetricTenantLimited},
		"Budget left":            {nginx.MetricTenantBudgetUsed},
		"Limits store":           {nginx.MetricLimitsBackendUp, nginx.MetricLimitsPods, nginx.MetricLimitsBackendFailures},
	} {
		require.Contains(t, metricsOf, title, "panel %q", title)
		assert.ElementsMatch(t, want, metricsOf[title], "panel %q reads", title)
	}
}
