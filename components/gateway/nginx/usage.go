// The tenants' metrics: usage and cost by tenant and model, 429s, budgets, and the state of the
// Redis the limits are counted in. usage.lua and limits.lua are rendered from these names, and
// the observability component's dashboard and alerts use the same constants.

package nginx

// Tenant metric names.
const (
	// MetricTenantRequests counts /v1 requests by tenant, served model ("" when none was
	// picked) and status class.
	MetricTenantRequests = MetricPrefix + "tenant_requests_total"
	// MetricTenantTokens counts tokens by tenant, model and kind (prompt, completion), as the
	// model server's usage reported them.
	MetricTenantTokens = MetricPrefix + "tenant_tokens_total"
	// MetricTenantLimited counts 429s by tenant and limit (requests_per_minute,
	// tokens_per_minute, tokens_per_day, tokens_per_month).
	MetricTenantLimited = MetricPrefix + "tenant_limited_total"
	// MetricTenantBudgetUsed is the fraction of a tenant's budget used, by period (day,
	// month), as of its last admitted request in this pod (take the max across pods), until
	// the period ends (then the series is gone).
	MetricTenantBudgetUsed = MetricPrefix + "tenant_budget_used_ratio"
	// MetricModelPrice is the configured price per million tokens, by model and kind.
	MetricModelPrice = MetricPrefix + "model_price_per_million_tokens"
	// MetricLimitsBackendUp is 1 while this pod reaches the limits' Redis, else 0 (limits
	// then fail open per pod, or closed).
	MetricLimitsBackendUp = MetricPrefix + "limits_backend_up"
	// MetricLimitsBackendFailures counts failed exchanges with Redis by reason (connect,
	// timeout, error).
	MetricLimitsBackendFailures = MetricPrefix + "limits_backend_failures_total"
	// MetricLimitsPods is the gateway pods seen checking in with Redis (the divisor of the
	// per-pod share when Redis is down).
	MetricLimitsPods = MetricPrefix + "limits_pods"
)

// Refusal reasons of the tenants' limits (the reason label of MetricRefused).
const (
	RefusedRateLimited       = "rate_limited"       // 429 rate_limit_exceeded
	RefusedQuota             = "insufficient_quota" // 429 insufficient_quota: a budget is used up
	RefusedLimitsUnavailable = "limits_unavailable" // 503: Redis unreachable and limits fail closed
)

// TenantMetrics are the tenants' metric families.
var TenantMetrics = []GatewayMetric{
	{MetricTenantRequests, "counter", "API requests by tenant, served model and status class."},
	{MetricTenantTokens, "counter", "Tokens by tenant, model and kind (prompt, completion), from the model server's usage."},
	{MetricTenantLimited, "counter", "Requests refused 429 by tenant and limit."},
	{MetricTenantBudgetUsed, "gauge", "Fraction of a tenant's token budget used, by period (day, month), at its last request here; gone once the period ends."},
	{MetricModelPrice, "gauge", "Configured price per million tokens, by model and kind (prompt, completion)."},
	{MetricLimitsBackendUp, "gauge", "1 while this gateway pod reaches the Redis its tenants' limits are counted in."},
	{MetricLimitsBackendFailures, "counter", "Failed exchanges with the limits' Redis, by reason (connect, timeout, error)."},
	{MetricLimitsPods, "gauge", "Gateway pods seen sharing the limits' Redis."},
}

type tenantMetricNames struct {
	Requests, Tokens, Limited, BudgetUsed, Price, BackendUp, BackendFailures, Pods string
}

var tenantMetrics = tenantMetricNames{
	Requests: MetricTenantRequests, Tokens: MetricTenantTokens, Limited: MetricTenantLimited,
	BudgetUsed: MetricTenantBudgetUsed, Price: MetricModelPrice, BackendUp: MetricLimitsBackendUp,
	BackendFailures: MetricLimitsBackendFailures, Pods: MetricLimitsPods,
}

// usageTail is how many bytes at the end of a JSON answer are kept to read its usage.
const usageTail = 1024
