package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPackageTakesObservabilityAndKEDA: the Platform component's observability and
// platform.keda inputs reach the config the application layer is built from, defaulted and
// validated as a stack's keys are.
func TestPackageTakesObservabilityAndKEDA(t *testing.T) {
	models := []any{map[string]any{
		"huggingfaceId": "Qwen/Qwen3-0.6B", "modelName": "qwen3-0.6b", "gpuRequestCount": 0,
		"autoscaling": map[string]any{"enabled": true, "minReplicas": 0, "maxReplicas": 2},
	}}
	cfg, err := StackConfigFromInputs(map[string]any{
		"models":        models,
		"observability": map[string]any{"enabled": true, "install": false, "namespace": "prom"},
		"platform":      map[string]any{"keda": map[string]any{"enabled": false, "prometheusURL": "http://prometheus.prom:9090"}},
	})
	require.NoError(t, err)
	assert.True(t, cfg.Observability.Enabled)
	assert.False(t, cfg.Observability.Install)
	assert.Equal(t, "prom", cfg.Observability.Namespace)
	assert.Equal(t, 15, cfg.Observability.Thresholds.NoReplicaMinutes, "unset keys keep the stack defaults")
	assert.False(t, installsKEDA(cfg), "the cluster runs its own KEDA")
	assert.Equal(t, "http://prometheus.prom:9090", cfg.PrometheusURL())
	assert.True(t, cfg.Platform.Istio.Enabled, "setting platform.keda leaves the other add-ons at their defaults")

	_, err = StackConfigFromInputs(map[string]any{"models": models})
	require.Error(t, err, "autoscaling reads Prometheus")
	assert.Contains(t, err.Error(), "models[0].autoscaling.enabled: needs the models' and the gateway's metrics in Prometheus")

	defaults := PlatformDefaults()
	assert.True(t, defaults.Platform.KEDA.Enabled, "the schema documents KEDA's default")
	assert.False(t, defaults.Observability.Enabled)
}
