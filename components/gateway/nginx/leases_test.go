package nginx

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The leases of limits.lua: a worker admits from units Redis granted it, and gives back what it
// has not used. These tests run Debian's redis-server and real nginx gateways (tenants_test.go).

const leaseKey = "llm:rl:team:requests:minute:*"

// leaseGateway starts a Redis and one gateway whose tenant "team" (key sk-t) has limits.
func leaseGateway(t *testing.T, limits []Limit, window time.Duration, failClosed bool, model *backend) (*redisServer, *gateway) {
	t.Helper()
	rs := startRedis(t)
	g := startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
		withTenants(t, rs, map[string][]string{"team": {"sk-t"}}, []Tenant{{Name: "team", Limits: limits}}, window, failClosed))
	waitShared(t, 1, g)
	return rs, g
}

func perMinute(kind string, amount int64) Limit {
	return Limit{Kind: kind, Period: PeriodMinute, Amount: amount}
}

// TestTenantLeasesSpareRoundTrips: a limit large enough to lease (1,000 a minute on one
// gateway of one worker: leases of up to 1,000 / LeaseShare = 50) admits 200 requests in a
// row with far fewer round trips than requests (Redis's own count of EVALSHA and EVAL calls);
// every answer's x-ratelimit-remaining-requests is exact (the worker's unused lease counts as
// free); Redis forgetting the script halfway (NOSCRIPT, then EVAL with the same leases asked
// for) changes nothing; and once the lease ends (LeaseFor) what it had left goes back, so
// Redis counts exactly the 200 admitted.
func TestTenantLeasesSpareRoundTrips(t *testing.T) {
	t.Parallel()
	rs, g := leaseGateway(t, []Limit{perMinute(LimitRequests, 1000)}, time.Minute, false, fastModel(t))
	const n = 200
	for i := 1; i <= n; i++ {
		if i == n/2 {
			require.Equal(t, "OK", rs.cli("SCRIPT", "FLUSH"))
		}
		r := g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-t")
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, strconv.Itoa(1000-i), r.Header.Get("x-ratelimit-remaining-requests"), "request %d", i)
	}
	calls := evalCalls(t, rs)
	t.Logf("%d requests, %d admissions in Redis", n, calls)
	assert.Less(t, calls, n/5, "most requests are admitted from leases")
	assert.Positive(t, callsOf(t, rs, "eval"), "the script was sent again after the flush")
	assert.Greater(t, sumHash(rs, leaseKey), n, "the last lease is counted while it lasts")
	require.Eventually(t, func() bool { return sumHash(rs, leaseKey) == n }, 3*LeaseFor, 20*time.Millisecond,
		"the lease's unused units go back when it ends")
	assert.NotEqual(t, "-1", rs.cli("PTTL", leaseKey), "the counter keeps its lifetime")
}

// TestTenantLeasesEndWhenRedisDies: a lease outlives Redis by LeaseFor at most. A fail-closed
// gateway holding one (a limit of 10,000 a minute, 50 requests sent) goes on admitting from it
// right after Redis is killed, and once the lease has ended it answers 503 limits_unavailable,
// though units are left in it; no request waits past the timeouts.
func TestTenantLeasesEndWhenRedisDies(t *testing.T) {
	t.Parallel()
	rs, g := leaseGateway(t, []Limit{perMinute(LimitRequests, 10_000)}, time.Minute, true, fastModel(t))
	for range 50 {
		require.Equal(t, http.StatusOK, chatWithin(t, g, "sk-t").Status)
	}
	held := sumHash(rs, leaseKey) - 50
	require.Greater(t, held, 1, "the gateway holds a lease of more than one unit")
	rs.kill()
	killed := time.Now()
	assert.Equal(t, http.StatusOK, chatWithin(t, g, "sk-t").Status, "the lease is honoured while it lasts")
	// Units are left in the lease, but its time is up: none of them admits anything.
	time.Sleep(time.Until(killed.Add(LeaseFor + 100*time.Millisecond)))
	for i := range held + 5 {
		assert.Equal(t, http.StatusServiceUnavailable, chatWithin(t, g, "sk-t").Status, "answer %d after the lease ended: fail-closed", i)
	}
}

// TestTenantBudgetAdmissionsRunSideBySide: a tenant with a budget is never admitted from leases
// (every request is checked in Redis), so its requests must not queue behind one another's
// round trips. Redis paused (CLIENT PAUSE), 16 requests sent at once each open their own
// connection to it while it is paused: their admissions are in flight together, and all are
// admitted once it resumes.
func TestTenantBudgetAdmissionsRunSideBySide(t *testing.T) {
	t.Parallel()
	rs, g := leaseGateway(t, []Limit{
		perMinute(LimitRequests, 100_000),
		{Kind: LimitTokens, Period: PeriodDay, Amount: 10_000_000},
	}, time.Minute, false, fastModel(t))
	require.Equal(t, http.StatusOK, g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-t").Status)
	before := rs.info("total_connections_received")
	require.Equal(t, "OK", rs.cli("CLIENT", "PAUSE", "1000", "WRITE"))
	const n = 16
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-t").Status
		}()
	}
	// Counted while Redis is still paused: requests queued behind one another's round trips
	// would open their connections only once it resumes.
	paused, opened := time.Now(), 0
	for polls := 1; ; polls++ {
		opened = rs.info("total_connections_received") - before - 1 - polls // the redis-cli calls
		if opened >= n/2 || time.Since(paused) > 700*time.Millisecond {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	t.Logf("%d requests opened %d connections to Redis while it was paused", n, opened)
	assert.GreaterOrEqual(t, opened, n/2, "the admissions were in flight side by side")
	for i, s := range statuses {
		assert.Equal(t, http.StatusOK, s, "request %d", i)
	}
}

// TestTenantLeasesSettleWhenGatewayQuits: a gateway that quits (SIGQUIT, as a rollout's pod
// does) while an answer is on its way gives back its lease's unused units and charges that
// answer's real tokens before it exits: nginx refuses delayed timers while a worker exits, so a
// settlement that waited for one would be lost. Redis ends at exactly the tokens served.
func TestTenantLeasesSettleWhenGatewayQuits(t *testing.T) {
	t.Parallel()
	// The slow answer's tokens (115) are not its estimate (15, from the body): it must settle.
	model := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		completion := 5
		if r.URL.Query().Get("slow") != "" {
			time.Sleep(500 * time.Millisecond)
			completion = 105
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"total_tokens":%d,"completion_tokens":%d}}`, 10+completion, completion)
	})
	rs, g := leaseGateway(t, []Limit{perMinute(LimitTokens, 1_000_000)}, time.Minute, false, model)
	const tokensKey = "llm:rl:team:tokens:minute:*"
	for range 20 {
		require.Equal(t, http.StatusOK, g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-t").Status)
	}
	require.Eventually(t, func() bool { return sumHash(rs, tokensKey) > 21*15 }, time.Second, 10*time.Millisecond, "a lease is held")
	done := make(chan int)
	go func() {
		done <- g.post(t, "/v1/chat/completions?slow=1", chat(modelA), "Authorization", "Bearer sk-t").Status
	}()
	require.Eventually(t, func() bool { return model.count() == 21 }, 2*time.Second, 5*time.Millisecond, "the slow answer is on its way")
	require.NoError(t, syscall.Kill(g.proc.Pid(), syscall.SIGQUIT))
	assert.Equal(t, http.StatusOK, <-done, "the answer in progress is served")
	select {
	case <-g.proc.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway did not exit")
	}
	assert.Equal(t, 20*15+115, sumHash(rs, tokensKey), "unused lease given back and every answer settled before the exit")
	assert.NotEqual(t, "-1", rs.cli("PTTL", tokensKey))
}

// TestTenantNegativeCountsCountAsZero: a counter below zero (refunds sent to a Redis that had
// lost its data and started over) lends no extra room: a limit of 10 admits 10.
func TestTenantNegativeCountsCountAsZero(t *testing.T) {
	t.Parallel()
	rs, g := leaseGateway(t, []Limit{perMinute(LimitRequests, 10)}, time.Minute, false, fastModel(t))
	bucket := time.Now().Unix() / int64(60/LimitBuckets)
	for b := bucket - 1; b <= bucket+1; b++ {
		rs.cli("HINCRBY", leaseKey, strconv.FormatInt(b, 10), "-50")
	}
	assert.Equal(t, 10, admittedOf(t, []*gateway{g}, "sk-t", 20))
}

// evalCalls is how many admissions Redis has run (EVALSHA and EVAL calls).
func evalCalls(t *testing.T, rs *redisServer) int {
	t.Helper()
	return callsOf(t, rs, "evalsha") + callsOf(t, rs, "eval")
}

// callsOf is how many times Redis has run command cmd (INFO commandstats).
func callsOf(t *testing.T, rs *redisServer, cmd string) int {
	t.Helper()
	for _, line := range strings.Split(rs.cli("INFO", "commandstats"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls="); ok {
			calls, err := strconv.Atoi(strings.Split(v, ",")[0])
			require.NoError(t, err)
			return calls
		}
	}
	return 0
}

// TestTenantLateSettlementKeepsALifetime: an answer that ends after its counter expired (a long
// stream of a tenant that sent nothing since) makes the counter again when it settles; it must
// get a lifetime, or it would stay in Redis forever. (A 1 s window: the counter lives about
// 2.2 s; the answer takes 2.6 s and uses 100 tokens more than its estimate.)
func TestTenantLateSettlementKeepsALifetime(t *testing.T) {
	t.Parallel()
	model := newBackend(t, "late", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2600 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"total_tokens":115,"completion_tokens":105}}`))
	})
	// 100 tokens a window is below LeaseShare x the estimate: no lease, a plain settlement.
	rs, g := leaseGateway(t, []Limit{perMinute(LimitTokens, 100)}, time.Second, false, model)
	const tokensKey = "llm:rl:team:tokens:minute:*"
	require.Equal(t, http.StatusOK, g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-t").Status)
	require.Eventually(t, func() bool { return rs.cli("EXISTS", tokensKey) == "1" }, time.Second, 10*time.Millisecond, "settled")
	ttl, err := strconv.Atoi(rs.cli("PTTL", tokensKey))
	require.NoError(t, err)
	assert.Positive(t, ttl, "the counter made again by the settlement expires")
}

// TestTenantResetCountsLaterBuckets: a per-minute count may already hold units in a bucket
// later than the current one (another worker's or pod's lease, counted where its last unit may
// be admitted). x-ratelimit-reset-requests is when everything counted has left the window, so
// it must reach past that bucket, not only past the one this request is counted in.
func TestTenantResetCountsLaterBuckets(t *testing.T) {
	t.Parallel()
	rs, g := leaseGateway(t, []Limit{perMinute(LimitRequests, 1000)}, time.Minute, false, fastModel(t))
	bw := time.Minute / LimitBuckets
	now := redisNow(t, rs)
	later := now.Truncate(bw).Add(2 * bw) // two buckets on: past any lease this request could take
	require.Equal(t, "1", rs.cli("HSET", leaseKey, strconv.FormatInt(later.UnixNano()/int64(bw), 10), "1"))

	r := chatWithin(t, g, "sk-t")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	reset, err := time.ParseDuration(r.Header.Get("x-ratelimit-reset-requests"))
	require.NoError(t, err, "%q", r.Header.Get("x-ratelimit-reset-requests"))
	// The later bucket leaves the window LimitBuckets buckets after it ends.
	want := later.Add(bw + time.Minute).Sub(now)
	assert.GreaterOrEqual(t, reset, want-time.Second, "reset %v, the later bucket leaves in %v", reset, want)
}

// redisNow is the Redis server's clock (the script counts by it).
func redisNow(t *testing.T, rs *redisServer) time.Time {
	t.Helper()
	f := strings.Fields(rs.cli("TIME"))
	require.Len(t, f, 2)
	s, err := strconv.ParseInt(f[0], 10, 64)
	require.NoError(t, err)
	us, err := strconv.ParseInt(f[1], 10, 64)
	require.NoError(t, err)
	return time.Unix(s, us*1000)
}

// TestTenantLeasesAllOrNone: a request is admitted from leases only when it holds one on every
// per-minute limit of its tenant, so where one limit is too small to lease (300 tokens a
// minute, under LeaseShare estimates per worker) no lease is taken on the others either: one
// would sit unused, held from the other workers, until given back. Redis's request count is
// then exactly the requests sent.
func TestTenantLeasesAllOrNone(t *testing.T) {
	t.Parallel()
	rs, g := leaseGateway(t, []Limit{perMinute(LimitRequests, 10_000), perMinute(LimitTokens, 300)}, time.Minute, false, fastModel(t))
	for i := range 6 {
		require.Equal(t, http.StatusOK, chatWithin(t, g, "sk-t").Status)
		assert.Equal(t, i+1, sumHash(rs, leaseKey), "request %d: counted, and no lease held", i)
	}
}
