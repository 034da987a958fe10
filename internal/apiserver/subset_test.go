package apiserver_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSubset pins the comparison the end-to-end test relies on, so a bug in
// it cannot make every live object "match".
func TestSubset(t *testing.T) {
	live := map[string]any{
		"metadata": map[string]any{"name": "x", "uid": "1", "labels": map[string]any{"a": "b"}},
		"spec": map[string]any{
			"replicas":  float64(2),
			"resources": map[string]any{"memory": "1536Mi", "cpu": "500m"},
			"args":      []any{"--a", "--b"},
		},
	}
	assert.Empty(t, subset("", map[string]any{
		"metadata": map[string]any{"name": "x", "labels": map[string]any{"a": "b"}, "annotations": map[string]any{}},
		"spec": map[string]any{
			"replicas":  float64(2),
			"resources": map[string]any{"memory": "1.5Gi", "cpu": "0.5"}, // same quantities
			"args":      []any{"--a", "--b"},
			"paused":    false, // omitted by the server
		},
	}, live))
	assert.Equal(t, []string{
		`.metadata.labels.a: the program set "c", the server has "b"`,
		`.metadata.labels.missing: the program set "v", the server has <nil>`,
		`.spec.args: want 1 items, the server has 2`,
		`.spec.replicas: the program set 3, the server has 2`,
		`.spec.resources.memory: the program set "1Gi", the server has "1536Mi"`,
	}, subset("", map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"a": "c", "missing": "v"}},
		"spec": map[string]any{
			"replicas":  float64(3),
			"resources": map[string]any{"memory": "1Gi"},
			"args":      []any{"--a"},
		},
	}, live))
	// Secrets as the state keeps them are not comparable, so never a diff.
	assert.Empty(t, subset("", map[string]any{"data": map[string]any{
		"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x",
	}}, map[string]any{}))
}
