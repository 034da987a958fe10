// The gateway's own Prometheus metrics: names, help texts, label names and histogram buckets.
// metrics.lua.tmpl is rendered from these, and the observability component's PromQL uses the
// same constants, so a metric is named in exactly one place.

package nginx

// MetricsPath is where the metrics listener (Params.MetricsListen) serves the Prometheus text
// format. The public listener has no such route.
const MetricsPath = "/metrics"

// MetricsDict is the lua_shared_dict holding every series, shared by all nginx workers.
const MetricsDict = "gw_metrics"

// Metric names. Every name starts with MetricPrefix.
const (
	MetricPrefix = "llm_gateway_"
	// MetricRequests counts /v1 requests by model, outcome and status class.
	MetricRequests = MetricPrefix + "requests_total"
	// MetricRequestDuration is the whole request's duration, routed requests only, per model.
	MetricRequestDuration = MetricPrefix + "request_duration_seconds"
	// MetricTimeToFirstByte is the time until the model server's response header arrived
	// (for a stream: its first event), routed requests that got an answer, per model.
	MetricTimeToFirstByte = MetricPrefix + "time_to_first_byte_seconds"
	// MetricInFlight is the routed requests in progress, per model.
	MetricInFlight = MetricPrefix + "requests_in_flight"
	// MetricEndpointInFlight is the routed requests in progress per model server address.
	MetricEndpointInFlight = MetricPrefix + "endpoint_requests_in_flight"
	// MetricUpstreamFailures counts routed requests that got no answer from the model server
	// (connection refused or reset: reason "connect"; no answer in time: "timeout").
	MetricUpstreamFailures = MetricPrefix + "upstream_failures_total"
	// MetricRefused counts requests the gateway answered with an error itself, by reason.
	MetricRefused = MetricPrefix + "refused_total"
	// MetricHeld is the requests waiting for a model with no ready replica (scaling from
	// zero), per model. They are counted in MetricInFlight too.
	MetricHeld = MetricPrefix + "requests_held"
	// MetricClientAborts counts routed requests whose client left before the end, per model
	// and AbortPhases.
	MetricClientAborts = MetricPrefix + "client_aborts_total"
	// MetricReplicaFailures counts failures of a replica (then passed over for
	// FailedEndpointSkip), per model and ReplicaFailureReasons.
	MetricReplicaFailures = MetricPrefix + "replica_failures_total"
	// MetricPollFailures counts failed reads of a replica's /metrics, per model and
	// PollFailureReasons: while they fail, routing sees only this pod's own requests.
	MetricPollFailures = MetricPrefix + "replica_poll_failures_total"
	// MetricDNSFailures counts failed queries for a model's headless Service, per model and
	// DNSFailureReasons (the last good answer is kept).
	MetricDNSFailures = MetricPrefix + "dns_failures_total"
	// MetricServiceFallback is 1 while a model's requests go to its ClusterIP Service because
	// its DNS answer is not trusted (older than DNSStaleAfter, or empty while the Service
	// answers), else 0, per model with replica endpoints.
	MetricServiceFallback = MetricPrefix + "service_fallback"
	// MetricPrefixIndexBytes is the prefix index's shared memory (state "used" or "capacity").
	MetricPrefixIndexBytes = MetricPrefix + "prefix_index_bytes"
)

// Label values of the newer metrics (their one place; docs/gateway.md lists them).
var (
	// AbortPhases: held (waiting for a replica of a model scaled to zero), waiting (before the
	// response header: the replica's queue or prefill), streaming (after it).
	AbortPhases = []string{"held", "waiting", "streaming"}
	// ReplicaFailureReasons: connect (refused, reset or timed out before the request was sent),
	// no_response (nothing back after it was sent), status_5xx (the replica answered a 5xx).
	ReplicaFailureReasons = []string{"connect", "no_response", "status_5xx"}
	// PollFailureReasons: connect, timeout, status (not 200, e.g. a sidecar's 426), malformed.
	PollFailureReasons = []string{"connect", "timeout", "status", "malformed"}
	// DNSFailureReasons: no_answer (timeout, refused), truncated (and TCP failed), malformed
	// (garbage, wrong id or question), rcode (SERVFAIL and the like).
	DNSFailureReasons = []string{"no_answer", "truncated", "malformed", "rcode"}
)

// Outcomes (the outcome label of MetricRequests).
const (
	OutcomeRouted  = "routed"  // proxied to a model server (whatever it answered)
	OutcomeRefused = "refused" // the gateway answered with an error (MetricRefused says why)
	OutcomeLocal   = "local"   // the gateway answered itself: /v1/models
)

// Refusal reasons (the reason label of MetricRefused).
const (
	RefusedUnauthorized = "unauthorized"       // 401: missing or wrong API key
	RefusedBadJSON      = "bad_json"           // 400: the body is not JSON
	RefusedInvalid      = "invalid_request"    // 400: not an object, "model" not a non-empty string
	RefusedUnknownModel = "unknown_model"      // 404: "model" names no served model
	RefusedTooLarge     = "too_large"          // 413: the body is over the limit
	RefusedOverloaded   = "overloaded"         // 503: past MaxStreams
	RefusedMethod       = "method_not_allowed" // 405 on /v1/models
	RefusedNotFound     = "not_found"          // 404: a path the gateway does not serve ("/v1")
	RefusedInternal     = "internal"           // 500: the body could not be read
	RefusedOther        = "other"              // any other error nginx produced itself
	RefusedUnavailable  = "model_unavailable"  // 503: the model has no ready replica
	RefusedHoldFull     = "hold_full"          // 503 model_unavailable: the pod holds as many requests as it may
)

// RefusalReasons are every reason label value, in documentation order.
var RefusalReasons = []string{
	RefusedUnauthorized, RefusedBadJSON, RefusedInvalid, RefusedUnknownModel, RefusedTooLarge,
	RefusedOverloaded, RefusedMethod, RefusedNotFound, RefusedInternal, RefusedOther, RefusedUnavailable, RefusedHoldFull,
}

// Histogram buckets (upper bounds, seconds). Generations take minutes; first bytes should
// take well under a second.
var (
	DurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	TTFBBuckets     = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
)

// GatewayMetric describes one exported metric family.
type GatewayMetric struct {
	Name, Type, Help string
}

// GatewayMetrics are every metric family the gateway exports.
var GatewayMetrics = []GatewayMetric{
	{MetricRequests, "counter", "API requests (/v1...) by served model, outcome (routed, refused, local) and status class."},
	{MetricRequestDuration, "histogram", "Duration of routed requests, from the first byte read to the last byte sent, per served model."},
	{MetricTimeToFirstByte, "histogram", "Time until the model server's response header arrived (a stream's first event), per served model."},
	{MetricInFlight, "gauge", "Routed requests in progress, per served model."},
	{MetricEndpointInFlight, "gauge", "Routed requests in progress, per served model and model server address (from its response header on)."},
	{MetricUpstreamFailures, "counter", "Routed requests that got no answer from the model server, by served model and reason (connect, timeout)."},
	{MetricRefused, "counter", "Requests the gateway refused itself, by reason."},
	{MetricHeld, "gauge", "Requests waiting for a first ready replica of their model (scale from zero), per served model; also counted in requests_in_flight."},
	{MetricClientAborts, "counter", "Routed requests whose client left before the end, per served model and phase (held, waiting, streaming)."},
	{MetricReplicaFailures, "counter", "Replica failures (the replica is then passed over for a while), per served model and reason (connect, no_response, status_5xx)."},
	{MetricPollFailures, "counter", "Failed reads of a replica's /metrics (routing then sees only this pod's requests there), per served model and reason (connect, timeout, status, malformed)."},
	{MetricDNSFailures, "counter", "Failed DNS queries for a model's replicas (the last good answer is kept), per served model and reason (no_answer, truncated, malformed, rcode)."},
	{MetricPrefixIndexBytes, "gauge", "The replica balancer's prefix index in shared memory, in bytes: state capacity (its fixed size, gateway.routing.indexEntries) and used (least recently used entries are evicted past it)."},
	{MetricServiceFallback, "gauge", "1 while a model's requests go to its ClusterIP Service because its replicas' DNS answer is not trusted (too old, or empty while the Service answers), per served model."},
}
