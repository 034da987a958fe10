package render

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm-gateway
  namespace: llm
  labels:
    app.kubernetes.io/component: gateway
spec:
  replicas: 2
  selector:
    matchLabels: {app: gw}
  template:
    metadata:
      labels: {app: gw}
    spec:
      containers:
      - name: openresty
        image: openresty/openresty:test
        %s
`

func write(t *testing.T, field string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "1-manifests")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(fmt.Sprintf(deployment, field)), 0o644))
	return filepath.Dir(dir)
}

func TestStrictDecodeCatchesAMisspeltField(t *testing.T) {
	// "stdin" is a real container field; "stdni" is not.
	good, err := Read(write(t, "stdin: true"))
	require.NoError(t, err)
	require.Len(t, good, 1)
	obj, err := good[0].Decode()
	require.NoError(t, err)
	dep := obj.(*appsv1.Deployment)
	assert.Equal(t, int32(2), *dep.Spec.Replicas)
	assert.Equal(t, "Deployment llm/llm-gateway", good[0].Key())

	bad, err := Read(write(t, "stdni: true"))
	require.NoError(t, err)
	_, err = bad[0].Decode()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "stdni"`)
}

func TestSummaryCountsKindsAndModels(t *testing.T) {
	s := Summary([]Manifest{
		{Kind: "StatefulSet", Name: "qwen3-8b", Labels: map[string]string{"app.kubernetes.io/component": "model", "app.kubernetes.io/instance": "qwen3-8b"}},
		{Kind: "Service", Name: "qwen3-8b", Labels: map[string]string{"app.kubernetes.io/component": "model", "app.kubernetes.io/instance": "qwen3-8b"}},
		{Kind: "Service", Name: "llm-gateway"},
	}, "out/dev")
	assert.Contains(t, s, "rendered 3 objects into out/dev")
	assert.Contains(t, s, "Service                  2")
	assert.Contains(t, s, "model qwen3-8b           StatefulSet/qwen3-8b, Service/qwen3-8b")
}
