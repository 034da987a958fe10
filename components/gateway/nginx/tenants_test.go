package nginx

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/redis"
	"github.com/llm-platform/llm-platform/internal/vllmsim"
)

// The tenants' tests run Debian's redis-server with the config file components/redis renders
// for the cluster (bound to loopback here) and real nginx gateways sharing it.

const redisPassword = "test-redis-password"

type redisServer struct {
	t          testing.TB
	bin, conf  string
	port       int
	cliTLS     []string // redis-cli's flags for a TLS-only server
	mu         sync.Mutex
	cmd        *exec.Cmd
	cancel     context.CancelFunc
	waitResult chan struct{}
}

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	return startRedisWith(t, nil)
}

// startRedisWith starts the server with tls (a TLS-only server) or plain RESP (nil).
func startRedisWith(t testing.TB, tls *redisTLSFiles) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatal("redis-server not found; CI installs it (scripts/install-test-deps.sh)")
		}
		t.Skip("redis-server not found: install it with scripts/install-test-deps.sh")
	}
	dir := t.TempDir()
	port, err := strconv.Atoi(freePort(t))
	require.NoError(t, err)
	conf, err := redis.Render(redis.ServerConfig{Port: port, Password: redisPassword, Dir: dir, MaxMemory: redis.DefaultMaxMemory})
	require.NoError(t, err)
	conf = strings.Replace(conf, "bind * -::*", "bind 127.0.0.1", 1)
	r := &redisServer{t: t, bin: bin, port: port}
	if tls != nil {
		plain := fmt.Sprintf("port %d\n", port)
		require.Contains(t, conf, plain, "the rendered config's port line, made TLS-only here")
		conf = strings.Replace(conf, plain, fmt.Sprintf("port 0\ntls-port %d\n", port), 1) + tls.serverConfig()
		r.cliTLS = []string{"--tls", "--cacert", tls.ca, "--sni", tls.name}
	}
	r.conf = filepath.Join(dir, "valkey.conf")
	require.NoError(t, os.WriteFile(r.conf, []byte(conf), 0o600))
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	r.cmd, r.cancel = exec.CommandContext(ctx, r.bin, r.conf), cancel
	require.NoError(r.t, r.cmd.Start())
	done := make(chan struct{})
	go func(c *exec.Cmd) { _ = c.Wait(); close(done) }(r.cmd)
	r.waitResult = done
	require.Eventually(r.t, func() bool { return r.cli("PING") == "PONG" }, 10*time.Second, 20*time.Millisecond)
}

// signal sends sig to the server (SIGSTOP: a hung node that still accepts connections).
func (r *redisServer) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NoError(r.t, r.cmd.Process.Signal(sig))
}

// hang stops the server (SIGSTOP: the kernel still accepts connections, nothing is answered)
// until the returned resume is called, or the test ends.
func (r *redisServer) hang(t testing.TB) (resume func()) {
	r.signal(syscall.SIGSTOP)
	var once sync.Once
	resume = func() { once.Do(func() { r.signal(syscall.SIGCONT) }) }
	t.Cleanup(resume)
	return resume
}

// timeoutsBound is how long an answer may take while Redis is down or hung: the connect
// (100 ms, which bounds a TLS handshake too) and read (250 ms) timeouts, plus nginx and the
// model; a hang would be the client's own timeout.
const timeoutsBound = time.Second

// chatWithin sends one chat request with key to g, asserting it is answered within
// timeoutsBound.
func chatWithin(t *testing.T, g *gateway, key string) response {
	t.Helper()
	start := time.Now()
	r := g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer "+key)
	assert.Less(t, time.Since(start), timeoutsBound, "never waits past the timeouts")
	return r
}

// admittedWithin sends n chat requests with chatWithin and counts the 200s.
func admittedWithin(t *testing.T, g *gateway, key string, n int) int {
	t.Helper()
	ok := 0
	for range n {
		if chatWithin(t, g, key).Status == http.StatusOK {
			ok++
		}
	}
	return ok
}

// kill stops the server at once (SIGKILL), as a crashed node would.
func (r *redisServer) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
		<-r.waitResult
		r.cancel = nil
	}
}

// cli runs one command with redis-cli and returns its raw output, trimmed.
func (r *redisServer) cli(args ...string) string {
	a := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(r.port), "--no-auth-warning", "-a", redisPassword, "--raw"}, r.cliTLS...)
	a = append(a, args...)
	out, _ := exec.Command("redis-cli", a...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// info is the number field of INFO (e.g. total_connections_received).
func (r *redisServer) info(field string) int {
	r.t.Helper()
	for _, line := range strings.Split(r.cli("INFO"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, err := strconv.Atoi(v)
			require.NoError(r.t, err, "INFO %s", field)
			return n
		}
	}
	r.t.Fatalf("INFO has no %s", field)
	return 0
}

// withTenants configures keys, tenants and the shared Redis.
func withTenants(t testing.TB, r *redisServer, keys map[string][]string, tenants []Tenant, window time.Duration, failClosed bool) gatewayOption {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "redis-password")
	require.NoError(t, os.WriteFile(pw, []byte(redisPassword+"\n"), 0o600))
	keysOpt := withKeys(t, keys)
	return func(p *Params, env *[]string) {
		keysOpt(p, env)
		p.Tenants = tenants
		p.Limits = Limits{Redis: r.addr(), PasswordFile: pw, FailClosed: failClosed}
		p.limitWindow = window
	}
}

// fastModel answers every chat request at once with a usage of 10 + 5 tokens.
func fastModel(t testing.TB) *backend {
	return newBackend(t, "fast", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"total_tokens":15,"completion_tokens":5}}`))
	})
}

// waitShared waits until every gateway has checked in with Redis (limits shared, pods counted).
func waitShared(t testing.TB, pods int, gws ...*gateway) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, g := range gws {
			s := series(g.scrape(t))
			if s[MetricLimitsBackendUp+"{}"] != 1 || s[MetricLimitsPods+"{}"] != float64(pods) {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "every gateway reaches Redis and sees %d pods", pods)
}

var rateHeaders = []string{
	"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
	"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
}

// TestTenantLimitHoldsAcrossThreeGateways is the acceptance, on a shortened window: a
// tenant limited to 600 requests per window sends 2,000 spread evenly over one window across
// three gateways; 540-660 are admitted. (The minute is shortened to 10 s only through the
// test-only limitWindow: the same rate, the same counting in 12 buckets.) Every answer, 200 or
// 429, carries the six x-ratelimit-* headers; the 429s carry retry-after and the error code.
func TestTenantLimitHoldsAcrossThreeGateways(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	model := fastModel(t)
	keys := map[string][]string{"batch": {"sk-batch"}}
	tenants := []Tenant{{Name: "batch", Limits: []Limit{
		{Kind: LimitRequests, Period: PeriodMinute, Amount: 600},
		{Kind: LimitTokens, Period: PeriodMinute, Amount: 10_000_000},
	}}}
	const window = 10 * time.Second
	var gws []*gateway
	for range 3 {
		gws = append(gws, startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
			withTenants(t, rs, keys, tenants, window, false)))
	}
	waitShared(t, 3, gws...)

	const total = 2000
	var admitted, limited, other atomic.Int64
	var headerMissing atomic.Value
	body := chat(modelA)
	start := time.Now()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range total {
		// Open loop: request i leaves at i/total of the window, whatever the others do.
		time.Sleep(time.Until(start.Add(window * time.Duration(i) / total)))
		sem <- struct{}{}
		wg.Add(1)
		go func(g *gateway) {
			defer func() { <-sem; wg.Done() }()
			r := g.post(t, "/v1/chat/completions", body, "Authorization", "Bearer sk-batch")
			for _, h := range rateHeaders {
				if r.Header.Get(h) == "" {
					headerMissing.Store(fmt.Sprintf("%d answer without %s", r.Status, h))
				}
			}
			switch r.Status {
			case http.StatusOK:
				admitted.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
				var e struct{ Error struct{ Code, Type string } }
				if json.Unmarshal(r.Body, &e) != nil || e.Error.Code != "rate_limit_exceeded" || e.Error.Type != "requests" ||
					r.Header.Get("retry-after") == "" || r.Header.Get("retry-after-ms") == "" || r.Header.Get("x-should-retry") != "" {
					headerMissing.Store("429 without its code or retry-after: " + string(r.Body))
				}
			default:
				other.Add(1)
			}
		}(gws[i%3])
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d admitted, %d limited, %d other in %v", admitted.Load(), limited.Load(), other.Load(), elapsed)
	// Within one window plus a bucket no slot can have come back: never more than the limit.
	require.Less(t, elapsed, window+window/LimitBuckets, "the load must fit the window for the count to mean anything")
	assert.Zero(t, other.Load())
	assert.InDelta(t, 600, admitted.Load(), 60, "admitted across three gateways")
	assert.LessOrEqual(t, admitted.Load(), int64(600), "leases never let more through than the limit")
	assert.Equal(t, int64(total), admitted.Load()+limited.Load())
	assert.Nil(t, headerMissing.Load())
	assert.Equal(t, admitted.Load(), int64(model.count()), "only admitted requests reach the model")
}

// simTokens is what the simulator counts for one chat message and max_tokens.
func simTokens(content string, maxTokens int) (prompt, completion int) {
	return vllmsim.Tokens(vllmsim.RenderChat([]vllmsim.Message{{Role: "user", Content: content}})), maxTokens
}

// TestTenantTokensAreTheModelServersOwn: usage counted per tenant and model equals what the
// simulator counted, for plain answers and streams; a stream whose client did not ask for usage
// gets it asked for (include_usage) and never sees the extra chunk; one that asked sees it. The
// tokens-per-minute counter in Redis ends at the exact total (estimates settled).
func TestTenantTokensAreTheModelServersOwn(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	params := vllmsim.Defaults()
	params.TimeScale = 0.01
	sim, err := vllmsim.Start(vllmsim.Config{Addrs: []string{"127.0.0.1:" + freePort(t)}, Model: routedModel, Params: params})
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	tenants := []Tenant{{Name: "team-a", Limits: []Limit{{Kind: LimitTokens, Period: PeriodMinute, Amount: 1_000_000}}}}
	g := startGateway(t, []Route{{Name: routedModel, Upstream: sim.Addrs()[0]}},
		withTenants(t, rs, map[string][]string{"team-a": {"sk-a"}}, tenants, time.Minute, false))
	waitShared(t, 1, g)

	var wantPrompt, wantCompletion int
	auth := []string{"Authorization", "Bearer sk-a", "Content-Type", "application/json"}
	for i := range 6 {
		content := fmt.Sprintf("question %d %s", i, strings.Repeat("x", i*37))
		maxTokens := 3 + i
		p, c := simTokens(content, maxTokens)
		wantPrompt, wantCompletion = wantPrompt+p, wantCompletion+c
		switch i % 3 {
		case 0: // plain JSON answer
			r := g.post(t, "/v1/chat/completions", simChat(content, maxTokens, false), auth...)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			assert.Contains(t, string(r.Body), fmt.Sprintf(`"prompt_tokens":%d`, p))
		case 1: // a stream that did not ask for usage: it never sees the usage chunk
			events := postStream(t, g, simChat(content, maxTokens, true), auth)
			assert.Equal(t, "[DONE]", events[len(events)-1])
			for _, e := range events {
				assert.NotContains(t, e, `"usage":{`, "the client did not ask for usage")
			}
		case 2: // a stream that asked: the usage chunk is its own
			body := strings.Replace(simChat(content, maxTokens, true), `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1)
			events := postStream(t, g, body, auth)
			assert.Contains(t, events[len(events)-2], fmt.Sprintf(`"prompt_tokens":%d`, p), "the usage chunk the client asked for")
		}
	}
	labels := func(kind string) string {
		return fmt.Sprintf("%s{kind=%q,model=%q,tenant=%q}", MetricTenantTokens, kind, routedModel, "team-a")
	}
	s := series(g.scrape(t))
	assert.Equal(t, float64(wantPrompt), s[labels("prompt")])
	assert.Equal(t, float64(wantCompletion), s[labels("completion")])
	// Settled: the tokens-per-minute counter holds exactly the real total.
	require.Eventually(t, func() bool {
		return sumHash(rs, "llm:rl:team-a:tokens:minute:*") == wantPrompt+wantCompletion
	}, 5*time.Second, 50*time.Millisecond, "Redis counter %d, want %d", sumHash(rs, "llm:rl:team-a:tokens:minute:*"), wantPrompt+wantCompletion)
}

func sumHash(rs *redisServer, key string) int {
	total := 0
	lines := strings.Split(rs.cli("HVALS", key), "\n")
	for _, l := range lines {
		n, _ := strconv.Atoi(strings.TrimSpace(l))
		total += n
	}
	return total
}

// postStream posts a streamed chat and returns its SSE data payloads.
func postStream(t testing.TB, g *gateway, body string, header []string) []string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return sseData(t, resp.Body)
}

// TestTenantBudgetStopsWithinOneRequest: a daily budget of 200 tokens, requests of 15 tokens
// each (estimate charged, real count settled): the tenant is stopped with 429
// insufficient_quota once the budget is used, having spent at most one request past it.
func TestTenantBudgetStopsWithinOneRequest(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	model := fastModel(t)
	tenants := []Tenant{{Name: "small", Limits: []Limit{{Kind: LimitTokens, Period: PeriodDay, Amount: 200}}}}
	g := startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
		withTenants(t, rs, map[string][]string{"small": {"sk-small"}}, tenants, time.Minute, false))
	waitShared(t, 1, g)
	admitted := 0
	var last response
	for range 40 {
		last = g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-small")
		if last.Status != http.StatusOK {
			break
		}
		admitted++
		// Settlement is sent by a timer after the answer: give it its moment.
		require.Eventually(t, func() bool { return sumHash(rs, "llm:rl:small:tokens:day:*") == admitted*15 }, 2*time.Second, 5*time.Millisecond)
	}
	assertGatewayError(t, last, http.StatusTooManyRequests, "insufficient_quota")
	assert.Equal(t, "false", last.Header.Get("x-should-retry"), "OpenAI's clients must not retry a budget")
	spent := admitted * 15
	assert.GreaterOrEqual(t, spent, 200, "stopped only once the budget was used")
	assert.Less(t, spent, 200+15, "at most one request past the budget")
	retry, err := strconv.Atoi(last.Header.Get("retry-after"))
	require.NoError(t, err)
	assert.InDelta(t, time.Until(time.Now().UTC().Truncate(24*time.Hour).Add(24*time.Hour)).Seconds(), retry, 5, "retry after the next UTC midnight")
	s := series(g.scrape(t))
	assert.Equal(t, 1.0, s[fmt.Sprintf("%s{limit=%q,tenant=%q}", MetricTenantLimited, "tokens_per_day", "small")])
	assert.GreaterOrEqual(t, s[fmt.Sprintf("%s{period=%q,tenant=%q}", MetricTenantBudgetUsed, "day", "small")], 0.9)
}

// TestTenantAllowList: a model the tenant may not use does not exist for it (404
// model_not_found naming only its own models), /v1/models lists only its models; another
// tenant sees everything.
func TestTenantAllowList(t *testing.T) {
	t.Parallel()
	keys := map[string][]string{"narrow": {"sk-n"}, "wide": {"sk-w"}}
	tenants := []Tenant{{Name: "narrow", Models: []string{modelB}}}
	x := startTrio(t, withKeys(t, keys), withParams(func(p *Params) { p.Tenants = tenants }))
	g := x.gw
	r := g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-n")
	e := assertGatewayError(t, r, http.StatusNotFound, "model_not_found")
	assert.NotContains(t, e["message"], modelC, "another tenant's models are never named")
	assert.Contains(t, e["message"], modelB)
	assertRouted(t, g.post(t, "/v1/chat/completions", chat(modelB), "Authorization", "Bearer sk-n"), x.b, []byte(chat(modelB)))
	assertRouted(t, g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-w"), x.a, []byte(chat(modelA)))

	var list modelList
	require.NoError(t, json.Unmarshal(g.do(t, http.MethodGet, "/v1/models", nil, "Authorization", "Bearer sk-n").Body, &list))
	require.Len(t, list.Data, 1)
	assert.Equal(t, modelB, list.Data[0].ID)
	require.NoError(t, json.Unmarshal(g.do(t, http.MethodGet, "/v1/models", nil, "Authorization", "Bearer sk-w").Body, &list))
	assert.Len(t, list.Data, 3)
	assertGatewayError(t, g.do(t, http.MethodGet, "/v1/models/"+modelA, nil, "Authorization", "Bearer sk-n"), http.StatusNotFound, "model_not_found")
	assert.Equal(t, 1, x.a.count(), "only the wide tenant reached model A")
}

// TestTenantLimitsWhenRedisDies: three gateways share a limit of 30 per window; Redis is
// killed: the fail-open gateways keep serving, each at its share (30 / 3 pods = 10), the
// fail-closed one answers 503 limits_unavailable, none waits past the timeouts, and the
// metrics say so. Redis back: enforcement is shared again.
func TestTenantLimitsWhenRedisDies(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	model := fastModel(t)
	keys := map[string][]string{"team": {"sk-t"}, "fresh": {"sk-f"}}
	perMinute30 := []Limit{{Kind: LimitRequests, Period: PeriodMinute, Amount: 30}}
	tenants := []Tenant{{Name: "team", Limits: perMinute30}, {Name: "fresh", Limits: perMinute30}}
	route := []Route{{Name: modelA, Upstream: model.addr()}}
	var open []*gateway
	for range 3 {
		open = append(open, startGateway(t, route, withTenants(t, rs, keys, tenants, time.Minute, false)))
	}
	closed := startGateway(t, route, withTenants(t, rs, keys, tenants, time.Minute, true))
	waitShared(t, 4, append(open, closed)...)
	// Shared: 30 in all, whichever gateway.
	assert.Equal(t, 30, admittedOf(t, open, "sk-t", 40), "the limit holds across the gateways")

	rs.kill()
	for _, g := range append(open, closed) {
		g.expectLog("Redis unreachable")
	}
	// Fail-open: a fresh count per pod at 30 / 4 pods seen = 7 each.
	for _, g := range open {
		assert.Equal(t, 7, admittedWithin(t, g, "sk-t", 12), "each pod enforces its share")
		s := series(g.scrape(t))
		assert.Equal(t, 0.0, s[MetricLimitsBackendUp+"{}"])
	}
	assert.Equal(t, http.StatusServiceUnavailable, chatWithin(t, closed, "sk-t").Status, "fail-closed")

	rs.start()
	for _, g := range append(open, closed) {
		g.expectLog("Redis reachable again")
	}
	waitShared(t, 4, append(open, closed)...)
	// The shared count resumes (AOF kept what was counted before the kill, or it starts
	// over): either way no more than the limit is admitted from now on.
	assert.LessOrEqual(t, admittedOf(t, open, "sk-t", 40), 30, "enforcement is shared again")
	assert.Equal(t, http.StatusTooManyRequests, chatWithin(t, closed, "sk-t").Status, "the fail-closed gateway is back to the shared count")
	// A tenant that sent nothing before: exactly its limit across the gateways (shared, not the
	// per-pod share of 7 each, and not nothing).
	assert.Equal(t, 30, admittedOf(t, open, "sk-f", 40), "a fresh tenant's limit is shared again")
}

// admittedOf sends n chat requests with key round the gateways and counts the 200s.
func admittedOf(t *testing.T, gws []*gateway, key string, n int) int {
	t.Helper()
	ok := 0
	for i := range n {
		if gws[i%len(gws)].post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer "+key).Status == http.StatusOK {
			ok++
		}
	}
	return ok
}

// TestTenantLimitsWhenRedisRefusesWrites: a Redis that answers but cannot write (-OOM under
// noeviction here; -READONLY after a failover is the same) is down for the limits, found by the
// check-in alone, without a request; writable again, it is back.
func TestTenantLimitsWhenRedisRefusesWrites(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	model := fastModel(t)
	tenants := []Tenant{{Name: "team", Limits: []Limit{{Kind: LimitRequests, Period: PeriodMinute, Amount: 30}}}}
	g := startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
		withTenants(t, rs, map[string][]string{"team": {"sk-t"}}, tenants, time.Minute, false))
	waitShared(t, 1, g)
	g.expectLog("Redis unreachable")
	g.expectLog("Redis reachable again")
	was := strings.Split(rs.cli("CONFIG", "GET", "maxmemory"), "\n")
	require.Len(t, was, 2)
	require.Equal(t, "OK", rs.cli("CONFIG", "SET", "maxmemory", "1"))
	require.Contains(t, rs.cli("ZADD", "probe", "1", "x"), "OOM", "writes are refused")
	require.Eventually(t, func() bool { return series(g.scrape(t))[MetricLimitsBackendUp+"{}"] == 0 },
		5*time.Second, 50*time.Millisecond, "a Redis refusing writes is down")
	require.Equal(t, "OK", rs.cli("CONFIG", "SET", "maxmemory", was[1]))
	waitShared(t, 1, g)
}

// TestTenantRefundsErrorsNginxAnswers: a model whose replica refuses connections gets a 502
// from nginx itself (an error_page redirect, which clears ngx.ctx): the estimate charged at
// admission is refunded all the same, as for any error answer.
func TestTenantRefundsErrorsNginxAnswers(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	model := fastModel(t)
	tenants := []Tenant{{Name: "team", Limits: []Limit{
		{Kind: LimitTokens, Period: PeriodMinute, Amount: 1_000_000},
		{Kind: LimitTokens, Period: PeriodDay, Amount: 1_000_000},
	}}}
	routes := []Route{{Name: modelA, Upstream: model.addr()}, {Name: modelB, Upstream: "127.0.0.1:" + freePort(t)}}
	g := startGateway(t, routes, withTenants(t, rs, map[string][]string{"team": {"sk-t"}}, tenants, time.Minute, false))
	waitShared(t, 1, g)
	auth := []string{"Authorization", "Bearer sk-t"}
	require.Equal(t, http.StatusOK, g.post(t, "/v1/chat/completions", chat(modelA), auth...).Status)
	for _, key := range []string{"llm:rl:team:tokens:minute:*", "llm:rl:team:tokens:day:*"} {
		require.Eventually(t, func() bool { return sumHash(rs, key) == 15 }, 5*time.Second, 20*time.Millisecond, "%s settled", key)
	}
	assertGatewayError(t, g.post(t, "/v1/chat/completions", chat(modelB), auth...), http.StatusBadGateway, "bad_gateway")
	for _, key := range []string{"llm:rl:team:tokens:minute:*", "llm:rl:team:tokens:day:*"} {
		require.Eventually(t, func() bool { return sumHash(rs, key) == 15 }, 5*time.Second, 20*time.Millisecond,
			"%s: the 502's estimate refunded (counter %d)", key, sumHash(rs, key))
	}
}

// TestTenantLimitsWhenRedisHangs: Redis stopped (SIGSTOP: connections are accepted, nothing is
// answered) is found by the read timeout: no request waits past the bound, fail-open gateways
// serve their share, the fail-closed one answers 503. Resumed, the limit is shared again.
func TestTenantLimitsWhenRedisHangs(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	model := fastModel(t)
	keys := map[string][]string{"team": {"sk-t"}, "fresh": {"sk-f"}}
	perMinute20 := []Limit{{Kind: LimitRequests, Period: PeriodMinute, Amount: 20}}
	tenants := []Tenant{{Name: "team", Limits: perMinute20}, {Name: "fresh", Limits: perMinute20}}
	route := []Route{{Name: modelA, Upstream: model.addr()}}
	open := []*gateway{
		startGateway(t, route, withTenants(t, rs, keys, tenants, time.Minute, false)),
		startGateway(t, route, withTenants(t, rs, keys, tenants, time.Minute, false)),
	}
	closed := startGateway(t, route, withTenants(t, rs, keys, tenants, time.Minute, true))
	all := append([]*gateway{closed}, open...)
	waitShared(t, 3, all...)
	for _, g := range all {
		g.expectLog("Redis unreachable")
		g.expectLog("Redis reachable again")
	}
	resume := rs.hang(t)
	for _, g := range open {
		assert.Equal(t, 6, admittedWithin(t, g, "sk-t", 10), "fail-open: the pod's share, 20 / 3 pods")
	}
	assertGatewayError(t, chatWithin(t, closed, "sk-t"), http.StatusServiceUnavailable, "limits_unavailable")
	s := series(open[0].scrape(t))
	assert.Equal(t, 0.0, s[MetricLimitsBackendUp+"{}"])
	assert.Positive(t, s[MetricLimitsBackendFailures+`{reason="timeout"}`], "the read timed out")

	resume()
	waitShared(t, 3, all...)
	assert.Equal(t, 20, admittedOf(t, open, "sk-f", 30), "resumed: the limit is shared again")
}

// TestTenantScriptFlushedMidRun: Redis forgets the script (SCRIPT FLUSH, as a restart without
// it or a failover does): the next EVALSHA gets NOSCRIPT and is sent again as EVAL; nothing is
// marked down and every request is counted in Redis. (The limit is below LeaseShare, so no
// lease is granted and every request is a round trip.)
func TestTenantScriptFlushedMidRun(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	model := fastModel(t)
	tenants := []Tenant{{Name: "team", Limits: []Limit{{Kind: LimitRequests, Period: PeriodMinute, Amount: LeaseShare - 1}}}}
	g := startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
		withTenants(t, rs, map[string][]string{"team": {"sk-t"}}, tenants, time.Minute, false))
	waitShared(t, 1, g)
	send := func(n int) {
		for range n {
			require.Equal(t, http.StatusOK, g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-t").Status)
		}
	}
	// Loaded as a gateway would have left it: the first requests need no fallback.
	require.Equal(t, LimitsScriptSHA(), rs.cli("SCRIPT", "LOAD", limitsScript))
	send(5)
	require.Equal(t, 5, sumHash(rs, "llm:rl:team:requests:minute:*"))
	require.Equal(t, "OK", rs.cli("SCRIPT", "FLUSH"))
	send(5)
	assert.Equal(t, 10, sumHash(rs, "llm:rl:team:requests:minute:*"), "counted in Redis after the flush")
	s := series(g.scrape(t))
	assert.Equal(t, 1.0, s[MetricLimitsBackendUp+"{}"])
	assert.Zero(t, s[MetricLimitsBackendFailures+`{reason="error"}`])
}

// TestTenantMonthBudgetWhileRedisIsDown: the per-pod fallback refuses a spent monthly budget
// until the start of the next UTC month (not for a day), and says not to retry.
func TestTenantMonthBudgetWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	model := fastModel(t)
	tenants := []Tenant{{Name: "team", Limits: []Limit{{Kind: LimitTokens, Period: PeriodMonth, Amount: 40}}}}
	g := startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
		withTenants(t, rs, map[string][]string{"team": {"sk-t"}}, tenants, time.Minute, false))
	waitShared(t, 1, g)
	g.expectLog("Redis unreachable")
	rs.kill()
	var last response
	for range 20 {
		if last = g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-t"); last.Status != http.StatusOK {
			break
		}
	}
	assertGatewayError(t, last, http.StatusTooManyRequests, "insufficient_quota")
	assert.Equal(t, "false", last.Header.Get("x-should-retry"))
	retry, err := strconv.Atoi(last.Header.Get("retry-after"))
	require.NoError(t, err)
	now := time.Now().UTC()
	next := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	assert.InDelta(t, time.Until(next).Seconds(), retry, 5, "retry after the next UTC month begins")
}

// withKeyPrefix sets the gateway's Redis key prefix (after withTenants).
func withKeyPrefix(prefix string) gatewayOption {
	return func(p *Params, _ *[]string) { p.Limits.KeyPrefix = prefix }
}

// TestTenantKeyPrefixKeepsStacksApart: two stacks (prod and staging) whose gateways share one
// Redis count apart: the same tenant gets its limit on each, and each counts only its own pods
// for the fail-open share. Two gateways of one stack (one prefix) count together.
func TestTenantKeyPrefixKeepsStacksApart(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	model := fastModel(t)
	keys := map[string][]string{"team": {"sk-t"}}
	tenants := []Tenant{{Name: "team", Limits: []Limit{{Kind: LimitRequests, Period: PeriodMinute, Amount: 6}}}}
	start := func(prefix string) *gateway {
		return startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
			withTenants(t, rs, keys, tenants, time.Minute, false), withKeyPrefix(prefix))
	}
	prod := []*gateway{start("llm:platform/prod:"), start("llm:platform/prod:")}
	staging := start("llm:platform/staging:")
	waitShared(t, 2, prod...)
	waitShared(t, 1, staging)

	assert.Equal(t, 6, admittedOf(t, prod, "sk-t", 10), "one stack's two gateways share the limit")
	assert.Equal(t, 6, admittedOf(t, []*gateway{staging}, "sk-t", 10), "another stack's count starts at zero")
	assert.Equal(t, "1", rs.cli("EXISTS", "llm:platform/prod:rl:team:requests:minute:*"))
	assert.Equal(t, "1", rs.cli("EXISTS", "llm:platform/staging:rl:team:requests:minute:*"))
	assert.Equal(t, "2", rs.cli("ZCARD", "llm:platform/prod:gw:pods"))
	assert.Equal(t, "1", rs.cli("ZCARD", "llm:platform/staging:gw:pods"))
	assert.Empty(t, rs.cli("KEYS", "llm:rl:*"), "no key outside the stacks' prefixes")
}

// TestTenantBudgetGaugeEndsWithItsPeriod: a budget's used share is exported until its period
// ends, not after: the reply says the day ends in 300 ms, and 400 ms later the series is gone
// (a series kept past midnight would fire the 80% alert into the next day for a team that has
// sent nothing since).
func TestTenantBudgetGaugeEndsWithItsPeriod(t *testing.T) {
	t.Parallel()
	p := routedParams()
	p.Tenants = []Tenant{{Name: "team", Limits: []Limit{{Kind: LimitTokens, Period: PeriodDay, Amount: 100}}}}
	p.Limits = Limits{Redis: "127.0.0.1:6379"}
	l := startLuaWith(t, p)
	got := l.run(t, fmt.Sprintf(`local limits = require "limits"
local key = %q .. '{tenant="team",period="day"}'
-- out: admitted, no refusal, the three fields, then used 85 of 100 with 300 ms to the period's end
limits.note_budgets({ name = "team" }, { { period = "day", model = "", amount = 100 } }, { 1, 0, 0, 0, 0, 0, 85, 300 })
local before = ngx.shared.%s:get(key)
ngx.sleep(0.4)
return tostring(before) .. " " .. tostring(ngx.shared.%s:get(key))`, MetricTenantBudgetUsed, MetricsDict, MetricsDict))
	assert.Equal(t, "0.85 nil", got)
}
