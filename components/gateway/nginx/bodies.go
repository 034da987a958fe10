// Request bodies in memory (bodies.lua.tmpl, scan.lua.tmpl): how routing reads them and how much
// memory they may hold.

package nginx

import (
	"time"
)

const (
	// BodyBufferMax is client_body_buffer_size when the body limit is larger: nginx keeps a body of
	// up to 1.25 times its buffer in memory (the router reads it by pointer through $request_body:
	// nginx's own buffer, or one copy in the request's pool when its first bytes came with the
	// headers) and writes a larger one to a temporary file as it arrives, through the buffer (the
	// router maps the file read-only). Either way no body is copied into Lua, and a large body is
	// in memory once: its file's pages.
	BodyBufferMax = 1 << 20
	// StreamBodyAllowance is what every stream may hold for its body without drawing on the body
	// budget (a BodyCost of at most this much: bodies up to 16 KiB, a chat with a long system prompt).
	StreamBodyAllowance = 32 << 10
	// DefaultLargeBodies: the body budget is this many maximum-size bodies unless
	// Params.BodyMemory says otherwise.
	DefaultLargeBodies = 8
	// MaxJSONDepth is the deepest nesting a body may have: lua-cjson's decode_max_depth default,
	// which the gateway kept as long as it decoded bodies, and which the scanner keeps.
	MaxJSONDepth = 1000
	// ScanSlice is the most time a body's scan runs before it lets the worker's other requests
	// run (it resumes a millisecond later).
	ScanSlice = 2 * time.Millisecond
	// ScanAlone: bodies above this size are scanned one at a time per worker (each in slices), so
	// the worker's other requests wait for one slice, not one per large body; a body waits at
	// most TurnWait for its turn (then 503).
	ScanAlone = 64 << 10
	TurnWait  = 60 * time.Second
	// bodiesDictSize holds the body budget's counters (a few keys).
	bodiesDictSize = 1 << 20
)

// BodyBuffer is client_body_buffer_size: BodyBufferSize if set, else MaxBodySize up to
// BodyBufferMax.
func (p Params) BodyBuffer() int64 {
	if p.BodyBufferSize > 0 {
		return p.BodyBufferSize
	}
	return min(p.MaxBodySize, BodyBufferMax)
}

// InMemoryMax is the largest body nginx keeps in memory (1.25 times its buffer: nginx's rule).
func (p Params) InMemoryMax() int64 {
	b := p.BodyBuffer()
	return b + b/4
}

// BodyCost is the memory a request body of n bytes holds while its request lasts: in memory,
// twice its size (nginx's buffer and the pool copy the router may read); in a file, its pages and
// nginx's buffer.
func (p Params) BodyCost(n int64) int64 {
	if n <= p.InMemoryMax() {
		return 2 * n
	}
	return n + p.BodyBuffer()
}

// BodyBudget is the memory the pod's request bodies may hold beyond StreamBodyAllowance each:
// Params.BodyMemory, else DefaultLargeBodies maximum-size bodies. Past it, a request is answered
// 503 server_overloaded with Retry-After before its body is read.
func (p Params) BodyBudget() int64 {
	if p.BodyMemory > 0 {
		return p.BodyMemory
	}
	return DefaultLargeBodies * p.BodyCost(p.MaxBodySize)
}

// Shared memory zones (nginx.conf.tmpl). They count in the pod's memory (SharedMemory).
const (
	// metricsDictSize holds every series: a few hundred bytes each, so tens of thousands (models x
	// endpoints x labels) before nginx would evict any.
	metricsDictSize = 10 << 20
	// ledgerDictSize holds each worker's share of every gauge that goes up and down (models,
	// replicas and hold counts, times the workers alive, old ones included during a reload).
	ledgerDictSize = 2 << 20
	// streamsZoneSize is limit_conn's zone (one key).
	streamsZoneSize = 1 << 20
	// dnsDictSize and loadDictSize: the replicas' DNS answers and load figures (replica routing).
	dnsDictSize  = 1 << 20
	loadDictSize = 4 << 20
	// limitsDictSize is the tenants' limits' dict: the Redis script's SHA, the pods seen and the
	// fail-open local counts.
	limitsDictSize = 4 << 20
)

// SharedMemory is the shared memory the rendered nginx.conf declares: the metrics, the ledger, the
// body budget's counters, limit_conn's zone, with replica routing the DNS, load and prefix dicts
// and with tenants' limits the limits' dict.
func (p Params) SharedMemory() int64 {
	total := int64(metricsDictSize + ledgerDictSize + bodiesDictSize + streamsZoneSize)
	if p.HasEndpoints() {
		total += dnsDictSize + loadDictSize + p.Routing.IndexBytes()
	}
	if p.HasLimits() {
		total += limitsDictSize
	}
	return total
}
