package nginx

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/nginxproc"
)

// The integration tests run the rendered configuration in Debian's nginx with the Lua module
// (apt packages: nginx libnginx-mod-http-lua lua-cjson). Without them the tests skip with a
// message, except when CI is set: then they fail, so CI can never pass by skipping.

// requireNginx returns the nginx binary, or skips/fails when nginx or its Lua stack is missing.
func requireNginx(t testing.TB) string {
	t.Helper()
	var missing []string
	bin := os.Getenv("GATEWAY_NGINX")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("nginx"); err != nil {
			bin = "/usr/sbin/nginx"
		}
	}
	if _, err := os.Stat(bin); err != nil {
		missing = append(missing, "nginx binary ("+bin+")")
	}
	for _, m := range []string{DebianNDKModule, DebianLuaModule} {
		if _, err := os.Stat(m); err != nil {
			missing = append(missing, m)
		}
	}
	if cj, _ := filepath.Glob("/usr/lib/*/lua/5.1/cjson.so"); len(cj) == 0 {
		missing = append(missing, "lua-cjson (/usr/lib/*/lua/5.1/cjson.so)")
	}
	if len(missing) > 0 {
		msg := "gateway integration tests need Debian's nginx Lua stack " +
			"(apt-get install -y nginx libnginx-mod-http-lua lua-cjson); missing: " + strings.Join(missing, ", ")
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatal(msg + " (CI is set: refusing to skip)")
		}
		t.Skip(msg)
	}
	return bin
}

// received is what a fake model server saw.
type received struct {
	Method, Path, RawQuery, Host, Authorization string
	Body                                        []byte
}

// backend is a fake vLLM server on 127.0.0.1 that records every request and answers with its
// own name (JSON body and X-Backend header), unless a custom handler is set.
type backend struct {
	name string
	srv  *httptest.Server

	mu   sync.Mutex
	reqs []received
}

type echo struct {
	Backend    string `json:"backend"`
	Path       string `json:"path"`
	BodyLen    int    `json:"body_len"`
	BodySHA256 string `json:"body_sha256"`
}

func newBackend(t testing.TB, name string, handler http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		b.mu.Lock()
		b.reqs = append(b.reqs, received{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
			Authorization: r.Header.Get("Authorization"), Body: body,
		})
		b.mu.Unlock()
		w.Header().Set("X-Backend", name)
		if handler != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			handler(w, r)
			return
		}
		sum := sha256.Sum256(body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Backend: name, Path: r.URL.Path, BodyLen: len(body), BodySHA256: hex.EncodeToString(sum[:])})
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// errorLog returns what nginx logged so far.
func (g *gateway) errorLog(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(g.params.Runtime.ErrorLog)
	require.NoError(t, err)
	return string(b)
}

// silentBackend is a model server that never answers (it holds each request until the client
// gives up or the test ends): the gateway's timeout is what ends the request.
func silentBackend(t testing.TB) *backend {
	t.Helper()
	release := make(chan struct{})
	b := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	return b
}

func (b *backend) addr() string { return strings.TrimPrefix(b.srv.URL, "http://") }

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

func (b *backend) last(t testing.TB) received {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.NotEmpty(t, b.reqs, "backend %s received nothing", b.name)
	return b.reqs[len(b.reqs)-1]
}

// gateway is a running nginx with the rendered configuration.
type gateway struct {
	URL string
	// MetricsURL is the metrics listener's base URL (http://127.0.0.1:<port>).
	MetricsURL string
	dir        string
	params     Params
	files      map[string]string
	bin        string
	env        []string
	proc       *nginxproc.Process
	// expected are error-log lines a test provokes on purpose (a worker it kills), exempt from
	// the check that the log never has alerts.
	expected []string
}

// expectLog exempts error-log lines containing s from the end-of-test check.
func (g *gateway) expectLog(s string) { g.expected = append(g.expected, s) }

type gatewayOption func(*Params, *[]string)

// withEnv adds an environment variable for the nginx process.
func withEnv(kv string) gatewayOption {
	return func(_ *Params, env *[]string) { *env = append(*env, kv) }
}

func withParams(f func(*Params)) gatewayOption {
	return func(p *Params, _ *[]string) { f(p) }
}

// startGateway renders routes with test-sized limits into a temp dir and runs nginx on a free
// 127.0.0.1 port until the test ends.
func startGateway(t testing.TB, routes []Route, opts ...gatewayOption) *gateway {
	t.Helper()
	bin := requireNginx(t)
	dir := t.TempDir()
	rt := DebianRuntime(dir)
	rt.WorkerProcesses = 1
	if os.Geteuid() == 0 {
		rt.User = "root" // workers must reach the 0700 temp dir
	}
	p := Params{
		Routes:       routes,
		MaxBodySize:  4 << 20,
		ProxyTimeout: 30 * time.Second,
		MaxStreams:   1024,
		Runtime:      rt,
		HoldShare:    DefaultHoldShare,
	}
	var env []string
	for _, o := range opts {
		o(&p, &env)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		p.Listen = "127.0.0.1:" + freePort(t)
		p.MetricsListen = "127.0.0.1:" + freePort(t)
		g, err := launch(t, bin, p, env)
		if err == nil {
			return g
		}
		lastErr = err
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	t.Fatalf("starting nginx: %v", lastErr)
	return nil
}

func launch(t testing.TB, bin string, p Params, env []string) (*gateway, error) {
	files, err := Generate(p)
	require.NoError(t, err)
	dir := p.Runtime.LuaDir
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	_ = os.Remove(p.Runtime.ErrorLog)
	g := &gateway{URL: "http://" + p.Listen, dir: dir, params: p, files: files, bin: bin, env: env}
	if p.MetricsListen != "" {
		g.MetricsURL = "http://" + p.MetricsListen
	}
	healthy := func() bool {
		resp, err := http.Get(g.URL + HealthPath)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	proc, err := nginxproc.Start(Command(bin, p.Runtime), env, healthy, 10*time.Second)
	if err != nil {
		log, _ := os.ReadFile(p.Runtime.ErrorLog)
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	g.proc = proc
	t.Cleanup(func() {
		proc.Stop()
		log, _ := os.ReadFile(p.Runtime.ErrorLog)
		if os.Getenv("GATEWAY_SHOW_LOG") != "" {
			t.Logf("nginx error log:\n%s", log)
		}
		var unexpected []string
		for _, line := range strings.Split(string(log), "\n") {
			if !slices.ContainsFunc(g.expected, func(e string) bool { return strings.Contains(line, e) }) {
				unexpected = append(unexpected, line)
			}
		}
		// Lua exceptions, crashes and config surprises must never happen, whatever the test.
		for _, bad := range []string{"[emerg]", "[alert]", "[crit]", "runtime error", "lua entry thread aborted"} {
			if !assert.NotContains(t, strings.Join(unexpected, "\n"), bad, "nginx error log") {
				break
			}
		}
		if t.Failed() {
			t.Logf("nginx error log:\n%s", log)
		}
	})
	return g, nil
}

func freePort(t testing.TB) string {
	t.Helper()
	port, err := nginxproc.FreePort()
	require.NoError(t, err)
	return port
}

// response is a fully read HTTP response.
type response struct {
	Status      int
	ContentType string
	Header      http.Header
	Body        []byte
}

var client = &http.Client{
	Timeout: 20 * time.Second,
	Transport: &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	},
}

func (g *gateway) do(t testing.TB, method, path string, body io.Reader, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, body)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Header: resp.Header, Body: b}
}

func (g *gateway) post(t testing.TB, path, body string, header ...string) response {
	t.Helper()
	return g.do(t, http.MethodPost, path, strings.NewReader(body), header...)
}

// assertRouted checks a 200 answered by backend want (and only by it) for the request body.
func assertRouted(t testing.TB, r response, want *backend, sentBody []byte) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	assert.Equal(t, want.name, r.Header.Get("X-Backend"))
	assert.Equal(t, "application/json", r.ContentType)
	var e echo
	require.NoError(t, json.Unmarshal(r.Body, &e), "body: %s", r.Body)
	assert.Equal(t, want.name, e.Backend)
	sum := sha256.Sum256(sentBody)
	assert.Equal(t, len(sentBody), e.BodyLen, "backend must receive the whole body")
	assert.Equal(t, hex.EncodeToString(sum[:]), e.BodySHA256, "backend must receive the body unchanged")
}

// assertGatewayError checks an OpenAI-style error made by the gateway itself.
func assertGatewayError(t testing.TB, r response, status int, code string) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	assert.Equal(t, "application/json", r.ContentType)
	assert.Empty(t, r.Header.Get("X-Backend"), "no model server may have answered")
	var doc map[string]map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &doc), "error body must be JSON: %s", r.Body)
	require.Len(t, doc, 1, "body: %s", r.Body)
	e, ok := doc["error"]
	require.True(t, ok, "body: %s", r.Body)
	assert.ElementsMatch(t, []string{"message", "type", "param", "code"}, keys(e))
	assert.NotEmpty(t, e["message"])
	assert.NotEmpty(t, e["type"])
	assert.Equal(t, code, e["code"], "body: %s", r.Body)
	return e
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// noneReceived asserts that none of the backends got a request.
func noneReceived(t testing.TB, bs ...*backend) {
	t.Helper()
	for _, b := range bs {
		assert.Zero(t, b.count(), "backend %s must not receive the request", b.name)
	}
}

func chat(model string) string {
	return fmt.Sprintf(`{"model":%s,"messages":[{"role":"user","content":"hi"}]}`, jsonString(model))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// openStream posts body to /v1/chat/completions and returns the response with its body still
// open (closed when the test ends), for reading a stream as it arrives.
func (g *gateway) openStream(t testing.TB, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// sseData reads server-sent events to the end and returns each "data: " payload.
func sseData(t testing.TB, r io.Reader) []string {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, line)
		}
	}
	assert.NoError(t, sc.Err())
	return out
}

// withKeys writes the API keys file (tenant -> keys, as the gateway's Secret holds it) and
// points the gateway at it.
func withKeys(t testing.TB, keys map[string][]string) gatewayOption {
	t.Helper()
	b, err := json.Marshal(keys)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return withParams(func(p *Params) { p.KeysFile = path })
}
