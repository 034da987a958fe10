package nginx

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/dnstest"
)

// Test doubles for replica-aware routing: fake vLLM replicas listening on 127.0.N.M:8000 (the
// port real pods use; loopback has all of 127.0.0.0/8), each with a /metrics endpoint, and a
// DNS server on 127.0.0.1 (internal/dnstest) answering the headless Service names.

// replicaPort is where every fake replica listens, as vLLM does.
const replicaPort = 8000

// Addresses for fake replicas: 127.0.101.1 upwards (the routing benchmark uses 127.0.1.N).
var nextReplicaIP atomic.Uint32

func init() { nextReplicaIP.Store(101<<8 | 0) }

// listenReplica listens on a fresh 127.0.x.y:8000.
func listenReplica(t testing.TB) (net.Listener, netip.Addr) {
	t.Helper()
	for range 200 {
		n := nextReplicaIP.Add(1)
		if n&0xff == 0 || n&0xff == 255 {
			continue
		}
		ip := netip.AddrFrom4([4]byte{127, 0, byte(n >> 8), byte(n)})
		l, err := net.Listen("tcp", netip.AddrPortFrom(ip, replicaPort).String())
		if err == nil {
			return l, ip
		}
	}
	t.Fatal("no free 127.0.x.y:8000 for a fake replica")
	return nil, netip.Addr{}
}

// unusedReplicaIP is a 127.0.x.y where nothing listens on 8000 (connections are refused).
func unusedReplicaIP(t testing.TB) netip.Addr {
	t.Helper()
	l, ip := listenReplica(t)
	require.NoError(t, l.Close())
	return ip
}

// replica is a fake vLLM server: it answers every /v1 request with its name (X-Backend header
// and an echo body), records the requests, and serves /metrics with num_requests_running =
// its requests in flight and num_requests_waiting = whatever the test sets.
type replica struct {
	name string
	ip   netip.Addr
	srv  *http.Server

	inflight atomic.Int64
	waiting  atomic.Int64
	scrapes  atomic.Int64
	// hold, when set, keeps each /v1 request open until it is closed.
	hold atomic.Pointer[chan struct{}]
	// reset, when set, makes /v1 requests read the whole request and then reset the
	// connection without answering.
	reset atomic.Bool
	// closeReused, when set, makes the next /v1 request that arrives on a connection that
	// already served one close that connection without answering (once): the keep-alive race,
	// where the server closes an idle connection as the proxy sends on it.
	closeReused atomic.Bool
	// envoy, when set, answers HTTP/1.0 requests 426 as Istio's sidecar does (no
	// accept_http_10), and writes /metrics in 7-byte chunks (chunked encoding, lines split).
	envoy atomic.Bool
	// metricsStatus, when set, is /metrics' status (and it has no body).
	metricsStatus atomic.Int64

	mu     sync.Mutex
	bodies []string
	hosts  []string
}

func newReplica(t testing.TB, name string) *replica {
	t.Helper()
	l, ip := listenReplica(t)
	r := &replica{name: name, ip: ip}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, servedKey{}, new(atomic.Int64))
		}}
	go func() { _ = r.srv.Serve(l) }()
	t.Cleanup(func() {
		r.release()
		_ = r.srv.Close()
	})
	return r
}

func (r *replica) addr() string { return netip.AddrPortFrom(r.ip, replicaPort).String() }

// servedKey keys the requests a connection has served (in its context).
type servedKey struct{}

func (r *replica) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/metrics" {
		r.scrapes.Add(1)
	}
	if r.envoy.Load() && req.ProtoAtLeast(1, 0) && !req.ProtoAtLeast(1, 1) {
		w.WriteHeader(http.StatusUpgradeRequired)
		return
	}
	if req.URL.Path == "/metrics" {
		if st := r.metricsStatus.Load(); st != 0 {
			w.WriteHeader(int(st))
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		var out io.Writer = w
		if r.envoy.Load() {
			out = &chunky{w: w}
		}
		fmt.Fprintf(out, "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"+
			"# TYPE vllm:num_requests_running gauge\n"+
			"vllm:num_requests_running{engine=\"0\",model_name=\"m\"} %d.0\n"+
			"# TYPE vllm:num_requests_waiting gauge\n"+
			"vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} %d.0\n"+
			"vllm:num_requests_waiting_by_reason{reason=\"capacity\"} 99.0\n"+
			"# TYPE vllm:kv_cache_usage_perc gauge\n"+
			"vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\n",
			r.inflight.Load(), r.waiting.Load())
		return
	}
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(body))
	r.hosts = append(r.hosts, req.Host)
	r.mu.Unlock()
	if served := req.Context().Value(servedKey{}).(*atomic.Int64); served.Add(1) > 1 && r.closeReused.CompareAndSwap(true, false) {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	}
	if r.reset.Load() {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			_ = conn.Close()
		}
		return
	}
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	if h := r.hold.Load(); h != nil {
		select {
		case <-*h:
		case <-req.Context().Done():
		}
	}
	w.Header().Set("X-Backend", r.name)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"backend":%q,"body_len":%d}`, r.name, len(body))
}

// chunky writes what it is given 7 bytes at a time, flushing each piece: a chunked answer
// whose chunks split lines.
type chunky struct{ w http.ResponseWriter }

func (c *chunky) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i += 7 {
		if _, err := c.w.Write(p[i:min(i+7, len(p))]); err != nil {
			return i, err
		}
		c.w.(http.Flusher).Flush()
	}
	return len(p), nil
}

// holdRequests makes /v1 requests wait until release.
func (r *replica) holdRequests() {
	ch := make(chan struct{})
	r.hold.Store(&ch)
}

func (r *replica) release() {
	if h := r.hold.Swap(nil); h != nil {
		close(*h)
	}
}

func (r *replica) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func (r *replica) lastHost() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hosts) == 0 {
		return ""
	}
	return r.hosts[len(r.hosts)-1]
}

// waitScrapes waits until the gateway has read r's /metrics n more times (so a changed value
// has been seen).
func (r *replica) waitScrapes(t testing.TB, n int64) {
	t.Helper()
	want := r.scrapes.Load() + n
	eventually(t, fmt.Sprintf("%s's /metrics read %d more times", r.name, n), func() bool { return r.scrapes.Load() >= want })
}

func addrs(rs ...*replica) []netip.Addr {
	out := make([]netip.Addr, len(rs))
	for i, r := range rs {
		out[i] = r.ip
	}
	return out
}

// eventually polls cond until it holds, failing after a generous bound (a condition, never a
// timing assertion: the bound only turns a hang into a failure).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// routed is a gateway balancing over replicas it finds through dns.
type routed struct {
	*gateway
	dns *dnstest.Server
}

// modelHost is the headless Service name of a test model.
func modelHost(i int) string { return fmt.Sprintf("model%d-headless.test.svc.cluster.local", i) }

// startRouted runs a gateway whose routes have Endpoints (name:8000) resolved through dns,
// with the given strategy; every route's Upstream is fallback (used only while a name has
// never resolved).
func startRouted(t testing.TB, dns *dnstest.Server, routes []Route, strategy string, opts ...gatewayOption) routed {
	t.Helper()
	all := append([]gatewayOption{
		withEnv(NameserversEnv + "=" + dns.Addr()),
		withParams(func(p *Params) {
			p.Routing = DefaultRouting()
			p.Routing.Strategy = strategy
			p.Routing.BlockSize = 64
		}),
	}, opts...)
	return routed{gateway: startGateway(t, routes, all...), dns: dns}
}

// waitResolved waits until the gateway has queried name n more times (an answer Set before
// this call is in use afterwards).
func (g routed) waitResolved(t testing.TB, name string, n int) {
	t.Helper()
	want := g.dns.Queries(name) + n
	eventually(t, fmt.Sprintf("%s resolved %d more times", name, n), func() bool { return g.dns.Queries(name) >= want })
}

// send posts body and returns the answering replica's name ("" for a gateway answer).
func (g routed) send(t testing.TB, body string, header ...string) (string, response) {
	t.Helper()
	r := g.post(t, "/v1/chat/completions", body, header...)
	return r.Header.Get("X-Backend"), r
}

// chatWith is a chat request for model whose messages are a system prompt and a user turn.
func chatWith(model, system, user string) string {
	return fmt.Sprintf(`{"model":%s,"messages":[{"role":"system","content":%s},{"role":"user","content":%s}]}`,
		jsonString(model), jsonString(system), jsonString(user))
}

// longText is a distinct prompt of about n bytes.
func longText(seed string, n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%s sentence %d of a long shared prompt. ", seed, i)
	}
	return b.String()
}
