package model_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// proxyConfig is what Istio's injector reads from the proxy.istio.io/config annotation (the
// ProxyConfig fields the model sets).
type proxyConfig struct {
	TerminationDrainDuration string            `json:"terminationDrainDuration"`
	ProxyMetadata            map[string]string `json:"proxyMetadata"`
}

// drained is what a stopping pod of the model does, read from the declared StatefulSet.
type drained struct {
	preStop, shutdown, grace int
	sidecar                  proxyConfig
}

func drainOf(t *testing.T, models string, name string) drained {
	t.Helper()
	m, _ := deploy(t, specs(t, models), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, name)
	c := container(t, sts)
	var d drained
	require.NotNil(t, c.Lifecycle)
	require.NotNil(t, c.Lifecycle.PreStop)
	require.NotNil(t, c.Lifecycle.PreStop.Exec, "an exec hook: the image has sleep")
	cmd := c.Lifecycle.PreStop.Exec.Command
	require.Len(t, cmd, 2)
	require.Equal(t, "sleep", cmd[0])
	var err error
	d.preStop, err = strconv.Atoi(cmd[1])
	require.NoError(t, err)
	d.shutdown, err = strconv.Atoi(argValue(t, c.Args, "--shutdown-timeout"))
	require.NoError(t, err)
	require.NotNil(t, sts.Spec.Template.Spec.TerminationGracePeriodSeconds)
	d.grace = int(*sts.Spec.Template.Spec.TerminationGracePeriodSeconds)
	ann, ok := sts.Spec.Template.Annotations[model.IstioProxyConfigAnnotation]
	require.True(t, ok, "the pod template carries the sidecar's drain settings")
	require.NoError(t, json.Unmarshal([]byte(ann), &d.sidecar), ann)
	return d
}

func seconds(t *testing.T, d string) int {
	t.Helper()
	v, err := time.ParseDuration(d)
	require.NoError(t, err, "Istio reads %q as a duration", d)
	return int(v.Seconds())
}

func TestDrainDerivesFromDrainSeconds(t *testing.T) {
	for _, tc := range []struct {
		drain                    string // the drainSeconds key, or "" for the default
		preStop, shutdown, grace int
	}{
		{"", 35, 265, 315},
		{`,"drainSeconds":900`, 35, 865, 915},
		{`,"drainSeconds":70`, 35, 35, 85}, // the shortest: the whole preStop the gateway needs
	} {
		t.Run(fmt.Sprint(tc.grace), func(t *testing.T) {
			d := drainOf(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"`+tc.drain+`}]`, "qwen3-8b")
			assert.Equal(t, tc.preStop, d.preStop, "preStop sleep")
			assert.Equal(t, tc.shutdown, d.shutdown, "vLLM --shutdown-timeout")
			assert.Equal(t, tc.grace, d.grace, "terminationGracePeriodSeconds")
			// The kubelet's SIGKILL comes only after the preStop and the whole shutdown, with
			// time left for the engine to exit.
			assert.GreaterOrEqual(t, d.grace, d.preStop+d.shutdown+10)

			// The sidecar keeps accepting connections at least while the gateway may still send
			// new requests, then stays while any connection (a running stream) is open; its
			// fixed drain, where used, covers the whole window.
			assert.Equal(t, "true", d.sidecar.ProxyMetadata["EXIT_ON_ZERO_ACTIVE_CONNECTIONS"])
			assert.Equal(t, d.preStop, seconds(t, d.sidecar.ProxyMetadata["MINIMUM_DRAIN_DURATION"]))
			assert.Equal(t, d.preStop+d.shutdown, seconds(t, d.sidecar.TerminationDrainDuration))
			assert.Less(t, seconds(t, d.sidecar.TerminationDrainDuration), d.grace)
		})
	}
}

// TestPodLeavesTheGatewayBeforeVLLMRefuses: with the default drain, vLLM keeps serving until
// the gateway has re-resolved the model's replicas with the pod gone: a DNS answer is kept at
// most DNSMaxTTL and re-queried every DNSRefresh.
func TestPodLeavesTheGatewayBeforeVLLMRefuses(t *testing.T) {
	d := drainOf(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"}]`, "qwen3-8b")
	assert.GreaterOrEqual(t, time.Duration(d.preStop)*time.Second, nginx.DNSMaxTTL+nginx.DNSRefresh)
	assert.Equal(t, model.EndpointLeaveSeconds, d.preStop)
}

func TestDrainTimesOfAComponentWithoutDrainSeconds(t *testing.T) {
	// A program using the component directly may leave drainSeconds 0: the default.
	assert.Equal(t, model.Drain(model.Spec{DrainSeconds: model.DefaultDrainSeconds}), model.Drain(model.Spec{}))
	for d := model.MinDrainSeconds; d <= model.MaxDrainSeconds; d += 7 {
		times := model.Drain(model.Spec{DrainSeconds: d})
		require.Equal(t, d, times.PreStop+times.Shutdown, "drainSeconds %d is split, not stretched", d)
		require.Positive(t, times.Shutdown)
		require.LessOrEqual(t, times.PreStop, model.EndpointLeaveSeconds)
		require.Greater(t, times.Grace, d)
	}
}
