package gateway

import "github.com/llm-platform/llm-platform/internal/capacity"

// The gateway container's resource requests. nginx spends tens of microseconds of CPU per
// request (docs/gateway.md), so half a core carries thousands of requests a second; the worker
// count, not the request, sets how many cores it may use. The stack's capacity check counts
// these against the system pool.
const (
	CPURequest    = "500m"
	MemoryRequest = "256Mi"
)

// Requests are CPURequest and MemoryRequest as capacity.Resources.
var Requests = capacity.MustParse(CPURequest, MemoryRequest)
