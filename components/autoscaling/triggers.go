package autoscaling

import (
	"fmt"
	"strings"
	"time"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/observability"
)

// What KEDA does with a trigger (kedacore/keda v2.20.2): pkg/scalers/prometheus_scaler.go makes a
// trigger active while its query's value is above activationThreshold; pkg/scaling/scale_handler.go
// makes the ScaledObject active while any trigger is; pkg/scaling/executor/scale_scaledobjects.go
// scales an inactive ScaledObject with minReplicaCount 0 to zero once cooldownPeriod has passed
// since it was last active, and an active one at zero to one replica. The HPA KEDA creates asks,
// per AverageValue trigger, for ceil(value / threshold) replicas and runs the largest answer.
//
// So the per-replica triggers (the queue, the demand no replica runs) size the model, and one
// trigger, the activity, decides whether it may go to zero: both of the others read 0 while a
// replica keeps up with steady traffic.

// Trigger names.
const (
	TriggerQueue    = "vllm-queue"
	TriggerDemand   = "gateway-demand"
	TriggerActivity = "model-activity"
)

// ActivityThreshold is the activity trigger's per-replica threshold: no model has a million
// requests, so the trigger asks the HPA for ceil(value / threshold) = 1 replica, which a serving
// model has anyway. It sizes nothing; its activation (value > 0) keeps the model from zero.
const ActivityThreshold = 1_000_000

// MinActivityWindow is the shortest look-back for requests that finished between two scrapes.
const MinActivityWindow = 2 * time.Minute

// ActivityWindow is how far back the activity trigger looks for finished requests: a request
// shorter than a scrape interval never shows in an in-flight gauge, only in its counter, and
// increase() needs two samples of it. Four scrapes, and never under MinActivityWindow.
func ActivityWindow(scrapeInterval time.Duration) time.Duration {
	return max(MinActivityWindow, 4*scrapeInterval)
}

// QueueQuery is the requests waiting in the model's vLLM queues (every replica).
func QueueQuery(namespace, servedName string) string {
	return fmt.Sprintf(`sum(%s)`, vllm(observability.VLLMWaiting, namespace, servedName))
}

// DemandQuery is the model's requests the gateway holds or has sent that no replica is
// running yet: the gateway's in-flight requests less vLLM's running ones. With no replica
// (nothing to scrape) it is every request the gateway has for the model, so the first request
// wakes a model scaled to zero.
func DemandQuery(namespace, servedName string) string {
	return fmt.Sprintf(`(sum(%s) or vector(0)) - (sum(%s) or vector(0))`,
		gateway(nginx.MetricInFlight, namespace, servedName), vllm(observability.VLLMRunning, namespace, servedName))
}

// ActivitySignals are the parts of the activity query, by name: every place a request for the
// model can be, as the gateway and vLLM count it. The query's value is the largest; it is 0
// only when every signal is 0 or absent.
func ActivitySignals(namespace, servedName string, window time.Duration) []Signal {
	w := promDuration(window)
	finished := func(counter string) string {
		// 1 when some request finished within the window, else 0: a request shorter than a
		// scrape interval is in no gauge sample.
		return fmt.Sprintf(`clamp_max(sum(increase(%s[%s])), 1)`, counter, w)
	}
	return []Signal{
		// Routed requests in progress, the held ones included.
		{"gateway-in-flight", fmt.Sprintf(`sum(%s)`, gateway(nginx.MetricInFlight, namespace, servedName))},
		// Requests waiting for a first replica (counted in in-flight too, and on their own so
		// a hold never goes unseen).
		{"gateway-held", fmt.Sprintf(`sum(%s)`, gateway(nginx.MetricHeld, namespace, servedName))},
		// What vLLM has: generating and queued, whoever sent them.
		{"vllm-running-waiting", fmt.Sprintf(`sum(%s) + sum(%s)`,
			vllm(observability.VLLMRunning, namespace, servedName), vllm(observability.VLLMWaiting, namespace, servedName))},
		{"gateway-finished", finished(gateway(nginx.MetricRequests, namespace, servedName))},
		{"vllm-finished", finished(vllm(observability.VLLMRequestSuccess, namespace, servedName))},
	}
}

// Signal is one named part of the activity query.
type Signal struct{ Name, Expr string }

// ActivityQuery is the largest activity signal, one unlabelled sample (KEDA refuses a query
// that returns more than one), 0 when there is none. Each signal is labelled by name so that
// PromQL's `or` keeps them all; `vector(0)` stands in when every series is absent.
func ActivityQuery(namespace, servedName string, window time.Duration) string {
	var parts []string
	for _, s := range ActivitySignals(namespace, servedName, window) {
		parts = append(parts, fmt.Sprintf(`label_replace(%s, "signal", %q, "", "")`, s.Expr, s.Name))
	}
	return "max(" + strings.Join(append(parts, "vector(0)"), " or ") + ")"
}

func gateway(metric, namespace, servedName string) string {
	return fmt.Sprintf(`%s{namespace=%q,%s=%q}`, metric, namespace, observability.GatewayModelLabel, servedName)
}

func vllm(metric, namespace, servedName string) string {
	return fmt.Sprintf(`%s{namespace=%q,%s=%q}`, metric, namespace, observability.VLLMModelLabel, servedName)
}

// promDuration writes d as a Prometheus duration in whole seconds ("120s").
func promDuration(d time.Duration) string {
	return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
}
