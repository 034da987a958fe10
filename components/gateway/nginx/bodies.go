// Request bodies in memory (bodies.lua.tmpl, scan.lua.tmpl): how routing reads them and how much
// memory they may hold.

package nginx

import "time"

const (
	// InPlaceBodyMax: a body up to this size is read by pointer through nginx's $request_body:
	// nginx's own buffer, or one copy in the request's memory pool when nginx holds the body in two
	// pieces (its first bytes arrived with the headers), kept as long as the request. A larger body
	// is copied into Lua, one at a time per worker, and freed as soon as it is routed.
	InPlaceBodyMax = 1 << 20
	// StreamBodyAllowance is what every stream may hold for its body without drawing on the body
	// budget (BodyCost at most this much: bodies up to 16 KiB, a chat with a long system prompt).
	StreamBodyAllowance = 32 << 10
	// DefaultLargeBodies: the body budget is this many maximum-size bodies unless
	// Params.BodyMemory says otherwise.
	DefaultLargeBodies = 8
	// MaxJSONDepth is the deepest nesting a body may have: lua-cjson's decode_max_depth default,
	// which the gateway kept as long as it decoded bodies, and which the scanner keeps.
	MaxJSONDepth = 1000
	// BodyCopyWait bounds how long a large body waits for its worker's copy slot (503 after it).
	BodyCopyWait = 30 * time.Second
	// ScanSlice is the most CPU time a body's scan takes before it lets the worker's other
	// requests run (it resumes at once after them).
	ScanSlice = 2 * time.Millisecond
	// bodiesDictSize holds the body budget's counters (a few keys).
	bodiesDictSize = 1 << 20
)

// BodyCost is the memory a request body of n bytes holds while its request lasts (see
// InPlaceBodyMax): twice its size up to InPlaceBodyMax, its size above.
func BodyCost(n int64) int64 {
	if n <= InPlaceBodyMax {
		return 2 * n
	}
	return n
}

// BodyBudget is the memory the pod's request bodies may hold beyond StreamBodyAllowance each:
// Params.BodyMemory, else DefaultLargeBodies maximum-size bodies. Past it, a request is answered
// 503 server_overloaded with Retry-After before its body is read.
func (p Params) BodyBudget() int64 {
	if p.BodyMemory > 0 {
		return p.BodyMemory
	}
	return DefaultLargeBodies * BodyCost(p.MaxBodySize)
}

// LargeBodyCopies is the memory the largest bodies' transient copies take at worst: in each worker,
// one body above InPlaceBodyMax copied into Lua (twice for a moment: the Lua module's own
// temporary copy and the string), 0 when no body can be that large.
func (p Params) LargeBodyCopies(workers int) int64 {
	if p.MaxBodySize <= InPlaceBodyMax {
		return 0
	}
	return int64(workers) * 2 * p.MaxBodySize
}
