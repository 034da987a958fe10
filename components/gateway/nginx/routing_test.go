package nginx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/dnstest"
)

// Replica-aware routing against real nginx + Lua: fake replicas on 127.0.x.y:8000, found
// through a DNS server of the test's own.

const routedModel = "qwen3-0.6b"

// idleService is a model's ClusterIP Service whose pods are not ready: its /health answers
// 503 (a sidecar's answer; without one kube-proxy refuses the connection), anything else is
// echoed (so a request that reaches it shows).
func idleService(t *testing.T) *backend {
	t.Helper()
	var b *backend
	b = newBackend(t, "service", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			b.mu.Lock()
			b.reqs = b.reqs[:len(b.reqs)-1] // not a request the gateway routed
			b.mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"backend":"service","path":%q}`, r.URL.Path)
	})
	return b
}

// oneModel: a gateway for routedModel over replicas rs (its DNS name answers their addresses),
// with fallback as the Service.
func oneModel(t *testing.T, strategy string, rs []*replica, opts ...gatewayOption) routed {
	t.Helper()
	dns := dnstest.New(t)
	dns.Set(modelHost(1), addrs(rs...))
	fallback := idleService(t)
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

	// The metrics: two refusals for want of a replica (not routed 5xx), nothing left in flight.
	sums := series(g.scrape(t))
	assert.Equal(t, 2.0, sums[fmt.Sprintf("%s{reason=%q}", MetricRefused, RefusedUnavailable)])
	assert.Equal(t, 2.0, sums[req(routedModel, OutcomeRefused, "5xx")])
	assert.Zero(t, sums[req(routedModel, OutcomeRouted, "5xx")])
	assert.Equal(t, 0.0, sums[fmt.Sprintf("%s{model=%q}", MetricInFlight, routedModel)])
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

func TestRoutingKnownPrefixGoesToTheReplicaThatServedIt(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 4)
	byN := byName(rs)
	g := oneModel(t, StrategyPrefix, rs)
	system := longText("support bot", 1500)

	// Conversations: each next turn goes where the earlier turns went.
	for i := range 6 {
		user := fmt.Sprintf("question %d: %s", i, longText(fmt.Sprint(i), 300))
		first, r := g.send(t, chatWith(routedModel, system, user))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		for turn := range 3 {
			user += fmt.Sprintf(" follow-up %d", turn)
			got, _ := g.send(t, chatWith(routedModel, system, user))
			assert.Equal(t, first, got, "conversation %d turn %d", i, turn)
		}
	}

	// The index, not only the hash of the first block: the replica the shared prompt would
	// hash to is overloaded, so a new conversation goes elsewhere, and its next turn follows it
	// there while the first replica is still overloaded (no other replica holds the prompt).
	// Once that replica is idle again the conversation returns to it, where every other pod
	// sends the prompt (TestRoutingPodReturnsToTheSharedReplica).
	home, _ := g.send(t, chatWith(routedModel, system, "another question"))
	byN[home].waiting.Store(1000)
	byN[home].waitScrapes(t, 2)
	user := "a question asked while " + home + " is overloaded " + longText("x", 200)
	moved, _ := g.send(t, chatWith(routedModel, system, user))
	require.NotEqual(t, home, moved, "an overloaded replica is passed over")
	require.NotEmpty(t, moved)
	user += " and a follow-up"
	got, _ := g.send(t, chatWith(routedModel, system, user))
	assert.Equal(t, moved, got, "the longest known prefix was served by %s", moved)
	byN[home].waiting.Store(0)
	byN[home].waitScrapes(t, 2)
	got, _ = g.send(t, chatWith(routedModel, system, user+" and another"))
	assert.Equal(t, home, got, "the prompt returns to its rendezvous replica once it is idle")
}

func TestRoutingOverloadedReplicaIsPassedOver(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 4)
	byN := byName(rs)
	g := oneModel(t, StrategyPrefix, rs)
	const session = "conversation-42"
	first, _ := g.send(t, chat(routedModel), "X-Session-Id", session)
	require.NotEmpty(t, first)
	for range 3 {
		got, _ := g.send(t, chatWith(routedModel, longText("unrelated", 400), "hi"), "X-Session-Id", session)
		require.Equal(t, first, got, "the session sticks while its replica is not overloaded")
	}
	// Far above the average (another gateway pod's load shows in vLLM's own queue).
	byN[first].waiting.Store(50)
	byN[first].waitScrapes(t, 2)
	second, _ := g.send(t, chat(routedModel), "X-Session-Id", session)
	assert.NotEqual(t, first, second, "a replica far above the model's average load is passed over")
	for range 3 {
		got, _ := g.send(t, chat(routedModel), "X-Session-Id", session)
		assert.Equal(t, second, got, "the session sticks to its new replica")
	}
	// Slightly above the average is not overloaded: the bound is loadFactor x (average + 1).
	byN[second].waiting.Store(1)
	byN[second].waitScrapes(t, 2)
	got, _ := g.send(t, chat(routedModel), "X-Session-Id", session)
	assert.Equal(t, second, got)
}

func TestRoutingSessionAffinity(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 4)
	g := oneModel(t, StrategyPrefix, rs)
	spread := map[string]bool{}
	for s := range 8 {
		header := fmt.Sprintf("session-%d", s)
		first := ""
		for i := range 5 {
			// Unrelated prompts: only the session ties them together.
			body := chatWith(routedModel, longText(fmt.Sprintf("%d-%d", s, i), 300), "hello")
			got, r := g.send(t, body, "X-Session-Id", header)
			require.Equal(t, http.StatusOK, r.Status)
			if first == "" {
				first = got
			}
			assert.Equal(t, first, got, "session %s request %d", header, i)
		}
		spread[first] = true
	}
	assert.Greater(t, len(spread), 1, "sessions are spread over the replicas")

	// The OpenAI "user" field does the same.
	first := ""
	for i := range 5 {
		body := fmt.Sprintf(`{"model":%q,"user":"alice@example.com","messages":[{"role":"user","content":%q}]}`,
			routedModel, longText(fmt.Sprint("user", i), 300))
		got, _ := g.send(t, body)
		if first == "" {
			first = got
		}
		assert.Equal(t, first, got, "user request %d", i)
	}
}

func TestRoutingLeastLoadEvensOutInFlight(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 4)
	for _, r := range rs {
		r.holdRequests()
	}
	g := oneModel(t, StrategyLeastLoad, rs)
	total := func() int64 {
		var n int64
		for _, r := range rs {
			n += r.inflight.Load()
		}
		return n
	}
	var wg sync.WaitGroup
	statuses := make(chan int, 8)
	for i := range 8 {
		wg.Go(func() {
			resp, err := client.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(chat(routedModel)))
			if err != nil {
				statuses <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			statuses <- resp.StatusCode
		})
		// One at a time: the next request is sent once this one is held by a replica.
		eventually(t, fmt.Sprintf("%d requests held", i+1), func() bool { return total() == int64(i+1) })
	}
	for _, r := range rs {
		assert.Equal(t, int64(2), r.inflight.Load(), "replica %s", r.name)
	}
	for _, r := range rs {
		r.release()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		assert.Equal(t, http.StatusOK, s)
	}
}

func TestRoutingTwoGatewaysAgreeOnNewPrefixes(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 4)
	dns := dnstest.New(t)
	dns.Set(modelHost(1), addrs(rs...))
	routes := []Route{{Name: routedModel, Upstream: "127.0.0.1:9", Endpoints: modelHost(1) + ":8000"}}
	g1 := startRouted(t, dns, routes, StrategyPrefix)
	g2 := startRouted(t, dns, routes, StrategyPrefix)
	spread := map[string]bool{}
	for i := range 12 {
		system := longText(fmt.Sprintf("system prompt %d", i), 4000)
		a, ra := g1.send(t, chatWith(routedModel, system, "hi"))
		b, rb := g2.send(t, chatWith(routedModel, system, "hi"))
		require.Equal(t, http.StatusOK, ra.Status)
		require.Equal(t, http.StatusOK, rb.Status)
		assert.Equal(t, a, b, "prefix %d: two gateways with no shared state pick the same replica", i)
		spread[a] = true
		// Conversations go on (new prefixes are a minority, as where they will be reused).
		for turn := range 3 {
			g1.send(t, chatWith(routedModel, system, fmt.Sprintf("hi, follow-up %d", turn)))
			g2.send(t, chatWith(routedModel, system, fmt.Sprintf("hello, follow-up %d", turn)))
		}
	}
	assert.Greater(t, len(spread), 1, "new prefixes are spread over the replicas")
}

// Where nearly every prompt is new (unique prompts), placing them alike in every pod gains
// nothing: the lean fades and each new prompt goes to the replica this pod picked least
// recently, which spreads them evenly (the rendezvous hash would pile some up by chance).
func TestRoutingUniquePromptsGoRoundTheReplicas(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 4)
	g := oneModel(t, StrategyPrefix, rs)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			got, r := g.send(t, chatWith(routedModel, longText(fmt.Sprintf("unique %d", i), 4000), "hi"))
			require.Equal(t, http.StatusOK, r.Status)
			require.NotEmpty(t, got)
		}
	}
	send(0, 24) // the lean fades as new prompt follows new prompt
	before := map[string]int{}
	for _, r := range rs {
		before[r.name] = r.count()
	}
	send(24, 56)
	for _, r := range rs {
		// (each nginx worker keeps its own least-recent order: one either way)
		assert.InDelta(t, 8, r.count()-before[r.name], 1, "replica %s: 32 unique prompts go round the 4 replicas", r.name)
	}
}

func TestRoutingRetriesARefusedConnectionOnAnotherReplica(t *testing.T) {
	t.Parallel()
	r0 := newReplica(t, "r0")
	dead := unusedReplicaIP(t)
	dns := dnstest.New(t)
	// A long TTL: the answer is not refreshed on schedule during the test, so a new query
	// can only be the refresh a failed connection asks for.
	dns.SetTTL(modelHost(1), 3600, []netip.Addr{dead, r0.ip})
	g := startRouted(t, dns, []Route{{Name: routedModel, Upstream: "127.0.0.1:9", Endpoints: modelHost(1) + ":8000"}}, StrategyRoundRobin)
	eventually(t, "the first resolution", func() bool { return dns.Queries(modelHost(1)) > 0 })
	queried := dns.Queries(modelHost(1))
	for i := range 6 {
		body := chat(routedModel)
		got, r := g.send(t, body)
		require.Equal(t, http.StatusOK, r.Status, "request %d: %s", i, r.Body)
		assert.Equal(t, "r0", got)
	}
	assert.Equal(t, 6, r0.count(), "each request reached r0 exactly once")
	log := g.errorLog(t)
	assert.Contains(t, log, "Connection refused", "the dead replica was tried")
	assert.Equal(t, 1, strings.Count(log, "Connection refused"), "then passed over while marked failed")
	eventually(t, "the failed connection makes the gateway resolve the name again", func() bool {
		return dns.Queries(modelHost(1)) > queried
	})
}

func TestRoutingDoesNotRetryAResetAfterTheRequestWasSent(t *testing.T) {
	t.Parallel()
	bad, good := newReplica(t, "bad"), newReplica(t, "good")
	bad.reset.Store(true)
	dns := dnstest.New(t)
	dns.Set(modelHost(1), addrs(bad, good))
	g := startRouted(t, dns, []Route{{Name: routedModel, Upstream: "127.0.0.1:9", Endpoints: modelHost(1) + ":8000"}}, StrategyRoundRobin)
	hit := false
	for i := 0; i < 4 && !hit; i++ {
		badBefore, goodBefore := bad.count(), good.count()
		r := g.post(t, "/v1/chat/completions", chat(routedModel))
		if bad.count() == badBefore {
			require.Equal(t, http.StatusOK, r.Status)
			continue
		}
		hit = true
		assertGatewayError(t, r, http.StatusBadGateway, "bad_gateway")
		assert.Equal(t, badBefore+1, bad.count(), "sent once")
		assert.Equal(t, goodBefore, good.count(), "a POST that reached a replica is never resent to another")
	}
	require.True(t, hit, "round-robin sends one of the first requests to the resetting replica")
	assert.Contains(t, g.errorLog(t), "reset by peer")
}

// Two models balanced over their own replicas and a third on its Service, under 64 concurrent
// clients: every answer comes from a replica of the requested model.
func TestRoutingNothingMisroutesAcrossModels(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	a := []*replica{newReplica(t, "a0"), newReplica(t, "a1"), newReplica(t, "a2")}
	b := []*replica{newReplica(t, "b0"), newReplica(t, "b1"), newReplica(t, "b2")}
	c := newBackend(t, "c", nil)
	dns := dnstest.New(t)
	dns.Set(modelHost(1), addrs(a...))
	dns.Set(modelHost(2), addrs(b...))
	g := startRouted(t, dns, []Route{
		{Name: modelA, Upstream: "127.0.0.1:9", Endpoints: modelHost(1) + ":8000"},
		{Name: modelB, Upstream: "127.0.0.1:9", Endpoints: modelHost(2) + ":8000"},
		{Name: modelC, Upstream: c.addr()},
	}, StrategyPrefix, withParams(func(p *Params) { p.Runtime.WorkerProcesses = 2 }))
	owners := map[string]string{"a0": modelA, "a1": modelA, "a2": modelA, "b0": modelB, "b1": modelB, "b2": modelB, "c": modelC}
	models := []string{modelA, modelB, modelC}
	const clients, requests = 64, 3000
	lc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	var (
		next, misrouted, failed atomic.Int64
		wg                      sync.WaitGroup
		once                    sync.Once
		problem                 string
	)
	deadline := time.Now().Add(60 * time.Second)
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= requests || time.Now().After(deadline) {
					return
				}
				m := models[i%3]
				var body string
				switch i % 4 {
				case 0: // a shared system prompt
					body = chatWith(m, longText("shared", 600), fmt.Sprint("q", i))
				case 1: // a session
					body = fmt.Sprintf(`{"model":%s,"user":"u%d","messages":[{"role":"user","content":"hi"}]}`, jsonString(m), i%7)
				default:
					body = chatWith(m, longText(fmt.Sprint(i), 200), "x")
				}
				resp, err := lc.Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					failed.Add(1)
					once.Do(func() { problem = err.Error() })
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				got := resp.Header.Get("X-Backend")
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					once.Do(func() { problem = fmt.Sprintf("status %d", resp.StatusCode) })
				} else if owners[got] != m {
					misrouted.Add(1)
					once.Do(func() { problem = fmt.Sprintf("request %d for %q answered by %q", i, m, got) })
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(requests), min(next.Load(), requests), "the load test did not finish in time")
	assert.Zero(t, misrouted.Load(), "misrouted; first problem: %s", problem)
	assert.Zero(t, failed.Load(), "failed; first problem: %s", problem)
	total := c.count()
	for _, r := range append(a, b...) {
		total += r.count()
		assert.Positive(t, r.count(), "replica %s got work", r.name)
	}
	assert.Equal(t, requests, total, "every request reached exactly one replica")
}

// A request that ends on one of the gateway's error pages (an internal redirect, which loses
// ngx.ctx) still gives its replica's in-flight count back: otherwise the replica would look
// busy for ever and least-load would never pick it again.
func TestRoutingInFlightCountsSurviveErrorPages(t *testing.T) {
	t.Parallel()
	a, b := newReplica(t, "a"), newReplica(t, "b")
	a.reset.Store(true)
	g := oneModel(t, StrategyLeastLoad, []*replica{a, b})
	eventually(t, "a request reaches the resetting replica", func() bool {
		r := g.post(t, "/v1/chat/completions", chat(routedModel))
		if r.Status != http.StatusOK {
			assertGatewayError(t, r, http.StatusBadGateway, "bad_gateway")
		}
		return a.count() > 0
	})
	a.reset.Store(false)
	before := a.count()
	// Once its failure mark has expired, a (idle) ties with b (idle) and gets picked again;
	// with a leaked count it never would.
	eventually(t, "the replica that failed is picked again", func() bool {
		got, r := g.send(t, chat(routedModel))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		require.NotEmpty(t, got)
		return a.count() > before
	})
}

// A prefix nobody has served goes to its rendezvous replica only while that replica costs at
// most the rendezvous lean (weights.newPrefix KiB of prompt) more than the cheapest: nothing is
// cached for it yet, so a busier replica is not worth waiting for.
func TestRoutingNewPrefixAvoidsABusierRendezvousReplica(t *testing.T) {
	t.Parallel()
	a, b := newReplica(t, "a"), newReplica(t, "b")
	dns := dnstest.New(t)
	dns.Set(modelHost(1), addrs(a, b))
	routes := []Route{{Name: routedModel, Upstream: "127.0.0.1:9", Endpoints: modelHost(1) + ":8000"}}
	probe := startRouted(t, dns, routes, StrategyPrefix) // learns where new prefixes go when idle
	fresh := startRouted(t, dns, routes, StrategyPrefix) // sees each prefix for the first time
	var toA []string
	for i := 0; len(toA) < 2 && i < 64; i++ {
		body := chatWith(routedModel, longText(fmt.Sprintf("prompt %d", i), 4000), "hi")
		if got, _ := probe.send(t, body); got == "a" {
			toA = append(toA, body)
		}
	}
	require.Len(t, toA, 2, "some new prefixes hash to a")

	a.waiting.Store(1) // one request waiting: well within the lean, still a
	a.waitScrapes(t, 4)
	got, _ := fresh.send(t, toA[0])
	assert.Equal(t, "a", got, "within the lean of the least loaded, the rendezvous replica is kept")

	// 100 requests of other pods waiting: 25 KiB at weight running 0.25 a request, past the
	// lean (at most 16 KiB for this ~4 KiB prompt): b
	a.waiting.Store(100)
	a.waitScrapes(t, 4)
	got, _ = fresh.send(t, toA[1])
	assert.Equal(t, "b", got, "a new prefix does not wait behind a busier replica")
}

// cachedDocument starts a prefix gateway over two replicas and sends a first question on a
// 20 KB document, longer than the hashed window (a follow-up is all cached): the gateway, its
// replicas, the document and the replica that now caches it.
func cachedDocument(t *testing.T) (routed, []*replica, string, *replica) {
	t.Helper()
	rs := replicas(t, 2)
	g := oneModel(t, StrategyPrefix, rs)
	document := longText("handbook", 20000)
	home, r := g.send(t, chatWith(routedModel, document, "first question"))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	return g, rs, document, byName(rs)[home]
}

// vLLM's waiting count at a replica includes this pod's own requests waiting there, which the
// pod already counts exactly; priced again as other pods' work, they made the replica that
// holds a prompt in its cache look busy, and the prompt's next turn left it (long documents
// lost their cache with a single gateway pod).
func TestRoutingOwnWaitingRequestsAreNotCountedAsOtherPods(t *testing.T) {
	t.Parallel()
	g, rs, document, h := cachedDocument(t)
	home := h.name
	ask := func(question string) <-chan asyncAnswer {
		return g.postAsync(context.Background(), chatWith(routedModel, document, question))
	}
	h.holdRequests()
	defer h.release()
	const held = 8
	answers := make([]<-chan asyncAnswer, 0, held+1)
	for i := range held {
		answers = append(answers, ask(fmt.Sprintf("question %d", i)))
		eventually(t, fmt.Sprintf("%d questions held at %s", i+1, home), func() bool { return h.inflight.Load() == int64(i+1) })
	}
	// What vLLM reports of them: all waiting (none has had a first token).
	h.waiting.Store(held)
	h.waitScrapes(t, 2)
	received := func() (n int) {
		for _, x := range rs {
			n += x.count()
		}
		return n
	}
	sent := received()
	answers = append(answers, ask("one more question"))
	// Picked while the eight still wait: released only once it reached a replica.
	eventually(t, "the last question reaches a replica", func() bool { return received() > sent })
	h.release()
	for i, ch := range answers {
		a := <-ch
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		if i == held {
			assert.Equal(t, home, a.header.Get("X-Backend"), "the document is cached at %s, and nobody else waits there", home)
		}
	}
}

// Other pods' requests waiting at a replica weigh as requests (weights.running each), not as
// prompt work: vLLM gives only their count, and priced as prompts (the count x a mean prompt)
// it moved cached prompts off the replicas that held them in every pod at once; three pods lost
// their prefix-cache hits under load (docs/routing.md, "Other pods' waiting requests").
func TestRoutingOtherPodsWaitingRequestsDoNotMoveACachedPrompt(t *testing.T) {
	t.Parallel()
	g, _, document, h := cachedDocument(t)
	// 40 requests of other pods wait there: 10 KiB at running 0.25, less than the 40 KiB the
	// document would cost elsewhere (prefix 2 x 20 KiB). Priced as 40 x this pod's mean prompt
	// (20 KiB so far), 800 KiB.
	h.waiting.Store(40)
	h.waitScrapes(t, 2)
	for i := range 3 {
		got, r := g.send(t, chatWith(routedModel, document, fmt.Sprintf("question %d", i)))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Equal(t, h.name, got, "question %d: the document is cached at %s", i, h.name)
	}
}

// Requests whose client gave up before the first answer byte no longer count as prompt work
// queued at their replica: bytes left behind would make it look busy for good, and the pod would
// send it nothing while another replica is free.
func TestRoutingAbortedRequestsLeaveNoQueuedPrompt(t *testing.T) {
	t.Parallel()
	a, b := newReplica(t, "a"), newReplica(t, "b")
	rs := []*replica{a, b}
	g := oneModel(t, StrategyLeastLoad, rs) // no lean, no cache: the queued bytes decide
	prompt := func(i int) string { return chatWith(routedModel, longText(fmt.Sprintf("prompt %d", i), 16000), "hi") }
	for _, r := range rs {
		r.holdRequests()
	}
	var atA, atB []<-chan asyncAnswer
	var abandon []context.CancelFunc
	for i := range 4 { // least-load alternates: two wait at each replica
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		before := a.inflight.Load()
		answer := g.postAsync(ctx, prompt(i))
		eventually(t, fmt.Sprintf("%d requests held", i+1), func() bool { return a.inflight.Load()+b.inflight.Load() == int64(i+1) })
		if a.inflight.Load() > before {
			atA, abandon = append(atA, answer), append(abandon, cancel)
		} else {
			atB = append(atB, answer)
		}
	}
	require.Len(t, atA, 2, "two requests wait at each replica")
	for _, cancel := range abandon { // a's clients give up before a first byte
		cancel()
	}
	for _, ch := range atA {
		require.Error(t, (<-ch).err, "the client gave up")
	}
	eventually(t, "a sees its requests end", func() bool { return a.inflight.Load() == 0 })
	b.release()
	for _, ch := range atB {
		r := <-ch
		require.NoError(t, r.err)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	a.release()
	// Both idle now: each nginx worker alternates its ties, so of four requests (two workers at
	// most) a gets one or more. With a's abandoned prompts (32 KiB) still counted there, every
	// one would go to b.
	got := map[string]int{}
	for i := range 4 {
		name, r := g.send(t, prompt(100+i))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		got[name]++
	}
	assert.Positive(t, got["a"], "abandoned requests left prompt work counted at a: %v", got)
}
