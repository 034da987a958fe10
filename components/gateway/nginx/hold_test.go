package nginx

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// Holding requests for a model scaled to zero: the model's headless Service has no address
// until a replica is ready, and the gateway keeps the request (no upstream connection) until
// one appears in DNS, the client leaves, or Route.HoldSeconds pass.

const coldModel = "cold-model"

// coldStart is a gateway for coldModel with holdSeconds, whose headless name answers no
// address yet, and a simulated replica listening where the model's first pod will be.
type coldStart struct {
	routed
	sim *vllmsim.Sim
	ip  netip.Addr
}

func startCold(t *testing.T, holdSeconds int) coldStart {
	t.Helper()
	params := vllmsim.Defaults()
	params.TimeScale = 0.05
	sim, ips := startSim(t, 1, coldModel, nil, params)
	dns := dnstest.New(t)
	dns.Set(modelHost(1), nil) // the Service exists, no pod is ready
	g := startRouted(t, dns, []Route{{Name: coldModel, Upstream: "127.0.0.1:9", Endpoints: modelHost(1) + ":8000", HoldSeconds: holdSeconds}}, StrategyPrefix)
	return coldStart{routed: g, sim: sim, ip: ips[0]}
}

func (c coldStart) held(t testing.TB) float64 {
	return series(c.scrape(t))[fmt.Sprintf("%s{model=%q}", MetricHeld, coldModel)]
}

// waitHeld waits until exactly n requests are held.
func (c coldStart) waitHeld(t testing.TB, n float64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%v requests held", n), func() bool { return c.held(t) == n })
}

// postAsync sends a chat request in the background; the answer arrives on the channel.
func (c coldStart) postAsync(ctx context.Context, body string) <-chan asyncAnswer {
	out := make(chan asyncAnswer, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/v1/chat/completions", strings.NewReader(body))
		if err != nil {
			out <- asyncAnswer{err: err}
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			out <- asyncAnswer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- asyncAnswer{status: resp.StatusCode, header: resp.Header, body: b, err: err}
	}()
	return out
}

type asyncAnswer struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// TestHeldRequestIsServedWhenAReplicaAppears: the request waits while the model has no
// replica, reaches nothing meanwhile, and is answered by the first replica once DNS lists it,
// exactly once.
func TestHeldRequestIsServedWhenAReplicaAppears(t *testing.T) {
	t.Parallel()
	c := startCold(t, 60)
	body := fmt.Sprintf(`{"model":%q,"max_tokens":4,"messages":[{"role":"user","content":"wake up"}]}`, coldModel)
	answer := c.postAsync(context.Background(), body)
	c.waitHeld(t, 1)
	assert.Equal(t, 1.0, series(c.scrape(t))[fmt.Sprintf("%s{model=%q}", MetricInFlight, coldModel)], "a held request is in flight")
	assert.Zero(t, c.sim.Replicas[0].Stats().Received, "nothing reaches a replica while held")

	c.dns.Set(modelHost(1), []netip.Addr{c.ip}) // the first pod is ready
	a := <-answer
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.Equal(t, netip.AddrPortFrom(c.ip, replicaPort).String(), a.header.Get(vllmsim.ReplicaHeader))
	var doc struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(a.body, &doc))
	assert.Equal(t, coldModel, doc.Model)
	require.Len(t, doc.Choices, 1)
	assert.NotEmpty(t, doc.Choices[0].Message.Content, "the replica's answer, passed through")

	assert.Equal(t, int64(1), c.sim.Replicas[0].Stats().Received, "sent exactly once")
	sums := series(c.scrape(t))
	assert.Zero(t, sums[fmt.Sprintf("%s{model=%q}", MetricHeld, coldModel)], "released")
	assert.Equal(t, 1.0, sums[req(coldModel, OutcomeRouted, "2xx")])
}

// TestHeldClientThatLeavesIsReleased: a client that gives up while held is no longer counted,
// and its request never reaches the replica that appears later.
func TestHeldClientThatLeavesIsReleased(t *testing.T) {
	t.Parallel()
	c := startCold(t, 60)
	ctx, cancel := context.WithCancel(context.Background())
	answer := c.postAsync(ctx, fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"never mind"}]}`, coldModel))
	c.waitHeld(t, 1)
	cancel()
	assert.Error(t, (<-answer).err)
	c.waitHeld(t, 0)
	assert.Zero(t, series(c.scrape(t))[fmt.Sprintf("%s{model=%q}", MetricInFlight, coldModel)], "nothing in flight")

	// The model comes up: a new request is served, the abandoned one was never sent.
	c.dns.Set(modelHost(1), []netip.Addr{c.ip})
	a := <-c.postAsync(context.Background(), fmt.Sprintf(`{"model":%q,"max_tokens":2,"messages":[{"role":"user","content":"hello"}]}`, coldModel))
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	assert.Equal(t, int64(1), c.sim.Replicas[0].Stats().Received, "only the request whose client stayed")
}

// TestHoldTimesOut: past holdSeconds the client gets the 503 model_unavailable JSON with
// Retry-After, counted as refused.
func TestHoldTimesOut(t *testing.T) {
	t.Parallel()
	c := startCold(t, 1)
	start := time.Now()
	r := c.post(t, "/v1/chat/completions", chat(coldModel))
	assertGatewayError(t, r, http.StatusServiceUnavailable, "model_unavailable")
	assert.Equal(t, fmt.Sprint(UnavailableRetryAfter), r.Header.Get("Retry-After"))
	// A bound on a wait the gateway chose, not a speed claim: it held the request for its
	// hold time instead of refusing at once.
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "held for holdSeconds before refusing")
	sums := series(c.scrape(t))
	assert.Equal(t, 1.0, sums[fmt.Sprintf("%s{reason=%q}", MetricRefused, RefusedUnavailable)])
	assert.Zero(t, sums[fmt.Sprintf("%s{model=%q}", MetricHeld, coldModel)])
	assert.Zero(t, c.sim.Replicas[0].Stats().Received)
}

// TestHeldRequestsDoNotBusyLoop: 64 held requests leave nginx idle (they wait on a semaphore
// that one timer per worker posts; nothing polls per request), and are all served, once each,
// when the replica appears.
func TestHeldRequestsDoNotBusyLoop(t *testing.T) {
	t.Parallel()
	const n = 64
	c := startCold(t, 120)
	answers := make([]<-chan asyncAnswer, n)
	for i := range answers {
		answers[i] = c.postAsync(context.Background(),
			fmt.Sprintf(`{"model":%q,"max_tokens":2,"messages":[{"role":"user","content":"request %d"}]}`, coldModel, i))
	}
	c.waitHeld(t, n)

	// CPU used by nginx (master and worker) while the 64 requests wait, over a 3 s window.
	before, err := c.proc.CPUTime()
	require.NoError(t, err)
	window := 3 * time.Second
	time.Sleep(window)
	after, err := c.proc.CPUTime()
	require.NoError(t, err)
	used := after - before
	t.Logf("nginx CPU while %d requests were held for %v: %v (%.1f%% of one core)", n, window, used, 100*used.Seconds()/window.Seconds())
	// A busy loop would burn the whole window; the 0.5 s waker and the DNS refresh cost
	// milliseconds. 10% of a core is far above the second and far below the first.
	assert.Less(t, used, window/10, "held requests must not spin")
	assert.Zero(t, c.sim.Replicas[0].Stats().Received)

	c.dns.Set(modelHost(1), []netip.Addr{c.ip})
	var wg sync.WaitGroup
	for i, ch := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := <-ch
			if assert.NoError(t, a.err) {
				assert.Equal(t, http.StatusOK, a.status, "request %d: %s", i, a.body)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(n), c.sim.Replicas[0].Stats().Received, "each held request sent exactly once")
	assert.Zero(t, c.held(t))
}

// TestNoHoldWithoutHoldSeconds: a model that does not scale to zero still answers 503 at once
// when it has no replica.
func TestNoHoldWithoutHoldSeconds(t *testing.T) {
	t.Parallel()
	c := startCold(t, 0)
	r := c.post(t, "/v1/chat/completions", chat(coldModel))
	assertGatewayError(t, r, http.StatusServiceUnavailable, "model_unavailable")
	_, exported := c.scrape(t)[MetricHeld]
	assert.False(t, exported, "no held gauge for a model that never holds")
}

// TestHeldRequestsEndOnReload: a reload (a new config, SIGHUP) retires the old worker; its
// held requests get the 503 at once instead of keeping it alive for the whole hold (60 s here,
// past the test client's 20 s timeout), and the old workers exit.
func TestHeldRequestsEndOnReload(t *testing.T) {
	t.Parallel()
	c := startCold(t, 60)
	answer := c.postAsync(context.Background(), fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}]}`, coldModel))
	c.waitHeld(t, 1)
	old := c.proc.Workers()
	require.NoError(t, syscall.Kill(c.proc.Pid(), syscall.SIGHUP))
	a := <-answer
	require.NoError(t, a.err)
	assert.Equal(t, http.StatusServiceUnavailable, a.status, "%s", a.body)
	assert.Contains(t, string(a.body), "model_unavailable")
	c.waitHeld(t, 0)
	// Waited for, too, because a worker still shutting down when the test's cleanup stops nginx
	// (SIGTERM) logs its last connection as "[alert] open socket left": the 503's connection
	// in lingering close until this client closes its end.
	eventually(t, "the old workers exit", func() bool {
		return !slices.ContainsFunc(c.proc.Workers(), func(pid int) bool { return slices.Contains(old, pid) })
	})
}
