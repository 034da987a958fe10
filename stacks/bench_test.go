package stacks

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/model"
)

// BenchmarkProgram runs the whole program under mocks with N models. The
// ms/model metric is the cost per model; it must stay flat as N grows
// (linear total cost).
func BenchmarkProgram(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		entries := make([]map[string]any, n)
		for i := range entries {
			entries[i] = map[string]any{
				"huggingfaceId":   fmt.Sprintf("org/model-%d", i),
				"modelName":       fmt.Sprintf("model-%d.v1", i),
				"gpuRequestCount": 1 + i%2,
				"replicas":        1 + i%2,
			}
		}
		models, err := json.Marshal(entries)
		require.NoError(b, err)
		config := map[string]string{"models": string(models), "hfToken": "hf_bench"}
		b.Run(fmt.Sprintf("models=%d", n), func(b *testing.B) {
			for b.Loop() {
				m, _, err := run(b, config, "hfToken")
				require.NoError(b, err)
				require.Len(b, m.ByType(model.Type), n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n)/1e6, "ms/model")
		})
	}
}
