package stacks

import (
	"testing"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// TestNoReadyReplicaAlertWaitsOutAColdStart: a model that scales to zero gets its own
// no-ready-replica rule, which waits as long as the gateway holds its requests (by default the
// model's startup budget: startupTimeoutSeconds plus the 15-minute provisioning margin; else
// gateway.coldStartTimeout, never less than noReplicaMinutes); a model with minReplicas 1 or no
// autoscaling keeps observability.thresholds.noReplicaMinutes.
func TestNoReadyReplicaAlertWaitsOutAColdStart(t *testing.T) {
	waits := func(t *testing.T, config map[string]string) map[string]string {
		t.Helper()
		m, _, err := run(t, config)
		require.NoError(t, err)
		rule := pulumimock.Decode[monv1.PrometheusRule](t, m, ruleType, "observability-alerts")
		out := map[string]string{}
		for _, g := range rule.Spec.Groups {
			for _, r := range g.Rules {
				if r.Alert == observability.AlertModelNoReadyReplica {
					out[r.Labels["model"]] = string(*r.For)
					assert.Contains(t, r.Expr.String(), observability.KSMStatefulSetReplicas+`{namespace="llm"`)
				}
			}
		}
		return out
	}
	config := map[string]string{
		"models": `[{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"zero","gpuRequestCount":0,"startupTimeoutSeconds":1800,
			"autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":2}},
			{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"one","gpuRequestCount":0,
			"autoscaling":{"enabled":true,"minReplicas":1,"maxReplicas":2}},
			{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"fixed","gpuRequestCount":0}]`,
		"observability": `{"enabled":true,"thresholds":{"noReplicaMinutes":10}}`,
	}
	assert.Equal(t, map[string]string{"zero": "45m", "": "10m"}, waits(t, config), "30 minutes of startup and 15 of provisioning")

	config["gateway"] = `{"coldStartTimeout":"20m30s"}`
	assert.Equal(t, map[string]string{"zero": "21m", "": "10m"}, waits(t, config), "the gateway's hold, in whole minutes")
	config["gateway"] = `{"coldStartTimeout":"2m"}`
	assert.Equal(t, map[string]string{"zero": "10m", "": "10m"}, waits(t, config), "never less than noReplicaMinutes")
}
