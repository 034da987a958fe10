package nginx

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/dnstest"
	"github.com/llm-platform/llm-platform/internal/vllmsim"
)

// The gateway under hostile conditions, against real nginx + Lua, the vLLM simulator and the
// test DNS server: one test per fault, each stating what the client sees and what the gateway
// does (docs/gateway.md, "Failure behaviour", is the same table in prose). Every wait is
// bounded; holds and streams last a few seconds at most.

// simModel is a gateway for routedModel over n simulated replicas found through its own DNS
// server, with a Service (idle unless a test says otherwise) as the route's upstream.
type simModel struct {
	routed
	sim     *vllmsim.Sim
	ips     []netip.Addr
	service *backend
}

func startSimModel(t *testing.T, n int, params vllmsim.Params, strategy string, opts ...gatewayOption) simModel {
	t.Helper()
	sim, ips := startSim(t, n, routedModel, nil, params)
	dns := dnstest.New(t)
	dns.Set(modelHost(1), ips)
	svc := idleService(t)
	g := startRouted(t, dns, []Route{{Name: routedModel, Upstream: svc.addr(), Endpoints: modelHost(1) + ":8000"}}, strategy, opts...)
	return simModel{routed: g, sim: sim, ips: ips, service: svc}
}

// replicaNamed is the simulated replica at addr.
func (m simModel) replicaNamed(t testing.TB, addr string) *vllmsim.Replica {
	t.Helper()
	return simReplica(t, m.sim, addr)
}

// simReplica is sim's replica at addr.
func simReplica(t testing.TB, sim *vllmsim.Sim, addr string) *vllmsim.Replica {
	t.Helper()
	for _, r := range sim.Replicas {
		if r.Addr() == addr {
			return r
		}
	}
	t.Fatalf("no replica %q", addr)
	return nil
}

// simChat is a chat request for routedModel: content, at most maxTokens tokens, streamed or not.
func simChat(content string, maxTokens int, stream bool) string {
	return fmt.Sprintf(`{"model":%s,"max_tokens":%d,"stream":%t,"messages":[{"role":"user","content":%s}]}`,
		jsonString(routedModel), maxTokens, stream, jsonString(content))
}

// sessionPost sends body with the session header and returns the status and answering replica.
func (g routed) sessionPost(t testing.TB, session, body string) (int, string) {
	t.Helper()
	r := g.post(t, "/v1/chat/completions", body, "X-Session-Id", session)
	return r.Status, r.Header.Get(vllmsim.ReplicaHeader)
}

// pin sends a first request of session and returns the replica that served it.
func (m simModel) pin(t *testing.T, session string) string {
	t.Helper()
	status, home := m.sessionPost(t, session, simChat("hello", 1, false))
	require.Equal(t, http.StatusOK, status)
	return home
}

// assertSessionStays: n more requests of session are all served by home.
func (m simModel) assertSessionStays(t *testing.T, session, home string, n int, after string) {
	t.Helper()
	for i := range n {
		status, got := m.sessionPost(t, session, simChat(fmt.Sprint("next ", i), 1, false))
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, home, got, "request %d after %s stays on the session's replica", i, after)
	}
}

// assertStillHeld: the request whose answer comes on ch has none yet (it is held).
func assertStillHeld(t *testing.T, ch <-chan asyncAnswer) {
	t.Helper()
	select {
	case a := <-ch:
		t.Fatalf("answered %d instead of held: %s", a.status, a.body)
	default:
	}
}

// abandon sends body with the session header and gives up after wait, as a user pressing
// "stop" does; it returns the client's error (a deadline, never an answer).
func (g routed) abandon(session, body string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Session-Id", session)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	if err == nil {
		err = fmt.Errorf("answered %d before the client gave up", resp.StatusCode)
	}
	return err
}

func (g *gateway) metric(t testing.TB, key string) float64 {
	t.Helper()
	return series(g.scrape(t))[key]
}

// waitMetric waits until the series key reaches want.
func (g *gateway) waitMetric(t testing.TB, key string, want float64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s = %v", key, want), func() bool { return g.metric(t, key) == want })
}

func labelled(name, model, label, value string) string {
	return fmt.Sprintf("%s{model=%q,%s=%q}", name, model, label, value)
}

// assertNoReplicaFailure: the replicas of model were never counted as failed.
func assertNoReplicaFailure(t *testing.T, g *gateway, model string) {
	t.Helper()
	s := series(g.scrape(t))
	for _, reason := range ReplicaFailureReasons {
		key := labelled(MetricReplicaFailures, model, "reason", reason)
		v, ok := s[key]
		assert.True(t, ok, "%s is exported from the start", key)
		assert.Zero(t, v, key)
	}
}

// TestFaultClientAbortsLeaveTheReplicaAlone (finding 1): a client that gives up while its
// request waits in the replica's queue, is in prefill, or streams, is counted as an abort and
// says nothing about the replica: it is not passed over, and the session stays on it.
func TestFaultClientAbortsLeaveTheReplicaAlone(t *testing.T) {
	t.Parallel()
	t.Run("held", func(t *testing.T) {
		t.Parallel()
		params := vllmsim.Defaults()
		params.TimeScale = 0.05
		g := startColdWarm(t, 4, 30, params) // holds 1 request of the cold model at most
		held := fmt.Sprintf("%s{model=%q}", MetricHeld, coldModel)
		ctx, cancel := context.WithCancel(context.Background())
		first := g.postAsync(ctx, coldChat(1))
		g.waitMetric(t, held, 1)
		cancel()
		require.Error(t, (<-first).err)
		g.waitMetric(t, held, 0)
		assert.Equal(t, 1.0, g.metric(t, labelled(MetricClientAborts, coldModel, "phase", "held")))
		// Its place is free: the next request is held too, not refused.
		next := g.postAsync(context.Background(), coldChat(2))
		g.waitMetric(t, held, 1)
		assertStillHeld(t, next)
		assert.Zero(t, g.metric(t, fmt.Sprintf("%s{reason=%q}", MetricRefused, RefusedHoldFull)))
	})
	t.Run("queue", func(t *testing.T) {
		t.Parallel()
		params := vllmsim.Defaults()
		params.MaxNumSeqs = 1 // a second request waits for the first
		m := startSimModel(t, 2, params, StrategyLeastLoad)
		const session = "queued-user"
		home := m.pin(t, session)
		// A long answer for the same session takes the replica's only slot (about 1.3 s) ...
		blocker := make(chan int, 1)
		go func() {
			st, _ := m.sessionPost(t, session, simChat("a long answer", 40, false))
			blocker <- st
		}()
		eventually(t, "the long answer runs", func() bool { return m.replicaNamed(t, home).Stats().Running == 1 })
		// ... so the next one waits in the queue, and its user gives up.
		require.Error(t, m.abandon(session, simChat("never mind", 1, false), 300*time.Millisecond))
		m.waitMetric(t, labelled(MetricClientAborts, routedModel, "phase", "waiting"), 1)
		require.Equal(t, http.StatusOK, <-blocker)
		m.assertSessionStays(t, session, home, 4, "the abort")
		assertNoReplicaFailure(t, m.gateway, routedModel)
	})
	t.Run("prefill", func(t *testing.T) {
		t.Parallel()
		params := vllmsim.Defaults()
		params.PrefillTokensPerSec = 2000 // a 16 KB prompt takes 2 s
		m := startSimModel(t, 2, params, StrategyLeastLoad)
		const session = "impatient-user"
		home := m.pin(t, session)
		for i := range 3 {
			require.Error(t, m.abandon(session, simChat(longText(fmt.Sprint("document ", i), 16000), 1, false), 300*time.Millisecond))
		}
		m.waitMetric(t, labelled(MetricClientAborts, routedModel, "phase", "waiting"), 3)
		m.assertSessionStays(t, session, home, 6, "three abandoned prefills")
		assertNoReplicaFailure(t, m.gateway, routedModel)
	})
	t.Run("streaming", func(t *testing.T) {
		t.Parallel()
		m := startSimModel(t, 2, vllmsim.Defaults(), StrategyLeastLoad)
		const session = "reader"
		home := m.pin(t, session)
		// 100 tokens of 32 ms: the user reads the first two events and closes the tab.
		req, err := http.NewRequest(http.MethodPost, m.URL+"/v1/chat/completions", strings.NewReader(simChat("a story", 100, true)))
		require.NoError(t, err)
		req.Header.Set("X-Session-Id", session)
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.Equal(t, home, resp.Header.Get(vllmsim.ReplicaHeader))
		sc := bufio.NewScanner(resp.Body)
		for events := 0; events < 2 && sc.Scan(); {
			if strings.HasPrefix(sc.Text(), "data: ") {
				events++
			}
		}
		require.NoError(t, resp.Body.Close())
		m.waitMetric(t, labelled(MetricClientAborts, routedModel, "phase", "streaming"), 1)
		m.assertSessionStays(t, session, home, 4, "the closed stream")
		assertNoReplicaFailure(t, m.gateway, routedModel)
	})
}

// TestFaultKeepaliveRaceIsNotAReplicaFailure: a replica that closes a kept-alive connection as
// nginx sends on it (the keep-alive race) costs that one request a 502 (a POST is never
// resent), but the replica is not passed over: the session's next request opens a fresh
// connection to the same replica. A reset on a fresh connection is the replica's failure.
func TestFaultKeepaliveRaceIsNotAReplicaFailure(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 2)
	g := oneModel(t, StrategyLeastLoad, rs)
	byN := byName(rs)
	const session = "kept-alive"
	home, r := g.send(t, chat(routedModel), "X-Session-Id", session)
	require.Equal(t, http.StatusOK, r.Status)
	byN[home].closeReused.Store(true)
	// The next request reuses the idle connection, which the replica closes.
	_, r = g.send(t, chat(routedModel), "X-Session-Id", session)
	assertGatewayError(t, r, http.StatusBadGateway, "bad_gateway")
	assert.Equal(t, 2, byN[home].count(), "the request reached the replica once, and was not resent")
	for i := range 3 {
		got, r := g.send(t, chat(routedModel), "X-Session-Id", session)
		require.Equal(t, http.StatusOK, r.Status, "request %d: %s", i, r.Body)
		assert.Equal(t, home, got, "request %d: the session stays (a fresh connection each time)", i)
	}
	assertNoReplicaFailure(t, g.gateway, routedModel)

	// A replica that resets a fresh connection after reading the request did fail.
	bad := newReplica(t, "bad")
	bad.reset.Store(true)
	good := newReplica(t, "good")
	g2 := oneModel(t, StrategyLeastLoad, []*replica{bad, good})
	for i := 0; bad.count() == 0 && i < 32; i++ { // least-load breaks the tie at random
		got, r := g2.send(t, chat(routedModel))
		if got == "" {
			assertGatewayError(t, r, http.StatusBadGateway, "bad_gateway")
		}
	}
	require.Equal(t, 1, bad.count(), "one request reached the resetting replica")
	g2.waitMetric(t, labelled(MetricReplicaFailures, routedModel, "reason", "no_response"), 1)
	for i := range 4 {
		got, r := g2.send(t, chat(routedModel), "X-Session-Id", "s")
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "good", got, "request %d avoids the replica that failed", i)
	}
}

// TestFaultReplicaKilledMidStream: the client's stream ends (its chunked body is cut short, an
// error to any HTTP client) within moments, never hangs; the next requests avoid the replica
// (a refused connection is retried on the other one, and the dead one is passed over).
func TestFaultReplicaKilledMidStream(t *testing.T) {
	t.Parallel()
	m := startSimModel(t, 2, vllmsim.Defaults(), StrategyLeastLoad)
	resp := m.openStream(t, simChat("a long story", 150, true)) // 150 x 32 ms
	require.Equal(t, http.StatusOK, resp.StatusCode)
	victim := m.replicaNamed(t, resp.Header.Get(vllmsim.ReplicaHeader))
	sc := bufio.NewScanner(resp.Body)
	events := 0
	for events < 3 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			events++
		}
	}
	killed := time.Now()
	require.NoError(t, victim.SetFault(vllmsim.Fault{Mode: vllmsim.FaultRefuse}))
	done := false
	for sc.Scan() {
		line := sc.Text()
		done = done || line == "data: [DONE]"
		if strings.HasPrefix(line, "data: ") {
			events++
		}
	}
	assert.False(t, done, "the stream did not pretend to finish")
	assert.Less(t, events, 150, "it ended early")
	assert.ErrorIs(t, sc.Err(), io.ErrUnexpectedEOF, "the client can tell: the chunked body was cut short")
	// A bound on a failure, not a speed claim: nothing waited for a timeout.
	assert.Less(t, time.Since(killed), 5*time.Second, "the stream ended at once, it did not hang")

	// Every request is answered by the other replica: a refused connection is retried there.
	// The first refusal may be forgiven (the cut stream looked like a whole answer, so the
	// balancer took it for a pooled connection); a fresh one counts and the replica is passed over.
	failures := labelled(MetricReplicaFailures, routedModel, "reason", "connect")
	for i := 0; i < 12 && m.metric(t, failures) == 0; i++ {
		r := m.post(t, "/v1/chat/completions", simChat(fmt.Sprint("after ", i), 1, false))
		require.Equal(t, http.StatusOK, r.Status, "request %d: %s", i, r.Body)
		assert.NotEqual(t, victim.Addr(), r.Header.Get(vllmsim.ReplicaHeader))
	}
	require.Positive(t, m.metric(t, failures), "the refused connection counted")
	log := strings.Count(m.errorLog(t), "Connection refused")
	for i := range 4 {
		r := m.post(t, "/v1/chat/completions", simChat(fmt.Sprint("later ", i), 1, false))
		require.Equal(t, http.StatusOK, r.Status, "request %d: %s", i, r.Body)
	}
	assert.Equal(t, log, strings.Count(m.errorLog(t), "Connection refused"), "then the dead replica is not tried again")
}

// TestFaultSlowReplicaIsNotFailed: a replica that takes long to answer is slow, not failed:
// every request succeeds, and its session stays on it.
func TestFaultSlowReplicaIsNotFailed(t *testing.T) {
	t.Parallel()
	m := startSimModel(t, 2, vllmsim.Defaults(), StrategyLeastLoad)
	const session = "patient"
	home := m.pin(t, session)
	require.NoError(t, m.replicaNamed(t, home).SetFault(vllmsim.Fault{Delay: 1200 * time.Millisecond}))
	for i := range 3 {
		start := time.Now()
		status, got := m.sessionPost(t, session, simChat(fmt.Sprint("slow ", i), 1, false))
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, home, got, "request %d stays on the slow replica", i)
		assert.GreaterOrEqual(t, time.Since(start), time.Second, "it was slow")
	}
	assertNoReplicaFailure(t, m.gateway, routedModel)
}

// TestFaultReplicaAnswering5xx: a replica's 503 (vLLM shutting down) reaches the client as is,
// never resent; the replica is passed over and the session moves to the other one.
func TestFaultReplicaAnswering5xx(t *testing.T) {
	t.Parallel()
	m := startSimModel(t, 2, vllmsim.Defaults(), StrategyLeastLoad)
	const session = "unlucky"
	home := m.pin(t, session)
	sick := m.replicaNamed(t, home)
	sick.Drain() // answers every new request 503, and closes its idle connections
	var r response
	for range 3 {
		r = m.post(t, "/v1/chat/completions", simChat("now", 1, false), "X-Session-Id", session)
		if r.Status != http.StatusBadGateway {
			break // a 502 is the keep-alive race: nginx reused the connection Drain was closing
		}
	}
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
	assert.Contains(t, string(r.Body), "shutting down", "vLLM's own answer, passed through")
	m.waitMetric(t, labelled(MetricReplicaFailures, routedModel, "reason", "status_5xx"), 1)
	for i := range 4 {
		status, got := m.sessionPost(t, session, simChat(fmt.Sprint("retry ", i), 1, false))
		require.Equal(t, http.StatusOK, status)
		assert.NotEqual(t, home, got, "request %d goes to the replica that works", i)
	}
}

// coldWarm is a gateway for a cold model (scaled to zero: its DNS name lists no replica; held
// up to hold seconds) and a warm one, under maxStreams.
type coldWarm struct {
	routed
	warm    *vllmsim.Sim
	warmIP  netip.Addr
	coldURL string
}

const warmModel = "warm-model"

func startColdWarm(t *testing.T, maxStreams, hold int, warmParams vllmsim.Params, opts ...gatewayOption) coldWarm {
	t.Helper()
	sim, ips := startSim(t, 1, warmModel, nil, warmParams)
	dns := dnstest.New(t)
	dns.Set(modelHost(1), nil) // cold: the Service exists, no pod is ready
	dns.Set(modelHost(2), ips)
	opts = append([]gatewayOption{withParams(func(p *Params) { p.MaxStreams = maxStreams })}, opts...)
	g := startRouted(t, dns, []Route{
		{Name: coldModel, Upstream: "127.0.0.1:9", Endpoints: modelHost(1) + ":8000", HoldSeconds: hold},
		{Name: warmModel, Upstream: "127.0.0.1:9", Endpoints: modelHost(2) + ":8000"},
	}, StrategyLeastLoad, opts...)
	return coldWarm{routed: g, warm: sim, warmIP: ips[0]}
}

func coldChat(i int) string {
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"batch item %d"}]}`, coldModel, i)
}

// postAsync sends body in the background; the answer arrives on the channel.
func (g routed) postAsync(ctx context.Context, body string) <-chan asyncAnswer {
	return coldStart{routed: g}.postAsync(ctx, body)
}

// TestFaultColdModelCannotTakeEveryStreamSlot (finding 2): with 3 streams per pod, a cold
// model holds 1 request (a tenth of 3, at least 1; all models together at most half);
// the other two get 503 model_unavailable with Retry-After at once, and a warm model is served.
func TestFaultColdModelCannotTakeEveryStreamSlot(t *testing.T) {
	t.Parallel()
	params := vllmsim.Defaults()
	params.TimeScale = 0.05
	g := startColdWarm(t, 3, 30, params)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	answers := make(chan asyncAnswer, 3)
	for i := range 3 {
		go func() { answers <- <-g.postAsync(ctx, coldChat(i)) }()
	}
	refused := 0
	for deadline := time.After(2 * time.Second); refused < 3; {
		select {
		case a := <-answers:
			require.NoError(t, a.err)
			assertGatewayError(t, response{Status: a.status, ContentType: a.header.Get("Content-Type"), Header: a.header, Body: a.body},
				http.StatusServiceUnavailable, "model_unavailable")
			assert.Equal(t, fmt.Sprint(UnavailableRetryAfter), a.header.Get("Retry-After"))
			refused++
			continue
		case <-deadline:
		}
		break
	}
	assert.Equal(t, 2, refused, "past the hold bound the answer is at once; one request is held")
	g.waitMetric(t, fmt.Sprintf("%s{model=%q}", MetricHeld, coldModel), 1)
	assert.Equal(t, 2.0, g.metric(t, fmt.Sprintf("%s{reason=%q}", MetricRefused, RefusedHoldFull)))
	for i := range 3 {
		r := g.post(t, "/v1/chat/completions", fmt.Sprintf(`{"model":%q,"max_tokens":2,"messages":[{"role":"user","content":"hi %d"}]}`, warmModel, i))
		require.Equal(t, http.StatusOK, r.Status, "the warm model keeps its slots: %s", r.Body)
	}
}

// warmClient streams requests for warmModel in a loop until ctx ends, recording each request's
// time to its first event (TTFT as the client sees it) and any failure.
type warmClient struct {
	mu       sync.Mutex
	ttft     []time.Duration
	failures []string
}

func (w *warmClient) run(ctx context.Context, url, phase string, id int) {
	c := &http.Client{Timeout: 20 * time.Second}
	for i := 0; ctx.Err() == nil; i++ {
		body := fmt.Sprintf(`{"model":%q,"stream":true,"max_tokens":4,"messages":[{"role":"user","content":%q}]}`,
			warmModel, longText(fmt.Sprintf("%s client %d request %d", phase, id, i), 1200))
		start := time.Now()
		resp, err := c.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			w.fail(err.Error())
			continue
		}
		first, done := time.Duration(0), false
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") && first == 0 {
				first = time.Since(start)
			}
			done = done || sc.Text() == "data: [DONE]"
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !done {
			w.fail(fmt.Sprintf("status %d, complete %t", resp.StatusCode, done))
			continue
		}
		w.mu.Lock()
		w.ttft = append(w.ttft, first)
		w.mu.Unlock()
	}
}

func (w *warmClient) fail(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures = append(w.failures, s)
}

func p90(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	slices.Sort(s)
	return s[(len(s)*9+9)/10-1]
}

// warmPhase runs clients warm clients for d and returns what they saw. Prompts are distinct
// across phases (no phase finds another's prompts in the prefix cache).
func warmPhase(url, phase string, clients int, d time.Duration) *warmClient {
	w := &warmClient{}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { w.run(ctx, url, phase, i) })
	}
	wg.Wait()
	return w
}

// TestFaultColdBurstWhileWarmModelServes (acceptance): a burst of 10x the hold bound for a
// cold model, its clients retrying after 0.1 s whatever Retry-After says, while a warm model
// serves 4 concurrent streams: every warm request succeeds, and the warm model's TTFT p90
// stays within 1.5x of its value without the burst (both measured here, side by side).
func TestFaultColdBurstWhileWarmModelServes(t *testing.T) {
	t.Parallel()
	params := vllmsim.Defaults()
	params.PrefillTokensPerSec = 4000 // a 1,200-byte prompt: 75 ms of prefill
	const maxStreams, clients, phase = 40, 4, 3 * time.Second
	perModel, _ := HoldLimits(maxStreams, DefaultHoldShare)
	g := startColdWarm(t, maxStreams, 30, params)

	warmPhase(g.URL, "warm-up", clients, 500*time.Millisecond) // connections, DNS answers
	quiet := warmPhase(g.URL, "quiet", clients, phase)

	// The burst: 10x the bound, each client sending again as soon as it is refused.
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg           sync.WaitGroup
		mu           sync.Mutex
		refused      int
		slowRefusals []time.Duration
		wrong        []string
	)
	for i := range 10 * perModel {
		wg.Go(func() {
			for j := 0; ctx.Err() == nil; j++ {
				start := time.Now()
				a := <-g.postAsync(ctx, coldChat(i*1000+j))
				if a.err != nil {
					return // the test is over: the held client leaves
				}
				mu.Lock()
				if a.status == http.StatusServiceUnavailable && strings.Contains(string(a.body), "model_unavailable") &&
					a.header.Get("Retry-After") == fmt.Sprint(UnavailableRetryAfter) {
					refused++
					if d := time.Since(start); d > time.Second {
						slowRefusals = append(slowRefusals, d)
					}
				} else {
					wrong = append(wrong, fmt.Sprintf("%d %s", a.status, a.body))
				}
				mu.Unlock()
				time.Sleep(100 * time.Millisecond) // 50 times sooner than Retry-After says
			}
		})
	}
	heldMax := 0.0
	sampler := make(chan struct{})
	go func() {
		defer close(sampler)
		for ctx.Err() == nil {
			heldMax = max(heldMax, g.metric(t, fmt.Sprintf("%s{model=%q}", MetricHeld, coldModel)))
			time.Sleep(100 * time.Millisecond)
		}
	}()
	eventually(t, "the bound is reached", func() bool {
		return g.metric(t, fmt.Sprintf("%s{model=%q}", MetricHeld, coldModel)) >= float64(perModel)
	})
	burst := warmPhase(g.URL, "burst", clients, phase)
	cancel()
	wg.Wait()
	<-sampler

	assert.Empty(t, quiet.failures, "warm requests without the burst")
	assert.Empty(t, burst.failures, "every warm request succeeds during the burst")
	require.GreaterOrEqual(t, len(quiet.ttft), 10)
	require.GreaterOrEqual(t, len(burst.ttft), 10)
	a, b := p90(quiet.ttft), p90(burst.ttft)
	t.Logf("warm TTFT p90: %v without the burst (%d requests), %v during it (%d requests): ratio %.2f; "+
		"cold requests refused at once: %d, held at most %v (bound %d)", a, len(quiet.ttft), b, len(burst.ttft),
		float64(b)/float64(a), refused, heldMax, perModel)
	assert.LessOrEqual(t, float64(b), 1.5*float64(a), "TTFT p90 during the burst within 1.5x of without")
	assert.Positive(t, refused, "the burst was refused past the bound")
	assert.Empty(t, slowRefusals, "refusals past the bound come at once")
	assert.Empty(t, wrong, "a cold request is held or refused model_unavailable with Retry-After, nothing else")
	assert.LessOrEqual(t, heldMax, float64(perModel), "never more held than the bound")
}

// TestFaultPollingThroughTheMesh (finding 3): replicas behind Istio's sidecar, which answers
// HTTP/1.0 with 426, and send their /metrics chunked (here in 7-byte chunks that split every
// line). The gateway reads their queues, so an overloaded replica is passed over. A replica
// whose /metrics fails is counted and logged at warn once, not at every poll.
func TestFaultPollingThroughTheMesh(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 2)
	for _, r := range rs {
		r.envoy.Store(true)
	}
	byN := byName(rs)
	g := oneModel(t, StrategyPrefix, rs)
	const session = "meshed"
	first, _ := g.send(t, chat(routedModel), "X-Session-Id", session)
	require.NotEmpty(t, first)
	byN[first].waiting.Store(50)
	byN[first].waitScrapes(t, 2)
	second, _ := g.send(t, chat(routedModel), "X-Session-Id", session)
	assert.NotEqual(t, first, second, "the queue read through the sidecar shows the replica is overloaded")
	for _, reason := range PollFailureReasons {
		assert.Zero(t, g.metric(t, labelled(MetricPollFailures, routedModel, "reason", reason)), reason)
	}

	// Blind: the sidecar answers 503 for one replica's /metrics.
	byN[second].metricsStatus.Store(http.StatusServiceUnavailable)
	byN[second].waitScrapes(t, 2)
	// The replica has answered the second scrape; the gateway counts the failure after it
	// reads that answer (and metrics.lua's counters reach the shared dict a moment later).
	assert.Eventually(t, func() bool {
		return g.metric(t, labelled(MetricPollFailures, routedModel, "reason", "status")) >= 2
	}, 3*time.Second, 50*time.Millisecond, "both failed reads counted")
	blind := "cannot read " + byN[second].addr() + "/metrics"
	assert.Equal(t, 1, strings.Count(g.errorLog(t), blind), "logged once, at warn")
	assert.Contains(t, g.errorLog(t), "[warn]")
	byN[second].metricsStatus.Store(0)
	byN[second].waitScrapes(t, 2)
	byN[second].metricsStatus.Store(http.StatusServiceUnavailable)
	byN[second].waitScrapes(t, 2)
	assert.Equal(t, 2, strings.Count(g.errorLog(t), blind), "logged again once it failed again after working")
}

// rawPost sends a request with target exactly as given (no client normalises it) and returns
// the status.
func rawPost(t *testing.T, addr, target, key, body string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nConnection: close\r\n\r\n%s", target, key, len(body), body)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestFaultPathTricksReachOnlyTheAuthorizedPath (finding 4): the model server gets the path
// the gateway matched and authorized, normalized and re-escaped, never the raw request line:
// encoded dot segments and slashes cannot reach /metrics (or anything outside /v1/), an
// encoded "?" stays in the path, an encoded line break stays encoded.
func TestFaultPathTricksReachOnlyTheAuthorizedPath(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	var headers []http.Header
	model := newBackend(t, "model", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen, headers = append(seen, r.RequestURI), append(headers, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
	g := startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
		withKeys(t, map[string][]string{"default": {"k1"}}))
	addr := strings.TrimPrefix(g.URL, "http://")
	for _, tc := range []struct{ target, upstream string }{
		// The encodings, and more; "" = answered by the gateway, never proxied.
		{"/metrics/..%2Fv1/chat/completions", "/v1/chat/completions"},
		{"/health/%2e%2e/v1/chat/completions", "/v1/chat/completions"},
		{"/v1/chat/completions%2F..%2F..%2Fmetrics", "/v1/metrics"},
		{"/v1/chat/completions/..%2f..%2fmetrics", "/v1/metrics"},
		{"/v1/%2e%2e/metrics", ""},
		{"/v1/..%2Fmetrics", ""},
		{"/v1/chat/%2e%2e%2f%2e%2e%2fhealth", ""},
		{"//v1//chat/./completions", "/v1/chat/completions"},
		{"/v1/chat%2Fcompletions", "/v1/chat/completions"},
		{"/v1/x/..%5cmetrics", "/v1/x/..%5Cmetrics"},
		{"/v1/chat/completions%3Fx=1", "/v1/chat/completions%3Fx=1"},
		{"/v1/chat/completions%0d%0aX-Injected:%20yes", "/v1/chat/completions%0D%0AX-Injected:%20yes"},
		{"/v1/%252e%252e/metrics", "/v1/%252e%252e/metrics"},
		{"/v1/chat/completions?next=%2F..%2Fmetrics", "/v1/chat/completions?next=%2F..%2Fmetrics"},
	} {
		mu.Lock()
		before := len(seen)
		mu.Unlock()
		status := rawPost(t, addr, tc.target, "k1", chat(modelA))
		mu.Lock()
		got := seen[before:]
		mu.Unlock()
		if tc.upstream == "" {
			assert.Equal(t, http.StatusNotFound, status, "%s: the gateway's own 404", tc.target)
			assert.Empty(t, got, "%s: nothing proxied", tc.target)
			continue
		}
		assert.Equal(t, http.StatusOK, status, tc.target)
		if assert.Len(t, got, 1, tc.target) {
			assert.Equal(t, tc.upstream, got[0], "%s: what the model server got", tc.target)
		}
	}
	for _, h := range headers {
		assert.Empty(t, h.Get("X-Injected"), "no header smuggled through the path")
	}
	// Without the key, none of it reaches the model server.
	mu.Lock()
	before := len(seen)
	mu.Unlock()
	assert.Equal(t, http.StatusUnauthorized, rawPost(t, addr, "/metrics/..%2Fv1/chat/completions", "wrong", chat(modelA)))
	mu.Lock()
	assert.Len(t, seen, before)
	mu.Unlock()
}

// liveService is a model's ClusterIP Service that reaches a ready pod: /health answers 200,
// anything else is echoed with the name "service".
func liveService(t *testing.T) *backend {
	t.Helper()
	return newBackend(t, "service", nil)
}

// TestFaultDNSFaultsKeepTheLastAnswer (finding 5): truncated answers whose TCP retry fails,
// garbage, silence and SERVFAIL are failed queries: the last good answer stays in use
// (requests keep reaching the replicas), and each is counted by reason.
func TestFaultDNSFaultsKeepTheLastAnswer(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 2)
	g := oneModel(t, StrategyRoundRobin, rs)
	serve := func(what string) {
		for i := range 4 {
			got, r := g.send(t, chat(routedModel))
			require.Equal(t, http.StatusOK, r.Status, "%s, request %d: %s", what, i, r.Body)
			assert.Contains(t, []string{"r0", "r1"}, got)
		}
	}
	serve("a good answer")
	for _, tc := range []struct {
		name, reason string
		fault        func()
	}{
		{"truncated, TCP refused", "truncated", func() { g.dns.SetUDPFault(dnstest.UDPTruncateEmpty); g.dns.SetTCP(false) }},
		{"cut mid-record, TCP refused", "truncated", func() { g.dns.SetUDPFault(dnstest.UDPTruncateMidRecord) }},
		{"garbage", "malformed", func() { g.dns.SetUDPFault(dnstest.UDPGarbage) }},
		{"silent", "no_answer", func() { g.dns.SetUDPFault(dnstest.UDPSilent) }},
		{"SERVFAIL", "rcode", func() { g.dns.SetUDPFault(dnstest.UDPNormal); g.dns.Fail(true) }},
	} {
		key := labelled(MetricDNSFailures, routedModel, "reason", tc.reason)
		before := g.metric(t, key)
		tc.fault()
		g.waitResolved(t, modelHost(1), 2) // the gateway has asked since
		serve(tc.name)
		assert.Greater(t, g.metric(t, key), before, "%s counted", tc.name)
	}
	assert.Zero(t, g.metric(t, fmt.Sprintf("%s{model=%q}", MetricServiceFallback, routedModel)), "seconds of failures are not stale")
}

// TestFaultDNSTruncatedAnswersAreReadOverTCP: a truncated answer, even one cut mid-record, is
// asked again over TCP, and the whole answer there is what counts (a new replica list).
func TestFaultDNSTruncatedAnswersAreReadOverTCP(t *testing.T) {
	t.Parallel()
	rs := replicas(t, 3)
	g := oneModel(t, StrategyRoundRobin, rs[:2])
	g.dns.SetUDPFault(dnstest.UDPTruncateMidRecord)
	g.dns.Set(modelHost(1), addrs(rs[2]))
	g.waitResolved(t, modelHost(1), 2)
	for i := range 4 {
		got, r := g.send(t, chat(routedModel))
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "r2", got, "request %d: the list read over TCP", i)
	}
}

// TestFaultDNSDownPastTheBoundFallsBackToTheService (finding 5): the DNS server goes away; its
// last answer is used for a bounded time (3 s here, 5 minutes by default), then, since pods may
// have rotated meanwhile, requests go to the model's ClusterIP Service. Here the replica the
// answer named is gone too: without the bound every request would be a 502 for good.
func TestFaultDNSDownPastTheBoundFallsBackToTheService(t *testing.T) {
	t.Parallel()
	old := newReplica(t, "old")
	dns := dnstest.New(t)
	dns.Set(modelHost(1), addrs(old))
	svc := liveService(t)
	g := startRouted(t, dns, []Route{{Name: routedModel, Upstream: svc.addr(), Endpoints: modelHost(1) + ":8000"}}, StrategyLeastLoad,
		withParams(func(p *Params) { p.dnsStaleAfter = 3 * time.Second }))
	got, _ := g.send(t, chat(routedModel))
	require.Equal(t, "old", got)
	dns.Close()
	got, _ = g.send(t, chat(routedModel))
	assert.Equal(t, "old", got, "the last answer, while it is recent")
	require.NoError(t, old.srv.Close()) // the pod is replaced while the DNS is down
	eventually(t, "requests reach the Service", func() bool {
		r := g.post(t, "/v1/chat/completions", chat(routedModel))
		return r.Status == http.StatusOK && r.Header.Get("X-Backend") == "service"
	})
	assert.Equal(t, 1.0, g.metric(t, fmt.Sprintf("%s{model=%q}", MetricServiceFallback, routedModel)))
	assert.Positive(t, g.metric(t, labelled(MetricDNSFailures, routedModel, "reason", "no_answer")))
	assert.Contains(t, g.errorLog(t), "go to its Service")
}

// TestFaultDNSEmptyWhileTheServiceServes (finding 5): the DNS lists no replica, but the
// model's Service answers /health: its requests go to the Service (not a 503, not a hold),
// and back to the replicas once the DNS lists them again.
func TestFaultDNSEmptyWhileTheServiceServes(t *testing.T) {
	t.Parallel()
	r0 := newReplica(t, "r0")
	dns := dnstest.New(t)
	dns.Set(modelHost(1), nil)
	dns.Set(modelHost(2), nil)
	svc, coldSvc := liveService(t), liveService(t)
	g := startRouted(t, dns, []Route{
		{Name: routedModel, Upstream: svc.addr(), Endpoints: modelHost(1) + ":8000"},
		{Name: coldModel, Upstream: coldSvc.addr(), Endpoints: modelHost(2) + ":8000", HoldSeconds: 30},
	}, StrategyLeastLoad)
	for _, m := range []struct {
		name string
		svc  *backend
	}{{routedModel, svc}, {coldModel, coldSvc}} {
		g.waitMetric(t, fmt.Sprintf("%s{model=%q}", MetricServiceFallback, m.name), 1)
		start := time.Now()
		r := g.post(t, "/v1/chat/completions", chat(m.name))
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", m.name, r.Body)
		assert.Equal(t, "service", r.Header.Get("X-Backend"), m.name)
		assert.Less(t, time.Since(start), 2*time.Second, "%s: not held", m.name)
	}
	dns.Set(modelHost(1), addrs(r0))
	g.waitMetric(t, fmt.Sprintf("%s{model=%q}", MetricServiceFallback, routedModel), 0)
	got, _ := g.send(t, chat(routedModel))
	assert.Equal(t, "r0", got, "back to the replicas")
}

// endpointSeries are the per-endpoint in-flight series of model, by endpoint.
func endpointSeries(t testing.TB, g *gateway, model string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	prefix := fmt.Sprintf("%s{endpoint=", MetricEndpointInFlight)
	for k, v := range series(g.scrape(t)) {
		if strings.HasPrefix(k, prefix) && strings.HasSuffix(k, fmt.Sprintf(",model=%q}", model)) {
			out[strings.Trim(strings.Split(strings.TrimPrefix(k, prefix), ",")[0], `"`)] = v
		}
	}
	return out
}

// TestFaultDepartedReplicasLeaveNoState (finding 6): three rollouts, each replacing the model's
// replica; the per-endpoint series of replicas that left are dropped (state bounded by the
// replicas there are, not the ones there were), but only once their requests have ended.
func TestFaultDepartedReplicasLeaveNoState(t *testing.T) {
	t.Parallel()
	first := newReplica(t, "gen0")
	g := oneModel(t, StrategyLeastLoad, []*replica{first})
	got, _ := g.send(t, chat(routedModel))
	require.Equal(t, "gen0", got)
	first.holdRequests() // a long request stays on the first replica through the rollouts
	inflight := make(chan int, 1)
	go func() {
		resp, err := (&http.Client{}).Post(g.URL+"/v1/chat/completions", "application/json", strings.NewReader(chat(routedModel)))
		if err != nil {
			inflight <- 0
			return
		}
		_ = resp.Body.Close()
		inflight <- resp.StatusCode
	}()
	eventually(t, "the long request runs", func() bool { return first.inflight.Load() == 1 })
	var last *replica
	for gen := 1; gen <= 3; gen++ {
		last = newReplica(t, fmt.Sprint("gen", gen))
		g.dns.Set(modelHost(1), addrs(last))
		if gen == 1 {
			g.waitResolved(t, modelHost(1), 2) // until then a request could wait on gen0
		}
		eventually(t, last.name+" serves", func() bool {
			got, r := g.send(t, chat(routedModel))
			require.Equal(t, http.StatusOK, r.Status)
			return got == last.name
		})
	}
	want := map[string]float64{first.addr(): 1, last.addr(): 0}
	eventually(t, "only the current replica and the one still answering remain", func() bool {
		return assert.ObjectsAreEqual(want, endpointSeries(t, g.gateway, routedModel))
	})
	first.release()
	require.Equal(t, http.StatusOK, <-inflight)
	eventually(t, "the first replica's series goes once its request ended", func() bool {
		return assert.ObjectsAreEqual(map[string]float64{last.addr(): 0}, endpointSeries(t, g.gateway, routedModel))
	})
}

// counts are the gauges that must come back to 0 once nothing is in flight.
func counts(t testing.TB, g *gateway, models ...string) map[string]float64 {
	t.Helper()
	s := series(g.scrape(t))
	out := map[string]float64{}
	for k, v := range s {
		for _, m := range models {
			if strings.HasSuffix(k, fmt.Sprintf("model=%q}", m)) &&
				(strings.HasPrefix(k, MetricInFlight+"{") || strings.HasPrefix(k, MetricHeld+"{") || strings.HasPrefix(k, MetricEndpointInFlight+"{")) {
				out[k] = v
			}
		}
	}
	return out
}

func zeroed(c map[string]float64) bool {
	for _, v := range c {
		if v != 0 {
			return false
		}
	}
	return len(c) > 0
}

// holdingAndStreaming is a one-worker gateway for a cold model (held requests) and a warm one
// on a replica that keeps its requests open until released; one request of each in flight.
type holdingAndStreaming struct {
	routed
	warm      *replica
	held      <-chan asyncAnswer
	streaming <-chan asyncAnswer
}

func startHoldingAndStreaming(t *testing.T) holdingAndStreaming {
	t.Helper()
	warm := newReplica(t, "warm")
	warm.holdRequests()
	dns := dnstest.New(t)
	dns.Set(modelHost(1), nil)
	dns.Set(modelHost(2), addrs(warm))
	// 4 streams: one held request per model, two for all models.
	g := startRouted(t, dns, []Route{
		{Name: coldModel, Upstream: "127.0.0.1:9", Endpoints: modelHost(1) + ":8000", HoldSeconds: 30},
		{Name: warmModel, Upstream: "127.0.0.1:9", Endpoints: modelHost(2) + ":8000"},
	}, StrategyLeastLoad, withParams(func(p *Params) { p.MaxStreams = 4 }))
	h := holdingAndStreaming{routed: g, warm: warm}
	h.held = g.postAsync(context.Background(), coldChat(1))
	h.streaming = g.postAsync(context.Background(), chat(warmModel))
	g.waitMetric(t, fmt.Sprintf("%s{model=%q}", MetricHeld, coldModel), 1)
	eventually(t, "the warm request runs", func() bool { return warm.inflight.Load() == 1 })
	return h
}

// TestFaultCrashedWorkerCountsAreTakenBack (finding 6): a worker killed with requests in flight
// (held and proxied) never runs their log phase; what it had counted is taken back once it is
// gone, so no gauge stays up for good and the hold bound is free again.
func TestFaultCrashedWorkerCountsAreTakenBack(t *testing.T) {
	t.Parallel()
	h := startHoldingAndStreaming(t)
	h.expectLog("exited on signal 9")
	workers := h.proc.Workers()
	require.Len(t, workers, 1)
	before := counts(t, h.gateway, coldModel, warmModel)
	require.False(t, zeroed(before), "requests are counted in flight: %v", before)
	require.NoError(t, syscall.Kill(workers[0], syscall.SIGKILL))
	assert.Error(t, (<-h.held).err, "the killed worker's clients lose their connection")
	assert.Error(t, (<-h.streaming).err)
	eventually(t, "every gauge is back to 0", func() bool { return zeroed(counts(t, h.gateway, coldModel, warmModel)) })
	assert.Contains(t, h.errorLog(t), "is gone with")
	// The hold bound (1 for the cold model) is free again: a new request is held, not refused.
	again := h.postAsync(context.Background(), coldChat(2))
	h.waitMetric(t, fmt.Sprintf("%s{model=%q}", MetricHeld, coldModel), 1)
	assertStillHeld(t, again)
}

// TestFaultReloadDuringItAll: a reload (new config, SIGHUP) while requests are held and
// streamed: the held ones get their 503 at once, the streams finish in the old worker and are
// counted until they do (its share is not taken back while it lives), new requests are served
// by the new worker, and afterwards every gauge is back to 0 and the hold bound is free.
func TestFaultReloadDuringItAll(t *testing.T) {
	t.Parallel()
	h := startHoldingAndStreaming(t)
	old := h.proc.Workers()
	require.NoError(t, syscall.Kill(h.proc.Pid(), syscall.SIGHUP))
	a := <-h.held
	require.NoError(t, a.err)
	assert.Equal(t, http.StatusServiceUnavailable, a.status, "%s", a.body)
	assert.Contains(t, string(a.body), "model_unavailable")
	eventually(t, "a new worker", func() bool { return len(h.proc.Workers()) == 2 })
	// Two reaps later the old worker, still streaming, keeps its count.
	time.Sleep(2*LedgerReap + 500*time.Millisecond)
	assert.Equal(t, 1.0, h.metric(t, fmt.Sprintf("%s{model=%q}", MetricInFlight, warmModel)), "the old worker's stream still counts")
	h.warm.release()
	s := <-h.streaming
	require.NoError(t, s.err)
	assert.Equal(t, http.StatusOK, s.status)
	got, r := h.send(t, chat(warmModel))
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "warm", got)
	eventually(t, "the old worker exits", func() bool { return !slices.Contains(h.proc.Workers(), old[0]) })
	eventually(t, "every gauge is back to 0", func() bool { return zeroed(counts(t, h.gateway, coldModel, warmModel)) })
	again := h.postAsync(context.Background(), coldChat(2))
	h.waitMetric(t, fmt.Sprintf("%s{model=%q}", MetricHeld, coldModel), 1)
	assertStillHeld(t, again)
}
