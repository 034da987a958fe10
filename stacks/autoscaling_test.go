package stacks

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/llm-platform/llm-platform/components/autoscaling"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/versions"
)

const scaledObjectType = "kubernetes:keda.sh/v1alpha1:ScaledObject"

// TestAutoscaledModelGetsKEDAAndAScaledObject: the first autoscaled model brings KEDA (pinned)
// and its ScaledObject, which waits for KEDA's CRD; a model without autoscaling gets none.
func TestAutoscaledModelGetsKEDAAndAScaledObject(t *testing.T) {
	m, _, err := run(t, map[string]string{
		"models": `[{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b","gpuRequestCount":0,
			"autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":2}},
			{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"}]`,
		"observability": `{"enabled":true,"namespace":"mon"}`,
	})
	require.NoError(t, err)

	keda := m.Find(t, helmReleaseType, "keda")
	rel := pulumimock.View[struct {
		Chart, Version, Namespace string
	}](t, keda)
	assert.Equal(t, versions.KEDA.Name, rel.Chart)
	assert.Equal(t, versions.KEDA.Version, rel.Version, "pinned in internal/versions")
	assert.Equal(t, "keda", rel.Namespace)

	require.Len(t, m.ByType(scaledObjectType), 1, "only the autoscaled model (no metrics API here: the gateway has fixed replicas)")
	so := m.Find(t, scaledObjectType, "qwen3-0-6b")
	assert.Contains(t, so.DependsOn, keda.URN, "the ScaledObject waits for KEDA's CRD")
	var obj pulumimock.CustomResource[autoscaling.ScaledObjectSpec]
	require.NoError(t, pulumimock.DecodeInto(so.Inputs, &obj))
	assert.Equal(t, "qwen3-0-6b", obj.Spec.ScaleTargetRef.Name, "the model's StatefulSet")
	assert.Equal(t, 0, obj.Spec.MinReplicaCount)
	for _, tr := range obj.Spec.Triggers {
		assert.Equal(t, "http://prometheus-operated.mon.svc.cluster.local:9090", tr.Metadata["serverAddress"],
			"the monitoring stack's Prometheus, in observability.namespace")
	}
	assert.Equal(t, []string{"spec.replicas"}, m.Find(t, statefulSetType, "qwen3-0-6b").IgnoreChanges)
	assert.Empty(t, m.Find(t, statefulSetType, "qwen3-8b").IgnoreChanges)
}

// TestHeldRequestsScaleTheGateway: a model that scales to zero (so KEDA is there) makes the
// gateway's autoscaler a KEDA ScaledObject on CPU and held requests, after KEDA's CRD, reading
// the Prometheus the models' triggers read; a model that does not keeps the CPU HPA.
func TestHeldRequestsScaleTheGateway(t *testing.T) {
	config := map[string]string{
		"existing": `{"metricsServer":true}`,
		"models": `[{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b","gpuRequestCount":0,
			"autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":2}}]`,
		"observability": `{"enabled":true,"namespace":"mon"}`,
	}
	m, _, err := run(t, config)
	require.NoError(t, err)
	gw := m.Find(t, scaledObjectType, "gateway")
	assert.Contains(t, gw.DependsOn, m.Find(t, helmReleaseType, "keda").URN, "after KEDA's CRD")
	assert.False(t, m.Has("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "gateway"), "one autoscaler for the Deployment")
	var obj pulumimock.CustomResource[autoscaling.ScaledObjectSpec]
	require.NoError(t, pulumimock.DecodeInto(gw.Inputs, &obj))
	require.Len(t, obj.Spec.Triggers, 2)
	assert.Equal(t, gateway.TriggerHeld, obj.Spec.Triggers[1].Name)
	assert.Equal(t, "http://prometheus-operated.mon.svc.cluster.local:9090", obj.Spec.Triggers[1].Metadata["serverAddress"])

	config["models"] = strings.Replace(config["models"], `"minReplicas":0`, `"minReplicas":1`, 1)
	m, _, err = run(t, config)
	require.NoError(t, err)
	assert.False(t, m.Has(scaledObjectType, "gateway"), "nothing is ever held")
	assert.True(t, m.Has("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "gateway"))
}

func TestNoAutoscalingNoKEDA(t *testing.T) {
	m, _, err := run(t, pulumimock.StackConfig(t, "../Pulumi.dev.yaml"))
	require.NoError(t, err)
	assert.False(t, m.Has(helmReleaseType, "keda"))
	assert.Empty(t, m.ByType(scaledObjectType))
}

// TestScaleToZeroModelsAreHeldByTheGateway: the gateway's rendered routes hold requests only
// for models that may have no replica (minReplicas 0), for the model's startup budget by
// default or gateway.coldStartTimeout when set.
func TestScaleToZeroModelsAreHeldByTheGateway(t *testing.T) {
	models := `[{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b","gpuRequestCount":0,"startupTimeoutSeconds":1200,
			"autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":2}},
		{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","autoscaling":{"enabled":true,"minReplicas":1,"maxReplicas":2}},
		{"huggingfaceId":"Qwen/Qwen3-4B","modelName":"qwen3-4b"}]`
	holds := func(t *testing.T, gw map[string]string) map[string]string {
		m, _, err := run(t, map[string]string{"models": models, "gateway": gw["gateway"], "observability": `{"enabled":true}`})
		require.NoError(t, err)
		cm := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
		out := map[string]string{}
		// One route table entry per served name: `["name"] = { ... hold = N, ... },`.
		for _, e := range regexp.MustCompile(`(?s)\["([^"]+)"\] = \{(.*?)\n    \},`).FindAllStringSubmatch(cm.Data[nginx.LuaFile], -1) {
			h := regexp.MustCompile(`hold = (\d+),`).FindStringSubmatch(e[2])
			out[e[1]] = "none"
			if h != nil {
				out[e[1]] = h[1]
			}
		}
		return out
	}
	assert.Equal(t, map[string]string{"qwen3-0.6b": "2100", "qwen3-8b": "none", "qwen3-4b": "none"},
		holds(t, map[string]string{"gateway": `{}`}), "startupTimeoutSeconds 1200 + the 900 s provisioning margin")
	assert.Equal(t, map[string]string{"qwen3-0.6b": "600", "qwen3-8b": "none", "qwen3-4b": "none"},
		holds(t, map[string]string{"gateway": `{"coldStartTimeout":"10m"}`}))
}
