// The gateway pod's memory: what nginx holds at worst, term by term (docs/gateway.md, "Memory").

package gateway

import "github.com/llm-platform/llm-platform/components/gateway/nginx"

const (
	// masterMemory and workerMemory are nginx at rest: the master, and each worker with its Lua VM,
	// modules and compiled code, its connection table sized for the whole pod's streams and room for
	// its Lua heap's garbage (measured with gateway-bench -burst: 12 MiB for a warm worker at 4,000
	// streams).
	masterMemory = 16 << 20
	workerMemory = 48 << 20
	// streamState is nginx's memory per open stream besides its request body: 17.8-18.9 KiB
	// measured (gateway-bench -capacity, docs/gateway.md "Capacity").
	streamState = 20 << 10
)

// MemoryLimit is the gateway container's memory limit for p rendered with workers nginx workers:
//
//	nginx at rest                           master + workers x worker (masterMemory, workerMemory)
//	+ shared memory                         every lua_shared_dict and limit_conn zone (p.SharedMemory)
//	+ maxStreams x (state + allowance)      each stream's connections and a body of up to 16 KiB
//	+ body budget                           the bodies beyond their allowance, pod-wide (p.BodyBudget):
//	                                        a large body's file pages and nginx's buffer, a small one
//	                                        twice; the router refuses a body past it (503) unread
//
// Every term is bounded by the design, so a burst of the largest bodies at the stream limit stays
// under it. The sum is rounded up to a whole MiB.
func MemoryLimit(p nginx.Params, workers int) int64 {
	rest := masterMemory + int64(workers)*workerMemory
	streams := int64(p.MaxStreams) * (streamState + nginx.StreamBodyAllowance)
	limit := rest + p.SharedMemory() + streams + p.BodyBudget()
	return (limit + 1<<20 - 1) &^ (1<<20 - 1)
}
