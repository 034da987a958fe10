package autoscaling_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/autoscaling"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/internal/crdschema"
	"github.com/llm-platform/llm-platform/internal/promcheck"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/versions"
)

const (
	scaledObjectType = "kubernetes:keda.sh/v1alpha1:ScaledObject"
	prometheus       = "http://prometheus-operated.monitoring.svc.cluster.local:9090"
)

func targets() []autoscaling.Target {
	return []autoscaling.Target{
		{Name: "qwen3-8b", ServedName: "qwen3-8b", Scaling: model.Autoscaling{
			Enabled: true, MinReplicas: 0, MaxReplicas: 4, TargetQueuePerReplica: 5, IdleMinutes: 20, CooldownSeconds: 240,
		}},
		{Name: "gemma-3-27b-it", ServedName: "gemma-3-27b-it", Scaling: model.Autoscaling{
			Enabled: true, MinReplicas: 1, MaxReplicas: 2, TargetQueuePerReplica: 3, IdleMinutes: 30, CooldownSeconds: 300,
		}},
	}
}

func deploy(t *testing.T, args autoscaling.Args) *pulumimock.Mocks {
	t.Helper()
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := autoscaling.New(ctx, "autoscaling", args)
		return err
	})
	require.NoError(t, err)
	return m
}

// TestScaledObjects: one per model, aimed at its StatefulSet, with its range, idle time and
// cooldown, accepted by the schema of KEDA's own CRD (generated from its API types).
func TestScaledObjects(t *testing.T) {
	m := deploy(t, autoscaling.Args{Namespace: "llm", Targets: targets(), PrometheusURL: prometheus})
	crds, err := crdschema.KEDA()
	require.NoError(t, err, "KEDA's CRD from %s", versions.KEDAModule)
	require.Len(t, m.ByType(scaledObjectType), 2)

	for _, want := range targets() {
		r := m.Find(t, scaledObjectType, want.Name)
		obj := pulumimock.Plain(r.Inputs)
		assert.Empty(t, crds.Validate(obj), "%s against KEDA's CRD", want.Name)

		var so pulumimock.CustomResource[autoscaling.ScaledObjectSpec]
		require.NoError(t, pulumimock.DecodeInto(r.Inputs, &so), "strictly decoded: no field we do not type")
		assert.Equal(t, "llm", so.Metadata.Namespace)
		s := so.Spec
		assert.Equal(t, autoscaling.ScaleTarget{APIVersion: "apps/v1", Kind: "StatefulSet", Name: want.Name}, s.ScaleTargetRef)
		assert.Equal(t, want.Scaling.MinReplicas, s.MinReplicaCount)
		assert.Equal(t, want.Scaling.MaxReplicas, s.MaxReplicaCount)
		assert.Equal(t, want.Scaling.IdleMinutes*60, s.CooldownPeriod, "idle minutes before scaling to zero")
		assert.Equal(t, want.Scaling.CooldownSeconds, s.Advanced.HorizontalPodAutoscalerConfig.Behavior.ScaleDown.StabilizationWindowSeconds)

		require.Len(t, s.Triggers, 3)
		for _, tr := range s.Triggers {
			assert.Equal(t, "prometheus", tr.Type)
			assert.Equal(t, "AverageValue", tr.MetricType, "the threshold is per replica")
			assert.Equal(t, prometheus, tr.Metadata["serverAddress"])
			assert.Equal(t, "0", tr.Metadata["activationThreshold"], "one request wakes the model")
			assert.NoError(t, promcheck.Check(tr.Metadata["query"], observability.SeriesNames(), observability.RemovedVLLMMetrics), tr.Name)
			assert.Contains(t, tr.Metadata["query"], `"`+want.ServedName+`"`, "the query selects this model")
			assert.Contains(t, tr.Metadata["query"], `namespace="llm"`)
		}
		names := func(tr autoscaling.Trigger) []string {
			n, err := promcheck.MetricNames(tr.Metadata["query"])
			require.NoError(t, err)
			return n
		}
		queue, demand, activity := s.Triggers[0], s.Triggers[1], s.Triggers[2]
		assert.Equal(t, autoscaling.TriggerQueue, queue.Name)
		assert.Equal(t, autoscaling.TriggerDemand, demand.Name)
		assert.Equal(t, autoscaling.TriggerActivity, activity.Name)
		assert.Equal(t, want.Scaling.TargetQueuePerReplica, atoi(t, queue.Metadata["threshold"]))
		assert.Equal(t, want.Scaling.TargetQueuePerReplica, atoi(t, demand.Metadata["threshold"]))
		assert.Equal(t, autoscaling.ActivityThreshold, atoi(t, activity.Metadata["threshold"]),
			"the activity trigger sizes nothing: ceil(value / threshold) is one replica")
		assert.ElementsMatch(t, []string{"llm_gateway_requests_in_flight", "vllm:num_requests_running"}, names(demand),
			"demand is what the gateway has that no replica runs: it exists with no replica")
		assert.ElementsMatch(t, []string{
			"llm_gateway_requests_in_flight", "llm_gateway_requests_held",
			"vllm:num_requests_running", "vllm:num_requests_waiting",
			"llm_gateway_requests_total", "vllm:request_success_total",
		}, names(activity), "activity counts every request the model has, wherever it is, and those that finished between scrapes")
		assert.Contains(t, activity.Metadata["query"], "[120s]", "the default 15 s scrape: the two-minute floor")
	}
}

// TestActivityWindowCoversFourScrapes: increase() needs two samples of a counter inside the
// window, so the window is four scrapes, never under two minutes.
func TestActivityWindowCoversFourScrapes(t *testing.T) {
	for scrape, want := range map[time.Duration]time.Duration{
		time.Second: 2 * time.Minute, 15 * time.Second: 2 * time.Minute, 30 * time.Second: 2 * time.Minute,
		time.Minute: 4 * time.Minute, 5 * time.Minute: 20 * time.Minute,
	} {
		assert.Equal(t, want, autoscaling.ActivityWindow(scrape), "scrape interval %s", scrape)
	}
	so := autoscaling.Spec(autoscaling.Args{Namespace: "llm", PrometheusURL: prometheus, ScrapeInterval: time.Minute}, targets()[0])
	assert.Contains(t, so.Triggers[2].Metadata["query"], "[240s]")
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

func TestNoPrometheusNoScaledObject(t *testing.T) {
	_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := autoscaling.New(ctx, "autoscaling", autoscaling.Args{Namespace: "llm", Targets: targets()})
		return err
	})
	require.ErrorContains(t, err, "prometheusURL is required")
}
