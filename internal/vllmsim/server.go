package vllmsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ReplicaHeader names the response header carrying the answering replica's address, so tests
// and the benchmark see where a request went.
const ReplicaHeader = "X-Vllmsim-Replica"

// OrderHeader names the header of a non-streamed answer giving the order in which the
// replica's engine started the request (1, 2, ...): tests check scheduling order with it.
const OrderHeader = "X-Vllmsim-Order"

// DefaultMaxTokens is the output length when a request gives no max_tokens (vLLM's
// completions default; chat requests without it get the same here).
const DefaultMaxTokens = 16

// Config describes a simulator process: one model served by len(Addrs) replicas.
type Config struct {
	Addrs []string // host:port per replica, e.g. 127.0.1.1:8000 (port 0: any free port)
	Model string   // served model name
	// Adapters are LoRA adapter names served on Model (vLLM --lora-modules): requests may name
	// them, answers echo the name, /v1/models lists them with "parent" = Model, and their
	// prompts' KV blocks are cached apart from the base model's (vLLM puts the adapter in
	// every block hash).
	Adapters []string
	Params   Params
}

// Sim is a running simulator.
type Sim struct {
	Replicas []*Replica
}

// Start listens on every address and serves until Close.
func Start(cfg Config) (*Sim, error) {
	if err := cfg.Params.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Addrs) == 0 || cfg.Model == "" {
		return nil, errors.New("vllmsim: need at least one address and a model name")
	}
	s := &Sim{}
	for _, a := range cfg.Addrs {
		r, err := startReplica(a, cfg.Model, cfg.Adapters, cfg.Params)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Replicas = append(s.Replicas, r)
	}
	return s, nil
}

// Close stops every replica.
func (s *Sim) Close() {
	for _, r := range s.Replicas {
		r.close()
	}
}

// Reset empties every replica's prefix cache and zeroes its counters (between benchmark runs;
// fails while requests are in flight).
func (s *Sim) Reset() error {
	var errs []error
	for _, r := range s.Replicas {
		if err := r.eng.reset(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.addr, err))
			continue
		}
		r.eng.mu.Lock()
		clear(r.served)
		r.eng.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Addrs are the replicas' listen addresses.
func (s *Sim) Addrs() []string {
	out := make([]string, len(s.Replicas))
	for i, r := range s.Replicas {
		out[i] = r.addr
	}
	return out
}

// Replica is one simulated vLLM server.
type Replica struct {
	addr  string
	model string
	quote []byte // the model name as a JSON string
	// adapters: LoRA adapter name -> its JSON string; served counts requests per adapter.
	adapters map[string][]byte
	served   map[string]int64
	eng      *engine
	met      metrics
	srv      *http.Server
	ids      atomic.Int64
	// draining: shutting down gracefully (Drain).
	draining atomic.Bool

	mu    sync.Mutex
	ln    net.Listener // nil while refusing
	conns map[net.Conn]struct{}
	fault Fault
}

func startReplica(addr, model string, adapters []string, p Params) (*Replica, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("vllmsim: listen %s: %w (Linux routes all of 127.0.0.0/8 to lo; elsewhere add the address to the loopback interface)", addr, err)
	}
	q, _ := json.Marshal(model)
	r := &Replica{addr: ln.Addr().String(), model: model, quote: q, conns: map[net.Conn]struct{}{},
		adapters: map[string][]byte{}, served: map[string]int64{}}
	for _, a := range adapters {
		r.adapters[a], _ = json.Marshal(a)
	}
	r.eng = newEngine(p, &r.met)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", r.handleChat)
	mux.HandleFunc("POST /v1/completions", r.handleCompletion)
	mux.HandleFunc("GET /v1/models", r.handleModels)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("GET /metrics", r.handleMetrics)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, ConnState: r.track}
	r.serve(ln)
	return r, nil
}

func (r *Replica) serve(ln net.Listener) {
	r.ln = ln
	go func() { _ = r.srv.Serve(&faultListener{Listener: ln, r: r}) }()
}

func (r *Replica) track(c net.Conn, st http.ConnState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch st {
	case http.StateNew:
		r.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(r.conns, c)
	}
}

// Addr is the replica's listen address (host:port).
func (r *Replica) Addr() string { return r.addr }

// Drain is vLLM's graceful shutdown (SIGTERM with --shutdown-timeout): the requests it is
// running finish, and every new API request is answered 503 (vLLM's drain tests, under
// tests/v1/shutdown). Idle keep-alive connections are closed.
func (r *Replica) Drain() {
	r.draining.Store(true)
	r.srv.SetKeepAlivesEnabled(false)
}

// Served is how many requests named the LoRA adapter (since start or Reset).
func (r *Replica) Served(adapter string) int64 {
	r.eng.mu.Lock()
	defer r.eng.mu.Unlock()
	return r.served[adapter]
}

// Stats are the replica's counters and gauges now.
func (r *Replica) Stats() Stats {
	r.eng.mu.Lock()
	defer r.eng.mu.Unlock()
	m := &r.met
	running, waiting, kv := r.eng.snapshot()
	return Stats{Received: m.received, Success: m.success, Preemptions: m.preemptions,
		PromptTokens: m.promptTokens, GenerationTokens: m.generationTokens,
		PrefixQueries: m.prefixQueries, PrefixHits: m.prefixHits,
		Running: running, Waiting: waiting, KVUsage: kv, TTFTCount: m.ttftCount, TTFTSum: m.ttftSum}
}

func (r *Replica) close() {
	r.mu.Lock()
	if r.ln != nil {
		_ = r.ln.Close()
		r.ln = nil
	}
	r.mu.Unlock()
	_ = r.srv.Close()
	r.eng.close()
}

// Consecutive is n host:port strings counting up from the IPv4 address first (127.0.1.1:8000,
// 127.0.1.2:8000, ...).
func Consecutive(first string, port, n int) ([]string, error) {
	a, err := netip.ParseAddr(first)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("%q: an IPv4 address is required", first)
	}
	if n < 1 {
		return nil, fmt.Errorf("%d replicas: at least 1 is required", n)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = netip.AddrPortFrom(a, uint16(port)).String()
		a = a.Next()
	}
	return out, nil
}
