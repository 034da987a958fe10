package naming

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKubeName(t *testing.T) {
	for in, want := range map[string]string{
		"qwen3-0.6b":           "qwen3-0-6b",
		"gemma-3-27b-it":       "gemma-3-27b-it",
		"Qwen/Qwen3-VL-30B":    "qwen-qwen3-vl-30b",
		"  llama__3.1 :: 8b  ": "llama-3-1-8b",
		"a":                    "a",
	} {
		got, err := KubeName(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}

func TestKubeNameRejects(t *testing.T) {
	for in, msg := range map[string]string{
		"":        "no letters or digits",
		"...":     "no letters or digits",
		"日本語":     "no letters or digits",
		"7b-chat": "start the name with a letter",
		"a-very-long-model-name-that-goes-on-and-on": "longer than 40",
	} {
		_, err := KubeName(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg, in)
	}
}
