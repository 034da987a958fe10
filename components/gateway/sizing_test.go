package gateway

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
)

// TestMemoryLimit works the formula through (MiB): nginx at rest (a master of 16, workers of 48),
// shared dicts 14 (metrics 10, ledger 2, body budget 1, limit_conn 1), streams x 52 KiB (20 of state, 32 of
// body allowance), and the body budget: 8 maximum-size bodies, each its file's pages and nginx's
// 1 MiB buffer (a body of at most 1.25 MiB stays in memory, held twice).
func TestMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	limit := func(streams int, maxBody int64, workers int, edit func(*nginx.Params)) int64 {
		p := nginx.Params{MaxStreams: streams, MaxBodySize: maxBody}
		if edit != nil {
			edit(&p)
		}
		return MemoryLimit(p, workers) / mib
	}
	for _, tc := range []struct {
		name string
		got  int64
		want int64
	}{
		{"defaults: 16 + 2 x 48 + 14 + 203.1 + 8 x 17", limit(4000, 16*mib, 2, nil), 466},
		{"1,000 more streams: + 50.8", limit(5000, 16*mib, 2, nil), 516},
		{"32 MiB bodies: budget 8 x 33", limit(4000, 32*mib, 2, nil), 594},
		{"1 MiB bodies: in memory, held twice: budget 8 x 2", limit(4000, mib, 2, nil), 346},
		{"a third worker", limit(4000, 16*mib, 3, nil), 514},
		{"an explicit body budget of 300", limit(4000, 16*mib, 2, func(p *nginx.Params) { p.BodyMemory = 300 * mib }), 630},
		{"replica routing: DNS 1, load 4, prefix index 10", limit(4000, 16*mib, 2, func(p *nginx.Params) {
			p.Routes = []nginx.Route{{Name: "m", Upstream: "m:8000", Endpoints: "m-headless:8000"}}
			p.Routing = nginx.DefaultRouting()
		}), 481},
	} {
		assert.Equal(t, tc.want, tc.got, tc.name)
	}
}
