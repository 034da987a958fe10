package nginx

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Served names that must survive nginx.conf, Lua and JSON exactly: a dot, a slash, and one
// with quotes, a backslash, "]]" and non-ASCII.
const (
	modelA = "qwen3-0.6b"
	modelB = "meta-llama/Llama-3.1-8B-Instruct"
	modelC = `odd]]"name\with'quotes-ü`
)

// trio is a gateway in front of three fake model servers (modelA is the default).
type trio struct {
	gw      *gateway
	a, b, c *backend
}

func (x trio) all() []*backend { return []*backend{x.a, x.b, x.c} }

func startTrio(t *testing.T, opts ...gatewayOption) trio {
	t.Helper()
	x := trio{a: newBackend(t, "a", nil), b: newBackend(t, "b", nil), c: newBackend(t, "c", nil)}
	x.gw = startGateway(t, []Route{
		{Name: modelA, Upstream: x.a.addr()},
		{Name: modelB, Upstream: x.b.addr()},
		{Name: modelC, Upstream: x.c.addr()},
	}, opts...)
	return x
}

func TestGatewayRoutesEachModel(t *testing.T) {
	t.Parallel()
	x := startTrio(t)
	for _, tc := range []struct {
		model string
		want  *backend
	}{{modelA, x.a}, {modelB, x.b}, {modelC, x.c}} {
		for _, path := range []string{"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/audio/transcriptions?x=1"} {
			before := []int{x.a.count(), x.b.count(), x.c.count()}
			body := chat(tc.model)
			r := x.gw.post(t, path, body)
			assertRouted(t, r, tc.want, []byte(body))
			got := tc.want.last(t)
			assert.Equal(t, http.MethodPost, got.Method)
			p, q, _ := strings.Cut(path, "?")
			assert.Equal(t, p, got.Path)
			assert.Equal(t, q, got.RawQuery)
			assert.Equal(t, tc.want.addr(), got.Host, "Host must be the model Service's host:port")
			after := []int{x.a.count(), x.b.count(), x.c.count()}
			for i, b := range x.all() {
				delta := 0
				if b == tc.want {
					delta = 1
				}
				assert.Equal(t, before[i]+delta, after[i], "backend %s for %s %s", b.name, tc.model, path)
			}
		}
	}
}

func TestGatewayDefaultModel(t *testing.T) {
	t.Parallel()
	x := startTrio(t)
	for _, body := range []string{
		`{"messages":[{"role":"user","content":"no model"}]}`,
		`{"model":null,"prompt":"x"}`,
		`{}`,
	} {
		r := x.gw.post(t, "/v1/chat/completions", body)
		assertRouted(t, r, x.a, []byte(body))
	}
	assert.Equal(t, 3, x.a.count())
	noneReceived(t, x.b, x.c)
}

func TestGatewayEmptyBody(t *testing.T) {
	t.Parallel()
	x := startTrio(t)
	r := x.gw.post(t, "/v1/chat/completions", "")
	assertRouted(t, r, x.a, nil)
	r = x.gw.do(t, http.MethodGet, "/v1/something", nil)
	assertRouted(t, r, x.a, nil)
	assert.Equal(t, http.MethodGet, x.a.last(t).Method)
	noneReceived(t, x.b, x.c)
}

func TestGatewayUnknownModel(t *testing.T) {
	t.Parallel()
	x := startTrio(t)
	for _, name := range []string{"gpt-4o", "qwen3-0.6B", "tab\tquote\"back\\slash/ü"} {
		r := x.gw.post(t, "/v1/chat/completions", chat(name))
		e := assertGatewayError(t, r, http.StatusNotFound, "model_not_found")
		assert.Equal(t, "invalid_request_error", e["type"])
		assert.Equal(t, "model", e["param"])
		assert.Contains(t, e["message"], "'"+name+"'", "the message quotes the requested model exactly")
		assert.Contains(t, e["message"], modelA)
	}
	// Names that cannot be echoed safely (invalid UTF-8, very long) get a generic message.
	r := x.gw.post(t, "/v1/chat/completions", `{"model":"`+strings.Repeat("x", 300)+`"}`)
	e := assertGatewayError(t, r, http.StatusNotFound, "model_not_found")
	assert.NotContains(t, e["message"], "xxxx")
	r = x.gw.post(t, "/v1/chat/completions", "{\"model\":\"bad\xff\xfeutf8\"}")
	assertGatewayError(t, r, http.StatusNotFound, "model_not_found")
	noneReceived(t, x.all()...)
}

func TestGatewayRejectsBadBodies(t *testing.T) {
	t.Parallel()
	x := startTrio(t)
	for _, tc := range []struct {
		name, body, code string
	}{
		{"malformed JSON", `{"model":"qwen3-0.6b",`, "invalid_json"},
		{"not JSON", `model=qwen3-0.6b`, "invalid_json"},
		{"NaN is not JSON", `{"model":"qwen3-0.6b","temperature":NaN}`, "invalid_json"},
		{"array body", `[{"model":"qwen3-0.6b"}]`, "invalid_json"},
		{"empty array", `[]`, "invalid_json"},
		{"string body", `"qwen3-0.6b"`, "invalid_json"},
		{"number body", `42`, "invalid_json"},
		{"null body", `null`, "invalid_json"},
		{"numeric model", `{"model":42}`, "invalid_type"},
		{"object model", `{"model":{"name":"qwen3-0.6b"}}`, "invalid_type"},
		{"array model", `{"model":["qwen3-0.6b"]}`, "invalid_type"},
		{"boolean model", `{"model":true}`, "invalid_type"},
		{"empty model", `{"model":""}`, "invalid_value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := x.gw.post(t, "/v1/chat/completions", tc.body)
			e := assertGatewayError(t, r, http.StatusBadRequest, tc.code)
			assert.Equal(t, "invalid_request_error", e["type"])
		})
	}
	noneReceived(t, x.all()...)
}

// bigBody is a chat request of at least size bytes whose "model" comes last, after the long
// messages: routing it right needs the whole body (DESIGN trap 1).
func bigBody(size int, model string) []byte {
	filler := strings.Repeat("lorem ipsum ", size/12+1)
	return []byte(fmt.Sprintf(`{"messages":[{"role":"user","content":%q}],"model":%s}`, filler, jsonString(model)))
}

func TestGatewayOneMiBBodyRoutesToSecondModel(t *testing.T) {
	t.Parallel()
	x := startTrio(t)
	body := bigBody(1<<20, modelB)
	require.GreaterOrEqual(t, len(body), 1<<20)
	r := x.gw.post(t, "/v1/chat/completions", string(body))
	assertRouted(t, r, x.b, body)
	noneReceived(t, x.a, x.c)
	// The same body sent chunked (no Content-Length) routes the same way.
	r = x.gw.do(t, http.MethodPost, "/v1/chat/completions", io.MultiReader(strings.NewReader(string(body))))
	assertRouted(t, r, x.b, body)
	noneReceived(t, x.a, x.c)
}

func TestGatewayReadsBodySpilledToFile(t *testing.T) {
	t.Parallel()
	// A body buffer far below the body size makes nginx write the body to a temp file; the
	// router must read it from there rather than fall back to the default model.
	x := startTrio(t, withParams(func(p *Params) { p.BodyBufferSize = 16 << 10 }))
	body := bigBody(1<<20, modelB)
	r := x.gw.post(t, "/v1/chat/completions", string(body))
	assertRouted(t, r, x.b, body)
	noneReceived(t, x.a, x.c)
	assert.Contains(t, x.gw.errorLog(t), "a client request body is buffered to a temporary file",
		"the test must really exercise the spilled-body path")
}

func TestGatewayOversizeBody(t *testing.T) {
	t.Parallel()
	x := startTrio(t, withParams(func(p *Params) { p.MaxBodySize = 64 << 10 }))
	body := string(bigBody(100<<10, modelB))
	r := x.gw.post(t, "/v1/chat/completions", body)
	e := assertGatewayError(t, r, http.StatusRequestEntityTooLarge, "request_too_large")
	assert.Contains(t, e["message"], fmt.Sprint(64<<10))
	// Chunked: nginx finds out while reading, inside the router.
	r = x.gw.do(t, http.MethodPost, "/v1/chat/completions", io.MultiReader(strings.NewReader(body)))
	assertGatewayError(t, r, http.StatusRequestEntityTooLarge, "request_too_large")
	// At the limit is fine.
	ok := bigBody(60<<10, modelB)
	r = x.gw.post(t, "/v1/chat/completions", string(ok))
	assertRouted(t, r, x.b, ok)
	assert.Equal(t, 1, x.b.count())
	noneReceived(t, x.a, x.c)
}

func TestGatewayAPIKeys(t *testing.T) {
	t.Parallel()
	x := startTrio(t,
		withKeys(t, map[string][]string{"default": {"sk-first", "sk-second", ""}}))
	body := chat(modelB)
	for _, tc := range []struct {
		name, auth string
	}{
		{"missing", ""},
		{"wrong", "Bearer sk-wrong"},
		{"prefix of a key", "Bearer sk-firs"},
		{"key with extra", "Bearer sk-first2"},
		{"not bearer", "Basic sk-first"},
		{"bare key", "sk-first"},
		{"empty bearer", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			r := x.gw.post(t, "/v1/chat/completions", body, hdr...)
			assertGatewayError(t, r, http.StatusUnauthorized, "invalid_api_key")
			assert.Equal(t, "Bearer", r.Header.Get("WWW-Authenticate"))
			r = x.gw.do(t, http.MethodGet, "/v1/models", nil, hdr...)
			assertGatewayError(t, r, http.StatusUnauthorized, "invalid_api_key")
		})
	}
	noneReceived(t, x.all()...)
	for _, auth := range []string{"Bearer sk-first", "bearer sk-second", "Bearer   sk-second  "} {
		r := x.gw.post(t, "/v1/chat/completions", body, "Authorization", auth)
		assertRouted(t, r, x.b, []byte(body))
		assert.Equal(t, strings.TrimSpace(auth), x.b.last(t).Authorization, "the key is forwarded")
		r = x.gw.do(t, http.MethodGet, "/v1/models", nil, "Authorization", auth)
		assert.Equal(t, http.StatusOK, r.Status)
	}
	// The health path needs no key.
	r := x.gw.do(t, http.MethodGet, HealthPath, nil)
	assert.Equal(t, http.StatusOK, r.Status)
	noneReceived(t, x.a, x.c)
}

func TestGatewayAPIKeysFailClosed(t *testing.T) {
	t.Parallel()
	// Keys configured but the file holds none: nobody gets in.
	x := startTrio(t, withKeys(t, map[string][]string{}))
	x.gw.expectLog("holds no API keys")
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		r := x.gw.post(t, "/v1/chat/completions", chat(modelA), "Authorization", auth)
		assertGatewayError(t, r, http.StatusUnauthorized, "invalid_api_key")
	}
	noneReceived(t, x.all()...)
}

func TestGatewayUpstreamDown(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a", nil)
	down := "127.0.0.1:" + freePort(t) // nothing listens there
	gw := startGateway(t, []Route{{Name: modelA, Upstream: a.addr()}, {Name: "down", Upstream: down}})
	for range 3 {
		r := gw.post(t, "/v1/chat/completions", chat("down"))
		e := assertGatewayError(t, r, http.StatusBadGateway, "bad_gateway")
		assert.Equal(t, "server_error", e["type"])
	}
	noneReceived(t, a)
	// The other model is unaffected.
	body := chat(modelA)
	assertRouted(t, gw.post(t, "/v1/chat/completions", body), a, []byte(body))
}

func TestGatewayUpstreamTimeout(t *testing.T) {
	t.Parallel()
	slow := silentBackend(t)
	gw := startGateway(t, []Route{{Name: modelA, Upstream: slow.addr()}},
		withParams(func(p *Params) { p.ProxyTimeout = 300 * time.Millisecond }))
	start := time.Now()
	r := gw.post(t, "/v1/chat/completions", chat(modelA))
	e := assertGatewayError(t, r, http.StatusGatewayTimeout, "upstream_timeout")
	assert.Equal(t, "server_error", e["type"])
	assert.Contains(t, e["message"], "300ms")
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, 1, slow.count())
}

func TestGatewayPassesModelServerErrorsThrough(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 404, 413, 422, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			vllmBody := fmt.Sprintf(`{"object":"error","message":"vLLM says no (%d)","type":"BadRequestError","param":null,"code":%d}`, status, status)
			v := newBackend(t, "vllm", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Header().Set("X-Vllm", "1")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, vllmBody)
			})
			gw := startGateway(t, []Route{{Name: modelA, Upstream: v.addr()}})
			r := gw.post(t, "/v1/chat/completions", chat(modelA))
			assert.Equal(t, status, r.Status)
			assert.Equal(t, vllmBody, string(r.Body), "the model server's error body passes untouched")
			assert.Equal(t, "application/json; charset=utf-8", r.ContentType)
			assert.Equal(t, "1", r.Header.Get("X-Vllm"))
			assert.Equal(t, "vllm", r.Header.Get("X-Backend"))
			assert.Equal(t, 1, v.count())
		})
	}
}

// Each event must reach the client while the backend still holds back the next one: the
// backend sends event n+1 only after the client has read event n (channels sequence it; the
// timeouts only turn a buffering gateway into a failure instead of a hang).
func TestGatewayStreamsServerSentEvents(t *testing.T) {
	t.Parallel()
	const events = 4
	received := make(chan int) // client -> backend: "I have event n"
	var sent atomic.Int32      // events the backend has written so far
	sse := newBackend(t, "sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for n := 1; n <= events; n++ {
			_, _ = fmt.Fprintf(w, "data: {\"n\":%d}\n\n", n)
			sent.Store(int32(n))
			w.(http.Flusher).Flush()
			select { // hold the rest back until the client has this event
			case <-received:
			case <-time.After(15 * time.Second):
				return
			}
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	})
	a := newBackend(t, "a", nil)
	gw := startGateway(t, []Route{{Name: modelA, Upstream: a.addr()}, {Name: modelB, Upstream: sse.addr()}})

	req, err := http.NewRequest(http.MethodPost, gw.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+modelB+`","stream":true,"messages":[]}`))
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "sse", resp.Header.Get("X-Backend"))

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() != "" {
				lines <- sc.Text()
			}
		}
	}()
	for n := 1; n <= events; n++ {
		select {
		case line := <-lines:
			require.Equal(t, fmt.Sprintf("data: {\"n\":%d}", n), line)
			require.Equal(t, int32(n), sent.Load(), "event %d must arrive before the backend sends the next", n)
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d not delivered while the backend holds the rest: the gateway buffers the stream", n)
		}
		received <- n
	}
	select {
	case line := <-lines:
		assert.Equal(t, "data: [DONE]", line)
	case <-time.After(10 * time.Second):
		t.Fatal("no [DONE]")
	}
	_, open := <-lines
	assert.False(t, open, "stream ends after [DONE]")
	noneReceived(t, a)
}

func TestGatewayModelsList(t *testing.T) {
	t.Parallel()
	x := startTrio(t)
	want := `{"object":"list","data":[` +
		`{"id":"qwen3-0.6b","object":"model","created":0,"owned_by":"llm-platform"},` +
		`{"id":"meta-llama/Llama-3.1-8B-Instruct","object":"model","created":0,"owned_by":"llm-platform"},` +
		`{"id":"odd]]\"name\\with'quotes-ü","object":"model","created":0,"owned_by":"llm-platform"}]}`
	r := x.gw.do(t, http.MethodGet, "/v1/models", nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "application/json", r.ContentType)
	assert.Equal(t, want, string(r.Body))
	var list struct {
		Data []struct{ ID string } `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &list))
	require.Len(t, list.Data, 3)
	assert.Equal(t, modelC, list.Data[2].ID)

	r = x.gw.do(t, http.MethodGet, "/v1/models/"+modelB, nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.JSONEq(t, `{"id":"meta-llama/Llama-3.1-8B-Instruct","object":"model","created":0,"owned_by":"llm-platform"}`, string(r.Body))
	r = x.gw.do(t, http.MethodGet, "/v1/models/nope", nil)
	assertGatewayError(t, r, http.StatusNotFound, "model_not_found")
	r = x.gw.post(t, "/v1/models", chat(modelA))
	assertGatewayError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	noneReceived(t, x.all()...)
}

func TestGatewayHealth(t *testing.T) {
	t.Parallel()
	x := startTrio(t)
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r := x.gw.do(t, m, HealthPath, nil)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, "application/json", r.ContentType)
		if m == http.MethodGet {
			assert.JSONEq(t, `{"status":"ok"}`, string(r.Body))
		}
	}
	noneReceived(t, x.all()...)
}

func TestGatewayNothingOutsideV1IsProxied(t *testing.T) {
	t.Parallel()
	x := startTrio(t)
	for _, path := range []string{"/", "/health", "/metrics", "/v1", "/v2/chat/completions", "/chat/completions", "/api/chat", "/healthz/x"} {
		r := x.gw.post(t, path, chat(modelB))
		assertGatewayError(t, r, http.StatusNotFound, "not_found")
		r = x.gw.do(t, http.MethodGet, path, nil)
		assertGatewayError(t, r, http.StatusNotFound, "not_found")
	}
	noneReceived(t, x.all()...)
}

func TestGatewayLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	x := startTrio(t, withParams(func(p *Params) { p.Runtime.WorkerProcesses = 2 }))
	const (
		clients  = 64
		requests = 6000
	)
	models := []struct {
		name string
		b    *backend
	}{{modelA, x.a}, {modelB, x.b}, {modelC, x.c}}
	lc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	var (
		next                      atomic.Int64
		misrouted, badStatus, err atomic.Int64
		wg                        sync.WaitGroup
		firstProblem              sync.Once
		problem                   string
	)
	note := func(s string) { firstProblem.Do(func() { problem = s }) }
	start := time.Now()
	deadline := start.Add(45 * time.Second)
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= requests || time.Now().After(deadline) {
					return
				}
				m := models[i%3]
				// Every 50th request omits the model: the default (modelA) must answer it.
				body, want := chat(m.name), m.b
				if i%50 == 0 {
					body, want = fmt.Sprintf(`{"messages":[],"n":%d}`, i), x.a
				}
				resp, e := lc.Post(x.gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if e != nil {
					err.Add(1)
					note(e.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					badStatus.Add(1)
					note(fmt.Sprintf("status %d", resp.StatusCode))
				} else if got := resp.Header.Get("X-Backend"); got != want.name {
					misrouted.Add(1)
					note(fmt.Sprintf("request %d for %q answered by %s", i, m.name, got))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	done := min(next.Load(), requests)
	t.Logf("%d requests from %d clients in %v (%.0f req/s)", done, clients, elapsed, float64(done)/elapsed.Seconds())
	require.Equal(t, int64(requests), done, "load test did not finish within its time bound")
	assert.Zero(t, misrouted.Load(), "misrouted; first problem: %s", problem)
	assert.Zero(t, badStatus.Load(), "unexpected statuses; first problem: %s", problem)
	assert.Zero(t, err.Load(), "transport errors; first problem: %s", problem)
	total := x.a.count() + x.b.count() + x.c.count()
	assert.Equal(t, requests, total, "every request reached exactly one backend")
	assert.Equal(t, requests/3+requests/50-requests/150, x.a.count())
}

// A sanity check that the harness really talks to nginx (not the backends directly).
func TestGatewayServerIsNginx(t *testing.T) {
	t.Parallel()
	x := startTrio(t)
	host, _, err := net.SplitHostPort(strings.TrimPrefix(x.gw.URL, "http://"))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	r := x.gw.do(t, http.MethodGet, HealthPath, nil)
	assert.Equal(t, "nginx", r.Header.Get("Server"))
}
