package nginx

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openAIClientDir holds the pinned official OpenAI Node client (package.json + package-lock.json);
// scripts/install-test-deps.sh runs `npm ci` there.
const openAIClientDir = "testdata/openai-client"

// requireOpenAIClient returns the node binary, skipping (failing under CI) when node or the
// installed client is absent.
func requireOpenAIClient(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(openAIClientDir, "node_modules", "openai", "package.json"))
	}
	if err != nil {
		msg := fmt.Sprintf("the OpenAI Node client test needs node and `npm ci` in %s (scripts/install-test-deps.sh does both): %v", openAIClientDir, err)
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatal(msg + " (CI is set: refusing to skip)")
		}
		t.Skip(msg)
	}
	return node
}

// seen is one request as the gateway answered it.
type seen struct {
	sent, answered time.Time
	status         int
	retryAfterMS   int
}

// recordingProxy passes every request to the gateway unchanged and notes when each arrived, when
// the gateway's answer came back and what it said. Before the first, it runs first.
func recordingProxy(t testing.TB, gatewayURL string, first func()) (*httptest.Server, func() []seen) {
	t.Helper()
	target, err := url.Parse(gatewayURL)
	require.NoError(t, err)
	var mu sync.Mutex
	var log []seen
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		ms, _ := strconv.Atoi(r.Header.Get("retry-after-ms"))
		sent, _ := r.Request.Context().Value(sentAt{}).(time.Time)
		mu.Lock()
		log = append(log, seen{sent: sent, answered: time.Now(), status: r.StatusCode, retryAfterMS: ms})
		mu.Unlock()
		return nil
	}
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(first)
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sentAt{}, time.Now())))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), log...)
	}
}

type sentAt struct{}

// TestTenantOpenAIClientRetriesAfter429 runs the official OpenAI Node client (npm openai, pinned in
// testdata/openai-client) against a real gateway whose tenant may send one request per window (3 s,
// through the test-only limitWindow). The window's one request is spent just before the client's
// arrives, so the client's call is refused: its own retry logic (maxRetries 1) must wait what the 429 says (retry-after-ms,
// about 3 s: six times the client's default first backoff of at most 0.5 s) and succeed. What the
// gateway saw: exactly two requests from the client, a 429 then a 200, the second sent no earlier
// than the first's answer plus its retry-after.
func TestTenantOpenAIClientRetriesAfter429(t *testing.T) {
	t.Parallel()
	node := requireOpenAIClient(t)
	rs := startRedis(t)
	model := fastModel(t)
	tenants := []Tenant{{Name: "app", Limits: []Limit{{Kind: LimitRequests, Period: PeriodMinute, Amount: 1}}}}
	g := startGateway(t, []Route{{Name: modelA, Upstream: model.addr()}},
		withTenants(t, rs, map[string][]string{"app": {"sk-app"}}, tenants, 3*time.Second, false))
	waitShared(t, 1, g)
	// The window's one request, spent just before the client's first arrives (however long node
	// takes to start), so that the client's retry-after is about the whole window.
	var spent response
	proxy, requests := recordingProxy(t, g.URL, func() {
		spent = g.post(t, "/v1/chat/completions", chat(modelA), "Authorization", "Bearer sk-app")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "retry.cjs")
	cmd.Dir = openAIClientDir
	cmd.Env = append(os.Environ(), "GATEWAY_URL="+proxy.URL, "GATEWAY_API_KEY=sk-app", "GATEWAY_MODEL="+modelA)
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	seenByGateway := requests()
	for i, r := range seenByGateway {
		t.Logf("gateway saw request %d: %d (retry-after-ms %d), sent %v after the first's answer", i+1, r.status, r.retryAfterMS, r.sent.Sub(seenByGateway[0].answered))
	}
	t.Logf("client: %s %s", out, stderr)
	require.Equal(t, http.StatusOK, spent.Status, "the window's one request: %s", spent.Body)
	require.NoError(t, err, "the client must succeed after its retry: %s", stderr)
	var answer struct{ ID string }
	require.NoError(t, json.Unmarshal(out, &answer))
	assert.Equal(t, "x", answer.ID, "the model's answer reached the client")

	require.Len(t, seenByGateway, 2, "one refused try, one retry")
	refused, retried := seenByGateway[0], seenByGateway[1]
	assert.Equal(t, http.StatusTooManyRequests, refused.status)
	assert.Equal(t, http.StatusOK, retried.status)
	assert.Greater(t, refused.retryAfterMS, 1000, "long enough that the client's default backoff cannot pass for it")
	wait := retried.sent.Sub(refused.answered)
	assert.GreaterOrEqual(t, wait, time.Duration(refused.retryAfterMS)*time.Millisecond, "the client waited the gateway's retry-after")

	s := series(g.scrape(t))
	assert.Equal(t, 1.0, s[fmt.Sprintf("%s{limit=%q,tenant=%q}", MetricTenantLimited, "requests_per_minute", "app")])
	assert.Equal(t, 2, model.count(), "the model saw the window's request and the retry, never the refused one")
}
