package vllmsim

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ttftBuckets are vLLM's buckets for vllm:time_to_first_token_seconds.
var ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
	1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}

// metrics are one replica's counters, guarded by its engine's lock.
type metrics struct {
	received         int64 // requests submitted to the engine
	success          int64
	preemptions      int64
	promptTokens     int64
	generationTokens int64
	prefixQueries    int64     // tokens looked up in the prefix cache
	prefixHits       int64     // of which found
	ttftCounts       [22]int64 // one per ttftBuckets entry (cumulative, as Prometheus wants)
	ttftSum          float64
	ttftCount        int64
}

func (m *metrics) observeTTFT(sec float64) {
	for i, b := range ttftBuckets {
		if sec <= b {
			m.ttftCounts[i]++
		}
	}
	m.ttftSum += sec
	m.ttftCount++
}

// Stats are a replica's counters at one moment (simulated seconds for TTFT).
type Stats struct {
	Received, Success, Preemptions int64
	PromptTokens, GenerationTokens int64
	PrefixQueries, PrefixHits      int64
	Running, Waiting               int
	KVUsage                        float64
	TTFTCount                      int64
	TTFTSum                        float64
}

// Sub is the difference of two snapshots of the counters (gauges are s's).
func (s Stats) Sub(o Stats) Stats {
	s.Received -= o.Received
	s.Success -= o.Success
	s.Preemptions -= o.Preemptions
	s.PromptTokens -= o.PromptTokens
	s.GenerationTokens -= o.GenerationTokens
	s.PrefixQueries -= o.PrefixQueries
	s.PrefixHits -= o.PrefixHits
	s.TTFTCount -= o.TTFTCount
	s.TTFTSum -= o.TTFTSum
	return s
}

// writeMetrics writes the replica's Prometheus text exposition with vLLM's current names.
func writeMetrics(w io.Writer, model string, m *metrics, running, waiting int, kvUsage float64) {
	l := `{model_name="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(model) + `"}`
	g := func(name, help, typ string, v string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s%s %s\n", name, help, name, typ, name, l, v)
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	g("vllm:num_requests_running", "Number of requests in model execution batches.", "gauge", strconv.Itoa(running))
	g("vllm:num_requests_waiting", "Number of requests waiting to be processed.", "gauge", strconv.Itoa(waiting))
	g("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", "gauge", strconv.FormatFloat(kvUsage, 'g', -1, 64))
	g("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.", "counter", i(m.prefixQueries))
	g("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.", "counter", i(m.prefixHits))
	g("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", "counter", i(m.preemptions))
	g("vllm:prompt_tokens_total", "Number of prefill tokens processed.", "counter", i(m.promptTokens))
	g("vllm:generation_tokens_total", "Number of generation tokens processed.", "counter", i(m.generationTokens))
	fmt.Fprintf(w, "# HELP vllm:request_success_total Count of successfully processed requests.\n# TYPE vllm:request_success_total counter\n")
	fmt.Fprintf(w, "vllm:request_success_total{finished_reason=\"length\",%s %d\n", l[1:], m.success)
	name := "vllm:time_to_first_token_seconds"
	fmt.Fprintf(w, "# HELP %s Histogram of time to first token in seconds.\n# TYPE %s histogram\n", name, name)
	for k, b := range ttftBuckets {
		fmt.Fprintf(w, "%s_bucket{le=\"%s\",%s %d\n", name, strconv.FormatFloat(b, 'g', -1, 64), l[1:], m.ttftCounts[k])
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\",%s %d\n", name, l[1:], m.ttftCount)
	fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", name, l, strconv.FormatFloat(m.ttftSum, 'g', -1, 64), name, l, m.ttftCount)
}
