package observability

import (
	"slices"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
)

// The one list of metric names the dashboards and rules may use. A test parses every PromQL
// expression and fails on a metric outside it, so a renamed or removed metric (vLLM dropped
// vllm:gpu_cache_usage_perc, vllm:gpu_prefix_cache_* and vllm:time_per_output_token_seconds)
// cannot linger in a panel that would silently show nothing.

// Metric is one metric family: its name, type and who exports it.
type Metric struct {
	Name   string
	Type   string // counter, gauge or histogram
	Source string // vllm, gateway, dcgm, kube-state-metrics, prometheus
}

// vLLM's metric names (current vLLM, V1 engine). Every series carries model_name (the served
// name) and engine.
const (
	VLLMTimeToFirstToken   = "vllm:time_to_first_token_seconds"
	VLLMInterTokenLatency  = "vllm:inter_token_latency_seconds"
	VLLME2ELatency         = "vllm:e2e_request_latency_seconds"
	VLLMQueueTime          = "vllm:request_queue_time_seconds"
	VLLMRunning            = "vllm:num_requests_running"
	VLLMWaiting            = "vllm:num_requests_waiting"
	VLLMKVCacheUsage       = "vllm:kv_cache_usage_perc" // a fraction, 0-1
	VLLMPrefixCacheQueries = "vllm:prefix_cache_queries_total"
	VLLMPrefixCacheHits    = "vllm:prefix_cache_hits_total"
	VLLMPromptTokens       = "vllm:prompt_tokens_total"
	VLLMGenerationTokens   = "vllm:generation_tokens_total"
	VLLMPreemptions        = "vllm:num_preemptions_total"
	VLLMRequestSuccess     = "vllm:request_success_total" // by finished_reason
	VLLMModelLabel         = "model_name"
	GatewayModelLabel      = "model"
	DCGMGPUUtil            = "DCGM_FI_DEV_GPU_UTIL"    // percent, per GPU, with pod/namespace of its user
	DCGMFramebufferUsed    = "DCGM_FI_DEV_FB_USED"     // MiB
	DCGMFramebufferFree    = "DCGM_FI_DEV_FB_FREE"     // MiB
	DCGMPowerUsage         = "DCGM_FI_DEV_POWER_USAGE" // W
	KSMStatefulSetReady    = "kube_statefulset_status_replicas_ready"
	KSMStatefulSetReplicas = "kube_statefulset_replicas"
	PrometheusUp           = "up"
)

// Metrics are every metric the dashboards and rules may name.
var Metrics = func() []Metric {
	ms := []Metric{
		{VLLMTimeToFirstToken, "histogram", "vllm"},
		{VLLMInterTokenLatency, "histogram", "vllm"},
		{VLLME2ELatency, "histogram", "vllm"},
		{VLLMQueueTime, "histogram", "vllm"},
		{VLLMRunning, "gauge", "vllm"},
		{VLLMWaiting, "gauge", "vllm"},
		{VLLMKVCacheUsage, "gauge", "vllm"},
		{VLLMPrefixCacheQueries, "counter", "vllm"},
		{VLLMPrefixCacheHits, "counter", "vllm"},
		{VLLMPromptTokens, "counter", "vllm"},
		{VLLMGenerationTokens, "counter", "vllm"},
		{VLLMPreemptions, "counter", "vllm"},
		{VLLMRequestSuccess, "counter", "vllm"},
		{DCGMGPUUtil, "gauge", "dcgm"},
		{DCGMFramebufferUsed, "gauge", "dcgm"},
		{DCGMFramebufferFree, "gauge", "dcgm"},
		{DCGMPowerUsage, "gauge", "dcgm"},
		{KSMStatefulSetReady, "gauge", "kube-state-metrics"},
		{KSMStatefulSetReplicas, "gauge", "kube-state-metrics"},
		{PrometheusUp, "gauge", "prometheus"},
	}
	for _, g := range append(slices.Clip(nginx.GatewayMetrics), nginx.TenantMetrics...) {
		ms = append(ms, Metric{g.Name, g.Type, "gateway"})
	}
	return ms
}()

// SeriesNames are the names a query may use: each metric's, and a histogram's _bucket, _sum
// and _count series.
func SeriesNames() []string {
	var names []string
	for _, m := range Metrics {
		if m.Type == "histogram" {
			names = append(names, m.Name+"_bucket", m.Name+"_sum", m.Name+"_count")
			continue
		}
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names
}

// RemovedVLLMMetrics are names older vLLM exported and current vLLM does not: never use them.
var RemovedVLLMMetrics = []string{
	"vllm:gpu_cache_usage_perc", "vllm:gpu_prefix_cache_queries", "vllm:gpu_prefix_cache_hits",
	"vllm:gpu_prefix_cache_queries_total", "vllm:gpu_prefix_cache_hits_total",
	"vllm:time_per_output_token_seconds",
}
