package nginx

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heldStreams is a fake vLLM server whose streams send their first event at once and the rest
// only after release is closed, so a test decides when the admitted streams end. Every wait is
// bounded: a forgotten release turns into a failure, not a hang.
type heldStreams struct {
	*backend
	events  int
	release chan struct{}
	once    sync.Once
}

func newHeldStreams(t *testing.T, events int) *heldStreams {
	t.Helper()
	h := &heldStreams{events: events, release: make(chan struct{})}
	h.backend = newBackend(t, "sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for n := 1; n <= events; n++ {
			_, _ = fmt.Fprintf(w, "data: {\"n\":%d}\n\n", n)
			w.(http.Flusher).Flush()
			if n == 1 {
				select { // hold the stream open
				case <-h.release:
				case <-r.Context().Done():
					return
				case <-time.After(60 * time.Second):
					return
				}
			} else {
				time.Sleep(5 * time.Millisecond)
			}
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	})
	t.Cleanup(h.free)
	return h
}

func (h *heldStreams) free() { h.once.Do(func() { close(h.release) }) }

// streamOutcome is what one client saw.
type streamOutcome struct {
	status     int
	events     int  // data events before [DONE]
	done       bool // [DONE] arrived
	retryAfter string
	body       []byte
	err        error // no HTTP answer (reset, EOF, timeout)
}

// openStream posts a streamed chat request on its own connection and reports on started once
// it has the response head and (for a 200) the first event; it then reads to the end.
func openStream(url string, started chan<- struct{}) streamOutcome {
	// A transport per client: every request gets its own TCP connection, as separate users do.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 90 * time.Second}
	body := `{"model":"` + modelA + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	resp, err := c.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		started <- struct{}{}
		return streamOutcome{err: err}
	}
	defer resp.Body.Close()
	out := streamOutcome{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if resp.StatusCode != http.StatusOK {
		out.body, out.err = io.ReadAll(resp.Body)
		started <- struct{}{}
		return out
	}
	sc := bufio.NewScanner(resp.Body)
	first := true
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			continue
		case line == "data: [DONE]":
			out.done = true
		case line == fmt.Sprintf("data: {\"n\":%d}", out.events+1):
			out.events++
		default:
			out.err = fmt.Errorf("unexpected line %q after %d events", line, out.events)
		}
		if first {
			first = false
			started <- struct{}{}
		}
	}
	if first {
		started <- struct{}{}
	}
	if err := sc.Err(); err != nil && out.err == nil {
		out.err = err
	}
	return out
}

// TestGatewayOverloadAnswers503: with MaxStreams 50 and 80 concurrent streams, 50 are admitted
// and complete untouched, the other 30 get nginx's own 503 server_overloaded JSON with
// Retry-After, nobody is reset, and the health check still answers at the limit. Two workers, so
// the limit is counted across workers. The 50 streams are held open until all 80 requests have
// an answer (or their first event), then released: the outcome does not depend on timing.
func TestGatewayOverloadAnswers503(t *testing.T) {
	// Not parallel: it counts connections on a loaded 2-core machine, and other tests' nginx
	// and backends would only add noise to a test about exact counts.
	const (
		limit   = 50
		clients = 80
		events  = 10
	)
	sse := newHeldStreams(t, events)
	gw := startGateway(t, []Route{{Name: modelA, Upstream: sse.addr()}}, withParams(func(p *Params) {
		p.MaxStreams = limit
		p.Runtime.WorkerProcesses = 2
	}))

	started := make(chan struct{}, clients)
	outcomes := make(chan streamOutcome, clients)
	for range clients {
		go func() { outcomes <- openStream(gw.URL, started) }()
	}
	deadline := time.After(60 * time.Second)
	for i := 0; i < clients; i++ {
		select {
		case <-started:
		case <-deadline:
			t.Fatalf("only %d of %d requests answered or started within 60s", i, clients)
		}
	}
	// At the limit: the health check is not refused, and the backend holds exactly the limit.
	r := gw.do(t, http.MethodGet, HealthPath, nil)
	assert.Equal(t, http.StatusOK, r.Status, "health checks are not counted against the limit")
	assert.Equal(t, limit, sse.count(), "the backend holds exactly MaxStreams streams")
	sse.free()

	var complete, overloaded, other int
	deadline = time.After(60 * time.Second)
	for i := 0; i < clients; i++ {
		var o streamOutcome
		select {
		case o = <-outcomes:
		case <-deadline:
			t.Fatalf("only %d of %d clients finished within 60s of the release", i, clients)
		}
		switch {
		case o.err != nil:
			other++
			t.Errorf("a client got no complete HTTP answer (status %d): %v", o.status, o.err)
		case o.status == http.StatusOK:
			if o.events == events && o.done {
				complete++
			} else {
				other++
				t.Errorf("an admitted stream was cut: %d of %d events, [DONE] %v", o.events, events, o.done)
			}
		case o.status == http.StatusServiceUnavailable:
			overloaded++
			e := assertGatewayError(t, response{Status: o.status, ContentType: "application/json", Header: http.Header{}, Body: o.body},
				http.StatusServiceUnavailable, "server_overloaded")
			assert.Equal(t, "server_overloaded", e["type"])
			assert.Contains(t, e["message"], fmt.Sprint(limit))
			assert.Equal(t, fmt.Sprint(OverloadRetryAfter), o.retryAfter, "Retry-After")
		default:
			other++
			t.Errorf("unexpected status %d: %s", o.status, o.body)
		}
	}
	assert.Equal(t, limit, complete, "admitted streams that completed with every event")
	assert.Equal(t, clients-limit, overloaded, "requests past the limit answered 503 server_overloaded")
	assert.Zero(t, other)
	assert.Equal(t, limit, sse.count(), "refused requests never reach a model server")

	// The slots are given back: a next request is admitted. nginx gives a slot back when it
	// finalizes the request, which may come just after the client has read the stream's end
	// (seen once on a loaded machine), so the request is sent again until admitted.
	eventually(t, "a request admitted after the streams ended", func() bool {
		o := openStream(gw.URL, make(chan struct{}, 1))
		return o.err == nil && o.status == http.StatusOK && o.done
	})
}

// TestGatewayOverloadResponseShape pins the 503's headers and body with MaxStreams 1.
func TestGatewayOverloadResponseShape(t *testing.T) {
	t.Parallel()
	sse := newHeldStreams(t, 2)
	gw := startGateway(t, []Route{{Name: modelA, Upstream: sse.addr()}}, withParams(func(p *Params) { p.MaxStreams = 1 }))
	held := make(chan streamOutcome, 1)
	started := make(chan struct{}, 1)
	go func() { held <- openStream(gw.URL, started) }()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the first stream did not start")
	}
	// A plain (non-streamed) request past the limit, with a body nginx must discard.
	resp, err := client.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(string(bigBody(64<<10, modelA))))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	r := response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Header: resp.Header, Body: b}
	e := assertGatewayError(t, r, http.StatusServiceUnavailable, "server_overloaded")
	assert.Equal(t, "server_overloaded", e["type"])
	assert.Nil(t, e["param"])
	assert.Equal(t, "2", r.Header.Get("Retry-After"))
	// Go's client turns "Connection: close" into resp.Close.
	assert.True(t, resp.Close, "refused clients give their connection slot back (Connection: close)")
	// Local answers are not limited: the model list and the health check.
	assert.Equal(t, http.StatusOK, gw.do(t, http.MethodGet, "/v1/models", nil).Status)
	assert.Equal(t, http.StatusOK, gw.do(t, http.MethodGet, HealthPath, nil).Status)
	sse.free()
	o := <-held
	require.NoError(t, o.err)
	assert.True(t, o.done)
	assert.Equal(t, 1, sse.count())
}

// TestGatewayGracefulQuitFinishesStreams is the pod's drain: QuitCommand (what the preStop hook
// runs after its sleep) makes nginx stop listening, while streams in flight run to the end; nginx
// exits once they have. SIGTERM (nginx's fast shutdown) would cut them.
func TestGatewayGracefulQuitFinishesStreams(t *testing.T) {
	t.Parallel()
	const streams, events = 5, 6
	sse := newHeldStreams(t, events)
	gw := startGateway(t, []Route{{Name: modelA, Upstream: sse.addr()}}, withParams(func(p *Params) { p.Runtime.WorkerProcesses = 2 }))
	started := make(chan struct{}, streams)
	outcomes := make(chan streamOutcome, streams)
	for range streams {
		go func() { outcomes <- openStream(gw.URL, started) }()
	}
	for i := 0; i < streams; i++ {
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d streams started", i, streams)
		}
	}
	quit := QuitCommand(gw.bin, gw.params.Runtime)
	cmd := exec.Command(quit[0], quit[1:]...)
	cmd.Env = append(cmd.Environ(), gw.env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s", strings.Join(quit, " "), out)

	// nginx stops accepting (the listening socket closes) but keeps running for the streams.
	require.Eventually(t, func() bool {
		c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(gw.URL + HealthPath)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err != nil
	}, 20*time.Second, 50*time.Millisecond, "nginx still accepts after quit")
	select {
	case <-gw.proc.Exited():
		t.Fatal("nginx exited with streams in flight")
	default:
	}
	sse.free()
	for i := 0; i < streams; i++ {
		select {
		case o := <-outcomes:
			require.NoError(t, o.err)
			assert.Equal(t, http.StatusOK, o.status)
			assert.Equal(t, events, o.events, "a stream in flight was cut by the quit")
			assert.True(t, o.done)
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d streams finished", i, streams)
		}
	}
	select {
	case <-gw.proc.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("nginx did not exit after its last stream")
	}
}
