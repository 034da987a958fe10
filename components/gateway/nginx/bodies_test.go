package nginx

import (
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// holdingBackend is a model server "slow" that holds every request until release is closed (or
// its client goes), and counts the requests it holds.
func holdingBackend(t *testing.T) (slow *backend, held *atomic.Int32, release chan struct{}) {
	release, held = make(chan struct{}), new(atomic.Int32)
	slow = newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"held":true}`)
	})
	return slow, held, release
}

// TestGatewayBodyBudget: large bodies (here 2 MiB: nginx writes them to a file, which the router
// maps) draw on the pod's body budget while their requests last;
// past it the next one is answered 503 before nginx reads its body, small bodies (within the
// per-stream allowance) are never refused for it, and the budget comes back when requests end.
func TestGatewayBodyBudget(t *testing.T) {
	t.Parallel()
	slow, held, release := holdingBackend(t)
	fast := newBackend(t, "fast", nil)
	const maxBody = 2 << 20
	gw := startGateway(t, []Route{{Name: "slow", Upstream: slow.addr()}, {Name: "fast", Upstream: fast.addr()}},
		withParams(func(p *Params) { p.MaxBodySize = maxBody; p.BodyMemory = 3 * p.BodyCost(maxBody) }))
	large := func(model string) string { return string(bigBody(maxBody-200, model)) }
	before := series(gw.scrape(t))

	// Three maximum-size bodies fill the budget while the model server holds them.
	var wg sync.WaitGroup
	statuses := make([]int, 3)
	for i := range statuses {
		wg.Go(func() { statuses[i] = gw.post(t, "/v1/chat/completions", large("slow")).Status })
	}
	require.Eventually(t, func() bool { return held.Load() == 3 }, 10*time.Second, 10*time.Millisecond)

	r := gw.post(t, "/v1/chat/completions", large("fast"))
	assertGatewayError(t, r, http.StatusServiceUnavailable, "server_overloaded")
	assert.Equal(t, "2", r.Header.Get("Retry-After"))
	// A chunked body is charged as the largest one until it is read (its size is known only
	// then): refused before nginx reads it.
	r = gw.do(t, http.MethodPost, "/v1/chat/completions", io.MultiReader(strings.NewReader(chat("fast"))))
	assertGatewayError(t, r, http.StatusServiceUnavailable, "server_overloaded")
	noneReceived(t, fast)
	// Within the allowance: routed.
	small := chat("fast")
	assertRouted(t, gw.post(t, "/v1/chat/completions", small), fast, []byte(small))

	close(release)
	wg.Wait()
	assert.Equal(t, []int{200, 200, 200}, statuses)
	// The budget is back: the largest body goes through, chunked too.
	body := large("fast")
	assertRouted(t, gw.post(t, "/v1/chat/completions", body), fast, []byte(body))
	r = gw.do(t, http.MethodPost, "/v1/chat/completions", io.MultiReader(strings.NewReader(body)))
	assertRouted(t, r, fast, []byte(body))

	d := delta(before, series(gw.scrape(t)))
	assert.Equal(t, 2.0, d[MetricRefused+`{reason="`+RefusedOverloaded+`"}`], "both refusals counted: %v", d)
}

// TestGatewayChunkedBodiesAreChargedTheirSize: a chunked body is charged as the largest one
// only until it is read; then it holds what a body of its size holds: nothing for small ones
// (within the allowance), its real cost for a large one. So small chunked requests held open by a
// slow model server (here 10, where the budget has room for fewer than 2 maximum-size bodies) are
// all answered, and a large chunked body leaves room for what the budget has left.
func TestGatewayChunkedBodiesAreChargedTheirSize(t *testing.T) {
	t.Parallel()
	slow, held, release := holdingBackend(t)
	const maxBody, large = 4 << 20, 2 << 20
	gw := startGateway(t, []Route{{Name: "slow", Upstream: slow.addr()}}, withParams(func(p *Params) {
		p.MaxBodySize = maxBody
		p.BodyMemory = p.BodyCost(maxBody) + p.BodyCost(large)
	}))
	chunked := func(body string) io.Reader { return io.MultiReader(strings.NewReader(body)) }
	var wg sync.WaitGroup
	var statuses []int
	var mu sync.Mutex
	// hold sends a request and waits until the model server holds it (so it was read and its
	// charge settled before the next one is admitted).
	hold := func(body io.Reader) {
		want := held.Load() + 1
		wg.Go(func() {
			s := gw.do(t, http.MethodPost, "/v1/chat/completions", body).Status
			mu.Lock()
			statuses = append(statuses, s)
			mu.Unlock()
		})
		require.Eventually(t, func() bool { return held.Load() == want }, 10*time.Second, 5*time.Millisecond,
			"request %d held", want)
	}
	for range 10 {
		hold(chunked(chat("slow")))
	}
	// A large chunked body is charged its cost, not the largest one's: a maximum-size body still
	// fits beside it.
	hold(chunked(string(bigBody(large-200, "slow"))))
	hold(strings.NewReader(string(bigBody(maxBody-200, "slow"))))
	// The budget is full now.
	assertGatewayError(t, gw.post(t, "/v1/chat/completions", string(bigBody(64<<10, "slow"))),
		http.StatusServiceUnavailable, "server_overloaded")

	close(release)
	wg.Wait()
	assert.Equal(t, slices.Repeat([]int{200}, 12), statuses)
}

// TestGatewayBodyBudgetOfACrashedWorker: a worker killed while a large body's request is in
// flight never gives its charge back in the log phase; the ledger takes it back once the worker
// is gone, so the budget (here one maximum-size body) is free again for the next worker.
func TestGatewayBodyBudgetOfACrashedWorker(t *testing.T) {
	t.Parallel()
	var held atomic.Int32
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		<-r.Context().Done()
	})
	fast := newBackend(t, "fast", nil)
	const maxBody = 2 << 20
	gw := startGateway(t, []Route{{Name: "slow", Upstream: slow.addr()}, {Name: "fast", Upstream: fast.addr()}},
		withParams(func(p *Params) { p.MaxBodySize = maxBody; p.BodyMemory = p.BodyCost(maxBody) }))
	gw.expectLog("exited on signal 9")
	large := func(model string) string { return string(bigBody(maxBody-200, model)) }
	go func() {
		_, _ = client.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(large("slow")))
	}()
	require.Eventually(t, func() bool { return held.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	assertGatewayError(t, gw.post(t, "/v1/chat/completions", large("fast")), http.StatusServiceUnavailable, "server_overloaded")

	workers := gw.proc.Workers()
	require.Len(t, workers, 1)
	require.NoError(t, syscall.Kill(workers[0], syscall.SIGKILL))
	body := large("fast")
	require.Eventually(t, func() bool {
		return gw.post(t, "/v1/chat/completions", body).Status == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "the dead worker's charge is taken back")
	assert.Contains(t, gw.errorLog(t), "counted in total; taken back")
}

// TestSharedMemoryIsWhatTheConfigDeclares: the pod's memory limit counts p.SharedMemory, so it must
// be the sum of every lua_shared_dict and limit_conn zone the rendered nginx.conf declares, with
// replica routing and without, with tenants' limits and without (a dict added to the config but
// not to the sum would be memory the limit never allowed for).
func TestSharedMemoryIsWhatTheConfigDeclares(t *testing.T) {
	zone := regexp.MustCompile(`(?m)^\s*(?:lua_shared_dict \S+ |limit_conn_zone .*zone=\S+:)(\d+)([km]?);`)
	unit := map[string]int64{"": 1, "k": 1 << 10, "m": 1 << 20}
	limited := routedParams()
	limited.KeysFile = "/etc/gateway/keys/keys.json"
	limited.Tenants = []Tenant{{Name: "team", Limits: []Limit{{Kind: LimitRequests, Period: PeriodMinute, Amount: 30}}}}
	limited.Limits = Limits{Redis: "redis.example:6379"}
	require.True(t, limited.HasLimits())
	cases := map[string]Params{"one Service per model": validParams(), "replica routing": routedParams(), "tenants' limits": limited}
	for name, p := range cases {
		files, err := Generate(p)
		require.NoError(t, err)
		var declared int64
		zones := zone.FindAllStringSubmatch(files[ConfigFile], -1)
		for _, m := range zones {
			n, err := strconv.ParseInt(m[1], 10, 64)
			require.NoError(t, err)
			declared += n * unit[m[2]]
		}
		require.NotEmpty(t, zones, name)
		assert.Equal(t, declared, p.SharedMemory(), "%s: %d zones declared", name, len(zones))
	}
}

// TestGatewayBodiesOnDisk: with a body buffer far below the bodies (16 KiB: every body here goes
// to nginx's temporary file, which the router maps), each body is read whole from the file, sent
// with Content-Length or chunked: the model named after 3 MiB of escaped prompt, first, or not at
// all routes right; a truncated body, an array or an unknown model is refused as in memory; past the
// limit it is 413. No body is ever sent to a model it does not name.
func TestGatewayBodiesOnDisk(t *testing.T) {
	t.Parallel()
	x := startTrio(t, withParams(func(p *Params) { p.BodyBufferSize = 16 << 10; p.MaxBodySize = 4 << 20 }))
	send := func(body string, chunked bool) response {
		if chunked {
			return x.gw.do(t, http.MethodPost, "/v1/chat/completions", io.MultiReader(strings.NewReader(body)))
		}
		return x.gw.post(t, "/v1/chat/completions", body)
	}
	escaped := strings.Repeat(`\"\\\n\u00e9 `, (3<<20)/12)
	pad := strings.Repeat(`{},`, (1<<20)/3)
	routed := []struct {
		name, body string
		want       *backend
	}{
		{"model last, after 3 MiB of escapes", `{"messages":[{"role":"user","content":"` + escaped + `"}],"model":"odd]]\"name\\with'quotes-\u00fc"}`, x.c},
		{"model first", `{"model":` + jsonString(modelB) + `,"x":[` + pad + `{}]}`, x.b},
		{"no model: the default", `{"x":[` + pad + `{}]}`, x.a},
	}
	refused := []struct {
		name, body string
		status     int
		code       string
	}{
		{"truncated", `{"x":[` + pad + `{}],"model":` + jsonString(modelB), http.StatusBadRequest, "invalid_json"},
		{"an array", `[` + pad + `{"model":` + jsonString(modelB) + `}]`, http.StatusBadRequest, "invalid_json"},
		{"unknown model", `{"x":[` + pad + `{}],"model":"nobody"}`, http.StatusNotFound, "model_not_found"},
		{"past the limit", `{"x":"` + strings.Repeat("a", 5<<20) + `","model":` + jsonString(modelB) + `}`, http.StatusRequestEntityTooLarge, "request_too_large"},
	}
	for _, chunked := range []bool{false, true} {
		for _, tc := range routed {
			before := tc.want.count()
			assertRouted(t, send(tc.body, chunked), tc.want, []byte(tc.body))
			assert.Equal(t, before+1, tc.want.count(), "%s (chunked %v)", tc.name, chunked)
		}
		for _, tc := range refused {
			before := x.a.count() + x.b.count() + x.c.count()
			assertGatewayError(t, send(tc.body, chunked), tc.status, tc.code)
			assert.Equal(t, before, x.a.count()+x.b.count()+x.c.count(), "%s (chunked %v): sent to a model", tc.name, chunked)
		}
	}
	assert.Contains(t, x.gw.errorLog(t), "a client request body is buffered to a temporary file",
		"the test must really exercise the file path")
}
