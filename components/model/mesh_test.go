package model_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// TestInitContainerReachesObjectStorageWithoutTheSidecar: a pod whose init container copies
// adapters from S3 or Cloud Storage lets that traffic (HTTPS, and the metadata addresses that hand
// out credentials) bypass Istio's proxy, which on nodes older than 1.33 (classic sidecars) starts
// only after every init container; pods with nothing to fetch keep all their traffic in the mesh.
func TestInitContainerReachesObjectStorageWithoutTheSidecar(t *testing.T) {
	m, _ := deploy(t, specs(t, adapters), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-8b")
	pod := sts.Spec.Template
	require.Len(t, pod.Spec.InitContainers, 1)
	require.Equal(t, "fetch-loras", pod.Spec.InitContainers[0].Name)
	a := pod.Annotations
	assert.Equal(t, "443", a["traffic.sidecar.istio.io/excludeOutboundPorts"], "S3, Cloud Storage and STS over HTTPS")
	ranges := strings.Split(a["traffic.sidecar.istio.io/excludeOutboundIPRanges"], ",")
	assert.ElementsMatch(t, []string{"169.254.169.254/32", "169.254.170.23/32"}, ranges,
		"GKE's metadata server (Workload Identity) and EKS Pod Identity's agent")
	assert.NotEmpty(t, a[model.IstioProxyConfigAnnotation], "the drain settings stay")

	for name, models := range map[string]string{
		"no adapters":         `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"}]`,
		"hub adapters only":   `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","loras":[{"name":"sql","source":"acme/qwen3-sql-lora"}]}]`,
		"weights from s3 too": `[{"huggingfaceId":"","modelName":"qwen3-8b","weights":{"uri":"s3://acme/qwen3","serviceAccount":"reader"}}]`,
	} {
		m, _ := deploy(t, specs(t, models), false)
		pod := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-8b").Spec.Template
		assert.Empty(t, pod.Spec.InitContainers, name)
		assert.NotContains(t, pod.Annotations, model.IstioExcludeOutboundPorts, "%s: no init container, nothing runs before the proxy", name)
		assert.NotContains(t, pod.Annotations, model.IstioExcludeOutboundIPRanges, name)
	}
}
