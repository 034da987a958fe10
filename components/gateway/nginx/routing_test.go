package nginx

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/dnstest"
)

// Replica-aware routing against real nginx + Lua: fake replicas on 127.0.x.y:8000, found
// through a DNS server of the test's own.

const routedModel = "qwen3-0.6b"

// oneModel: a gateway for routedModel over replicas rs (its DNS name answers their addresses),
// with fallback as the Service.
func oneModel(t *testing.T, strategy string, rs []*replica, opts ...gatewayOption) routed {
	t.Helper()
	dns := dnstest.New(t)
	dns.Set(modelHost(1), addrs(rs...))
	fallback := newBackend(t, "service", nil)
	g := startRouted(t, dns, []Route{{Name: routedModel, Upstream: fallback.addr(), Endpoints: modelHost(1) + ":8000"}}, strategy, opts...)
	t.Cleanup(func() { assert.Zero(t, fallback.count(), "the Service is only for names never resolved") })
	return g
}

func replicas(t *testing.T, n int) []*replica {
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = newReplica(t, fmt.Sprintf("r%d", i))
	}
	return rs
}

func byName(rs []*replica) map[string]*replica {
	m := map[string]*replica{}
	for _, r := range rs {
		m[r.name] = r
	}
	return m
}

func TestRoutingEndpointsFollowDNS(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 3)
	g := oneModel(t, StrategyRoundRobin, rs[:1])
	for range 3 {
		got, r := g.send(t, chat(routedModel))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Equal(t, "r0", got)
	}
	assert.Equal(t, modelHost(1)+":8000", rs[0].lastHost(), "the Host is the headless Service's, as Istio routes by it")

	// Two more replicas appear.
	g.dns.Set(modelHost(1), addrs(rs...))
	g.waitResolved(t, modelHost(1), 2)
	seen := map[string]int{}
	for range 9 {
		got, _ := g.send(t, chat(routedModel))
		seen[got]++
	}
	assert.Equal(t, map[string]int{"r0": 3, "r1": 3, "r2": 3}, seen, "round-robin over all three")

	// The first two disappear.
	g.dns.Set(modelHost(1), addrs(rs[2]))
	g.waitResolved(t, modelHost(1), 2)
	before := []int{rs[0].count(), rs[1].count()}
	for range 6 {
		got, _ := g.send(t, chat(routedModel))
		assert.Equal(t, "r2", got)
	}
	assert.Equal(t, before, []int{rs[0].count(), rs[1].count()}, "no request for a replica that left the DNS answer")
}

func TestRoutingNoEndpointsAnswers503AtOnce(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 1)
	g := oneModel(t, StrategyPrefix, rs)
	got, _ := g.send(t, chat(routedModel))
	require.Equal(t, "r0", got)

	g.dns.Set(modelHost(1), nil) // no ready pod: the headless Service has no records
	g.waitResolved(t, modelHost(1), 2)
	r := g.post(t, "/v1/chat/completions", chat(routedModel))
	e := assertGatewayError(t, r, http.StatusServiceUnavailable, "model_unavailable")
	assert.Equal(t, "server_error", e["type"])
	assert.Equal(t, fmt.Sprint(UnavailableRetryAfter), r.Header.Get("Retry-After"))

	g.dns.Remove(modelHost(1)) // NXDOMAIN (what CoreDNS answers then): the same
	g.waitResolved(t, modelHost(1), 2)
	r = g.post(t, "/v1/chat/completions", chat(routedModel))
	assertGatewayError(t, r, http.StatusServiceUnavailable, "model_unavailable")
	assert.Equal(t, 1, rs[0].count())
}

func TestRoutingFallsBackToTheServiceWhileDNSNeverAnswered(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 1)
	dns := dnstest.New(t)
	dns.Fail(true)
	fallback := newBackend(t, "service", nil)
	g := startRouted(t, dns, []Route{{Name: routedModel, Upstream: fallback.addr(), Endpoints: modelHost(1) + ":8000"}}, StrategyPrefix)
	body := chat(routedModel)
	assertRouted(t, g.post(t, "/v1/chat/completions", body), fallback, []byte(body))

	dns.Set(modelHost(1), addrs(rs...))
	dns.Fail(false)
	g.waitResolved(t, modelHost(1), 2)
	got, _ := g.send(t, body)
	assert.Equal(t, "r0", got)
	// A DNS failure later keeps the last answer.
	dns.Fail(true)
	g.waitResolved(t, modelHost(1), 2)
	got, _ = g.send(t, body)
	assert.Equal(t, "r0", got)
	assert.Equal(t, 1, fallback.count())
}
