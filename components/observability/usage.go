package observability

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
)

// UsageDashboard is "usage by team": the tenants' requests, tokens, cost, 429s and budgets.
const UsageDashboard = "llm-platform-usage"

// rangeInterval is Grafana's dashboard time range, for totals over what the user looks at.
const rangeInterval = "$__range"

// costPerMillion multiplies a per-(tenant, model, kind) token series by the configured price of
// its model and kind (the gateway exports the prices as a gauge, the same on every pod): the
// result is in currency units per million of the series' unit.
func costPerMillion(tokens, ns string) string {
	return fmt.Sprintf(`sum by (tenant) (%s * on (model, kind) group_left max by (model, kind) (%s%s))`,
		tokens, nginx.MetricModelPrice, sel(ns))
}

// usage is every tenant's use of the platform, filtered with the $tenant variable.
func usage(ns string) *dashboard.DashboardBuilder {
	s := sel(ns, `tenant=~"$tenant"`)
	rate := func(metric string) string { return fmt.Sprintf(`rate(%s%s[%s])`, metric, s, rateInterval) }
	total := func(metric string) string { return fmt.Sprintf(`increase(%s%s[%s])`, metric, s, rangeInterval) }
	tenantVar := dashboard.NewQueryVariableBuilder("tenant").Label("Team").
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(fmt.Sprintf(`label_values(%s%s, tenant)`, nginx.MetricTenantRequests, sel(ns)))}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Multi(true).IncludeAll(true).AllValue(".*")
	return dashboard.NewDashboardBuilder("LLM platform: usage by team ("+ns+")").
		Uid(DashboardUID(UsageDashboard, ns)).
		Tags([]string{"llm-platform", "gateway", "tenants"}).
		Refresh("1m").Time("now-24h", "now").Timezone(common.TimeZoneBrowser).
		WithVariable(datasourceVariable()).
		WithVariable(tenantVar).
		WithRow(dashboard.NewRowBuilder("Totals over the time range")).
		WithPanel(statPanel("Requests", "API requests answered, by team, over the dashboard's time range.", "short", 6,
			q(fmt.Sprintf(`sum by (tenant) (%s)`, total(nginx.MetricTenantRequests)), "{{tenant}}"))).
		WithPanel(statPanel("Tokens", "Prompt + completion tokens (the model servers' own usage), by team.", "short", 6,
			q(fmt.Sprintf(`sum by (tenant) (%s)`, total(nginx.MetricTenantTokens)), "{{tenant}}"))).
		WithPanel(statPanel("Cost", "Tokens times the configured price per million (tenancy.prices), by team; "+
			"models without a price count nothing.", "currencyUSD", 6,
			q(costPerMillion(total(nginx.MetricTenantTokens), ns)+" / 1e6", "{{tenant}}"))).
		WithPanel(statPanel("Refused 429", "Requests refused over a rate limit or a budget, by team.", "short", 6,
			q(fmt.Sprintf(`sum by (tenant) (%s)`, total(nginx.MetricTenantLimited)), "{{tenant}}"))).
		WithRow(dashboard.NewRowBuilder("Rates")).
		WithPanel(timeSeries("Requests/s by team", "API requests per second, by team and status class.", "reqps", 12,
			q(fmt.Sprintf(`sum by (tenant, status_class) (%s)`, rate(nginx.MetricTenantRequests)), "{{tenant}} {{status_class}}"))).
		WithPanel(timeSeries("Tokens/s by team", "Prompt and completion tokens per second, by team.", "short", 12,
			q(fmt.Sprintf(`sum by (tenant, kind) (%s)`, rate(nginx.MetricTenantTokens)), "{{tenant}} {{kind}}"))).
		WithPanel(timeSeries("Cost per hour by team", "Spend rate at the configured prices, by team.", "currencyUSD", 12,
			q(costPerMillion(rate(nginx.MetricTenantTokens), ns)+" * 3600 / 1e6", "{{tenant}}"))).
		WithPanel(timeSeries("429s by team and limit", "Refusals per second: which limit (requests or tokens per minute, "+
			"day or month budget) each team hits.", "reqps", 12,
			q(fmt.Sprintf(`sum by (tenant, limit) (%s)`, rate(nginx.MetricTenantLimited)), "{{tenant}} {{limit}}"))).
		WithRow(dashboard.NewRowBuilder("Budgets and the limits' store")).
		WithPanel(timeSeries("Budget left", "Share of each team's token budget left in its period (day, month), from the "+
			"fullest gateway pod's last count; the alert LLMTenantBudget80Percent fires below 20%.", "percentunit", 12,
			q(fmt.Sprintf(`1 - max by (tenant, period) (%s%s)`, nginx.MetricTenantBudgetUsed, s), "{{tenant}} {{period}}"))).
		WithPanel(timeSeries("Limits store", "Gateway pods reaching the limits' Redis (down: limits enforced per pod or "+
			"refused, onRedisDown), the pods they see, and failed exchanges per second.", "short", 12,
			q(fmt.Sprintf(`sum(%s%s)`, nginx.MetricLimitsBackendUp, sel(ns)), "pods reaching Redis"),
			q(fmt.Sprintf(`max(%s%s)`, nginx.MetricLimitsPods, sel(ns)), "pods seen"),
			q(fmt.Sprintf(`sum by (reason) (rate(%s%s[%s]))`, nginx.MetricLimitsBackendFailures, sel(ns), rateInterval), "failures: {{reason}}")))
}
