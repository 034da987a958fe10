package vllmsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
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

// FaultMode is how a replica misbehaves, for the gateway's failure tests.
type FaultMode int

const (
	FaultNone FaultMode = iota
	// FaultRefuse closes the listener and every open connection: new connections are refused
	// (a pod that is gone).
	FaultRefuse
	// FaultResetOnAccept accepts each connection and resets it at once (RST, nothing read).
	FaultResetOnAccept
	// FaultResetAfterRequest reads the whole request, then resets the connection without an
	// answer (the request reached vLLM: a proxy must not retry it).
	FaultResetAfterRequest
)

// Fault is a replica's misbehaviour; Delay (added before a request is handled) combines with
// any mode.
type Fault struct {
	Mode  FaultMode
	Delay time.Duration
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

// SetFault changes how the replica behaves from now on. Switching to a reset or refuse mode
// also drops the connections already open (a proxy's idle keep-alive connections included).
func (r *Replica) SetFault(f Fault) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = f
	if f.Mode == FaultRefuse || f.Mode == FaultResetOnAccept {
		for c := range r.conns {
			resetConn(c)
		}
	}
	switch {
	case f.Mode == FaultRefuse && r.ln != nil:
		_ = r.ln.Close()
		r.ln = nil
	case f.Mode != FaultRefuse && r.ln == nil:
		ln, err := net.Listen("tcp", r.addr)
		if err != nil {
			return err
		}
		r.serve(ln)
	}
	return nil
}

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

func (r *Replica) currentFault() Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fault
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

// faultListener resets connections at accept time in FaultResetOnAccept mode.
type faultListener struct {
	net.Listener
	r *Replica
}

func (l *faultListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.r.currentFault().Mode == FaultResetOnAccept {
			resetConn(c)
			continue
		}
		return c, nil
	}
}

// resetConn closes c with an RST instead of a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// ---------------------------------------------------------------------------------------
// OpenAI API

type apiRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Prompt              json.RawMessage `json:"prompt"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// apiError writes vLLM's error body.
func apiError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": code})
}

func (r *Replica) handleChat(w http.ResponseWriter, req *http.Request) {
	r.handle(w, req, true)
}

func (r *Replica) handleCompletion(w http.ResponseWriter, req *http.Request) {
	r.handle(w, req, false)
}

func (r *Replica) handle(w http.ResponseWriter, req *http.Request, chat bool) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	if r.draining.Load() {
		apiError(w, http.StatusServiceUnavailable, "ServiceUnavailableError", "the server is shutting down")
		return
	}
	f := r.currentFault()
	if f.Mode == FaultResetAfterRequest {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			resetConn(c)
		}
		return
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-req.Context().Done():
			return
		}
	}
	var ar apiRequest
	if err := json.Unmarshal(body, &ar); err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestError", "invalid JSON: "+err.Error())
		return
	}
	quote, salt := r.quote, ""
	if ar.Model != r.model {
		q, ok := r.adapters[ar.Model]
		if !ok {
			apiError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", ar.Model))
			return
		}
		quote, salt = q, "lora:"+ar.Model+"\n"
		r.eng.mu.Lock()
		r.served[ar.Model]++
		r.eng.mu.Unlock()
	}
	var prompt string
	if chat {
		if len(ar.Messages) == 0 {
			apiError(w, http.StatusBadRequest, "BadRequestError", "messages: at least one message is required")
			return
		}
		prompt = RenderChat(ar.Messages)
	} else {
		if err := json.Unmarshal(ar.Prompt, &prompt); err != nil {
			var list []string
			if json.Unmarshal(ar.Prompt, &list) != nil || len(list) != 1 {
				apiError(w, http.StatusBadRequest, "BadRequestError", "prompt: a string (or a list of one string) is required")
				return
			}
			prompt = list[0]
		}
	}
	maxTokens := DefaultMaxTokens
	for _, p := range []*int{ar.MaxTokens, ar.MaxCompletionTokens} {
		if p != nil {
			maxTokens = *p
		}
	}
	if maxTokens < 1 {
		apiError(w, http.StatusBadRequest, "BadRequestError", "max_tokens must be at least 1")
		return
	}
	s := &seq{prompt: prompt, promptTokens: Tokens(prompt), hashes: BlockHashes(salt + prompt),
		maxTokens: maxTokens, arrived: time.Now(), notify: make(chan struct{}, 1)}
	r.eng.submit(s)
	id := strconv.FormatInt(r.ids.Add(1), 10)
	if chat {
		id = "chatcmpl-" + id
	} else {
		id = "cmpl-" + id
	}
	w.Header().Set(ReplicaHeader, r.addr)
	if ar.Stream {
		r.stream(w, req, s, id, quote, chat, ar.StreamOptions != nil && ar.StreamOptions.IncludeUsage)
		return
	}
	if !r.wait(req, s, func() {}) {
		return
	}
	if s.err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestError", s.err.Error())
		return
	}
	w.Header().Set(OrderHeader, strconv.FormatInt(s.admitted, 10))
	text, _ := json.Marshal(Reply(prompt, s.generated))
	usage := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`,
		s.promptTokens, s.generated, s.promptTokens+s.generated)
	var out string
	if chat {
		out = fmt.Sprintf(`{"id":%q,"object":"chat.completion","created":%d,"model":%s,"choices":[{"index":0,`+
			`"message":{"role":"assistant","content":%s},"logprobs":null,"finish_reason":"length"}],"usage":%s}`,
			id, time.Now().Unix(), quote, text, usage)
	} else {
		out = fmt.Sprintf(`{"id":%q,"object":"text_completion","created":%d,"model":%s,"choices":[{"index":0,`+
			`"text":%s,"logprobs":null,"finish_reason":"length"}],"usage":%s}`, id, time.Now().Unix(), quote, text, usage)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, out)
}

// wait blocks until s is done, calling progress on every change; false when the client left
// (the sequence is then cancelled).
func (r *Replica) wait(req *http.Request, s *seq, progress func()) bool {
	for {
		r.eng.mu.Lock()
		done := s.done
		r.eng.mu.Unlock()
		progress()
		if done {
			return true
		}
		select {
		case <-s.notify:
		case <-req.Context().Done():
			r.eng.cancel(s)
			return false
		}
	}
}

// stream answers with server-sent events, one per generated token, as vLLM does.
func (r *Replica) stream(w http.ResponseWriter, req *http.Request, s *seq, id string, quote []byte, chat, usage bool) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	created := strconv.FormatInt(time.Now().Unix(), 10)
	object := "text_completion"
	if chat {
		object = "chat.completion.chunk"
	}
	pre := `data: {"id":"` + id + `","object":"` + object + `","created":` + created + `,"model":` + string(quote) + `,"choices":[`
	head := pre + `{"index":0,`
	if chat {
		head += `"delta":{`
	}
	h := seedOf(s.prompt)
	sent := 0
	var buf []byte
	ok := r.wait(req, s, func() {
		r.eng.mu.Lock()
		n, done, err := s.generated, s.done, s.err
		r.eng.mu.Unlock()
		if err != nil {
			return
		}
		buf = buf[:0]
		for ; sent < n; sent++ {
			buf = append(buf, head...)
			if chat {
				if sent == 0 {
					buf = append(buf, `"role":"assistant",`...)
				}
				buf = append(buf, `"content":"`...)
				buf = append(buf, word(h, sent)...)
				buf = append(buf, `"},"logprobs":null,"finish_reason":`...)
			} else {
				buf = append(buf, `"text":"`...)
				buf = append(buf, word(h, sent)...)
				buf = append(buf, `","logprobs":null,"finish_reason":`...)
			}
			if done && sent == n-1 {
				buf = append(buf, `"length"}]}`...)
			} else {
				buf = append(buf, `null}]}`...)
			}
			buf = append(buf, "\n\n"...)
		}
		if len(buf) > 0 {
			_, _ = w.Write(buf)
			_ = rc.Flush()
		}
	})
	if !ok {
		return
	}
	if s.err != nil {
		// Headers are gone already: report the error as vLLM does in a stream.
		fmt.Fprintf(w, "data: {\"error\":{\"object\":\"error\",\"message\":%q,\"type\":\"BadRequestError\",\"code\":400}}\n\n", s.err.Error())
	} else if usage {
		fmt.Fprintf(w, "%s],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n",
			pre, s.promptTokens, s.generated, s.promptTokens+s.generated)
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	_ = rc.Flush()
}

func (r *Replica) handleModels(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	now := time.Now().Unix()
	var b strings.Builder
	fmt.Fprintf(&b, `{"object":"list","data":[{"id":%s,"object":"model","created":%d,"owned_by":"vllm","root":%s,"parent":null,"max_model_len":%d}`,
		r.quote, now, r.quote, r.eng.p.KVBlocks*BlockTokens)
	names := make([]string, 0, len(r.adapters))
	for a := range r.adapters {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		// vLLM lists an adapter with its path as root and the base model as parent.
		fmt.Fprintf(&b, `,{"id":%s,"object":"model","created":%d,"owned_by":"vllm","root":%s,"parent":%s,"max_model_len":null}`,
			r.adapters[a], now, r.adapters[a], r.quote)
	}
	b.WriteString("]}")
	_, _ = io.WriteString(w, b.String())
}

func (r *Replica) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	r.eng.mu.Lock()
	m := r.met
	running, waiting, kv := r.eng.snapshot()
	r.eng.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writeMetrics(w, r.model, &m, running, waiting, kv)
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
