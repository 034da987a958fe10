// Command gateway-bench measures what the routing gateway costs on this machine, in one run on
// loopback, against one fake model server:
//
//   - requests/s and p50/p90/p99 latency of small non-streaming POSTs (many connections, and
//     one connection for the unloaded per-request cost) three ways: directly, through a bare
//     nginx reverse proxy (no Lua, upstream keepalive: the floor any proxy hop costs) and through
//     the gateway (the configuration components/gateway/nginx renders, run by the same Debian
//     nginx);
//   - the delay from the model server flushing the first event of a streamed response to the
//     client receiving it, through each;
//   - throughput against the request body's size (-body-sizes: by default the 164-byte chat body
//     and the same chat with a system prompt making it 16 KB; the gateway decodes the body, a
//     bare proxy does not), bare and gateway alternating; -svg charts it;
//
// and prints the ratios against the targets (gateway >= 0.85x bare throughput, added p50 < 1 ms,
// first streamed byte within 5 ms of the backend sending it).
//
// Targets are measured in alternating rounds (direct, bare, gateway, direct, ...) so that other
// load on the machine hits all three alike.
//
// With -capacity it measures the gateway's capacity instead (capacity.go): the concurrent
// streams one pod holds at gateway.maxStreamsPerPod, memory and CPU per stream, and that every
// request past the limit gets a 503 answer, never a reset. Needs Debian's nginx + Lua stack:
//
//	apt-get install -y nginx libnginx-mod-http-lua lua-cjson
//	go run ./cmd/gateway-bench            # -h for flags
//	go run ./cmd/gateway-bench -capacity
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/nginxproc"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

type config struct {
	nginxBin   string
	duration   time.Duration
	rounds     int
	conns      int
	c1Duration time.Duration
	streams    int
	workers    int
	accessLog  bool
	warmup     time.Duration
	keep       bool
	bodySizes  []int  // request body sizes of the throughput runs (the body-size axis)
	svg        string // chart of the body-size axis ("" = none)
}

func main() {
	var cfg config
	flag.StringVar(&cfg.nginxBin, "nginx", defaultNginx(), "nginx binary (Debian's, with libnginx-mod-http-lua)")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured load time per target (split over -rounds)")
	flag.IntVar(&cfg.rounds, "rounds", 10, "alternating rounds (direct, bare, gateway) the duration is split over")
	flag.IntVar(&cfg.conns, "c", 64, "concurrent keep-alive connections for the throughput runs")
	flag.DurationVar(&cfg.c1Duration, "c1-duration", 3*time.Second, "measured time per target with a single connection (unloaded latency); 0 skips")
	flag.IntVar(&cfg.streams, "streams", 300, "streamed responses per target for the first-event delay")
	flag.IntVar(&cfg.workers, "workers", 1, "nginx worker_processes for both the bare proxy and the gateway (0 = auto)")
	flag.BoolVar(&cfg.accessLog, "access-log", false, "write access logs (to files) in both nginx configurations")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured load before the measured rounds, per target")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temp dir with the rendered configs and logs")
	sizes := flag.String("body-sizes", fmt.Sprintf("%d,16384", len(chatBody)), "request body sizes (bytes) of the throughput runs: "+
		"the smallest is the plain chat body, larger ones pad its system prompt (the gateway decodes the body)")
	flag.StringVar(&cfg.svg, "svg", "", "write the body-size chart here (e.g. docs/gateway-bench.svg)")
	capacity := flag.Bool("capacity", false, "measure capacity instead: concurrent streams one gateway pod holds at its limit, "+
		"memory and CPU per stream, and what requests past the limit get (see capacity.go)")
	var cc capacityConfig
	capacityFlags(&cc, spec.Defaults().Gateway.MaxStreamsPerPod)
	flag.Parse()
	var err error
	for _, f := range strings.Split(*sizes, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, perr := strconv.Atoi(f)
		if perr != nil {
			err = fmt.Errorf("-body-sizes %q: %v", f, perr)
			break
		}
		cfg.bodySizes = append(cfg.bodySizes, n)
	}
	switch {
	case err != nil:
	case *capacity:
		if cc.offered == 0 {
			cc.offered = 2 * cc.maxStreams
		}
		err = runCapacity(cfg, cc)
	default:
		err = run(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway-bench:", err)
		os.Exit(1)
	}
}

func defaultNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	return "/usr/sbin/nginx"
}

// Served names of the gateway under test; requests ask for the second one (not the default).
var models = []string{"bench-default", "bench-model-b", "bench-model-c"}

var chatBody = []byte(`{"model":"bench-model-b","messages":[{"role":"system","content":"You are terse."},` +
	`{"role":"user","content":"Say hello in one word."}],"max_tokens":8,"temperature":0}`)

var streamBody = []byte(`{"model":"bench-model-b","stream":true,"messages":[{"role":"user","content":"Count to two."}]}`)

var completion = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":0,"model":"bench-model-b",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":20,"completion_tokens":2,"total_tokens":22}}`)

type target struct {
	name string
	addr string // host:port
	pid  int    // nginx master (0 for the backend itself)

	// What was measured: the throughput rounds, the 1-connection rounds (nil without -c1),
	// and the first streamed event's delays.
	loaded, single *result
	ttfb           []time.Duration
}

// targets are the three measured servers; every round visits them in this order.
type targets struct{ direct, bare, gateway *target }

func (t targets) all() []*target { return []*target{t.direct, t.bare, t.gateway} }

// validate refuses settings the measurement cannot use (a zero -rounds would divide the
// duration by zero).
func (c config) validate() error {
	var errs []error
	if c.rounds < 1 {
		errs = append(errs, fmt.Errorf("-rounds %d: must be at least 1", c.rounds))
	}
	if c.conns < 1 {
		errs = append(errs, fmt.Errorf("-c %d: must be at least 1", c.conns))
	}
	if c.duration <= 0 {
		errs = append(errs, fmt.Errorf("-duration %v: must be positive", c.duration))
	}
	for _, n := range c.bodySizes {
		if _, err := chatBodyOfSize(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func run(cfg config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if _, err := os.Stat(cfg.nginxBin); err != nil {
		return fmt.Errorf("nginx not found (%v): apt-get install -y nginx libnginx-mod-http-lua lua-cjson", err)
	}
	for _, m := range []string{nginx.DebianNDKModule, nginx.DebianLuaModule} {
		if _, err := os.Stat(m); err != nil {
			return fmt.Errorf("%s missing: apt-get install -y libnginx-mod-http-lua lua-cjson", m)
		}
	}
	dir, err := os.MkdirTemp("", "gateway-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Println("configs and logs in", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	be, err := startBackend()
	if err != nil {
		return err
	}
	defer be.srv.Close()

	bare, stopBare, err := startBare(cfg, filepath.Join(dir, "bare"), be.addr)
	if err != nil {
		return err
	}
	defer stopBare()
	gw, stopGW, err := startGateway(cfg, filepath.Join(dir, "gateway"), be.addr)
	if err != nil {
		return err
	}
	defer stopGW()
	ts := targets{direct: &target{name: "direct", addr: be.addr}, bare: &bare, gateway: &gw}

	// Every target must answer the benchmark request correctly before anything is measured.
	for _, t := range ts.all() {
		if err := check(t.addr, chatRequest); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}

	fmt.Printf("gateway-bench: %s, %d CPUs (GOMAXPROCS %d), nginx worker_processes %s, access log %v\n",
		nginxVersion(cfg.nginxBin), runtime.NumCPU(), runtime.GOMAXPROCS(0), workersString(cfg.workers), cfg.accessLog)
	fmt.Printf("load average at start: %s\n", loadavg())
	fmt.Printf("request: POST /v1/chat/completions, %d-byte JSON body, %d-byte JSON response; load generator: Go, raw HTTP/1.1 keep-alive connections\n\n",
		len(chatBody), len(completion))

	// Throughput: alternating rounds with many connections.
	for _, t := range ts.all() {
		if _, err := load(t.addr, cfg.conns, cfg.warmup, chatRequest); err != nil {
			return fmt.Errorf("warm-up %s: %w", t.name, err)
		}
		t.loaded = &result{}
	}
	per := cfg.duration / time.Duration(cfg.rounds)
	var roundRatios []float64 // gateway/bare per round: neighbours in time see the same background load
	for r := 0; r < cfg.rounds; r++ {
		rps := map[*target]float64{}
		for _, t := range ts.all() {
			before := cpuTicks(t.pid)
			res, err := load(t.addr, cfg.conns, per, chatRequest)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			res.cpuTicks = cpuTicks(t.pid) - before
			rps[t] = res.rps()
			t.loaded.merge(res)
		}
		roundRatios = append(roundRatios, rps[ts.gateway]/rps[ts.bare])
	}
	fmt.Printf("throughput, %d connections, %v per target (%d rounds of %v):\n", cfg.conns, cfg.duration, cfg.rounds, per)
	printTable(ts, func(t *target) *result { return t.loaded })
	sizes, err := measureSizes(cfg, ts, sizeResult{bytes: len(chatBody), bare: ts.bare.loaded, gw: ts.gateway.loaded, perRound: roundRatios})
	if err != nil {
		return err
	}

	if cfg.c1Duration > 0 {
		for _, t := range ts.all() {
			t.single = &result{}
		}
		per1 := cfg.c1Duration / time.Duration(cfg.rounds)
		for r := 0; r < cfg.rounds; r++ {
			for _, t := range ts.all() {
				before := cpuTicks(t.pid)
				res, err := load(t.addr, 1, per1, chatRequest)
				if err != nil {
					return fmt.Errorf("%s: %w", t.name, err)
				}
				res.cpuTicks = cpuTicks(t.pid) - before
				t.single.merge(res)
			}
		}
		fmt.Printf("\nunloaded latency, 1 connection, %v per target:\n", cfg.c1Duration)
		printTable(ts, func(t *target) *result { return t.single })
	}

	// Streaming: delay from the backend flushing the first event to the client reading it.
	for r := 0; r < cfg.rounds; r++ {
		for _, t := range ts.all() {
			n := max(1, cfg.streams/cfg.rounds)
			for j := 0; j < n; j++ {
				d, err := streamOnce(t.addr, be)
				if err != nil {
					return fmt.Errorf("stream through %s: %w", t.name, err)
				}
				t.ttfb = append(t.ttfb, d)
			}
		}
	}
	fmt.Printf("\nstreamed response, first event: backend flush -> client receipt (%d streams per target):\n", len(ts.direct.ttfb))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tp50\tp90\tp99\tmax\t")
	for _, t := range ts.all() {
		s := t.ttfb
		slices.Sort(s)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", t.name, ms(pct(s, 50)), ms(pct(s, 90)), ms(pct(s, 99)), ms(s[len(s)-1]))
	}
	_ = tw.Flush()

	// Ratios against the targets.
	bareR, gwR := ts.bare.loaded, ts.gateway.loaded
	ratio := gwR.rps() / bareR.rps()
	fmt.Printf("\nratios (gateway vs bare nginx; targets in brackets):\n")
	fmt.Printf("  throughput gateway/bare:            %.2fx  [>= 0.85x] %s   (bare/direct %.2fx, gateway/direct %.2fx)\n",
		ratio, verdict(ratio >= 0.85), bareR.rps()/ts.direct.loaded.rps(), gwR.rps()/ts.direct.loaded.rps())
	sortedRatios := slices.Clone(roundRatios)
	slices.Sort(sortedRatios)
	var rs []string
	for _, r := range roundRatios {
		rs = append(rs, fmt.Sprintf("%.2f", r))
	}
	fmt.Printf("  per-round gateway/bare:             median %.2fx of [%s]\n", sortedRatios[len(sortedRatios)/2], strings.Join(rs, " "))
	if bareR.cpuTicks > 0 && gwR.cpuTicks > 0 {
		b := float64(bareR.cpuTicks) * 1e6 / clockTicksPerSecond / float64(bareR.requests)
		g := float64(gwR.cpuTicks) * 1e6 / clockTicksPerSecond / float64(gwR.requests)
		fmt.Printf("  nginx CPU per request:              bare %.1f µs, gateway %.1f µs (+%.1f µs for Lua routing, %.2fx)\n", b, g, g-b, g/b)
	}
	if ts.gateway.single != nil {
		d50 := ts.gateway.single.pct(50) - ts.bare.single.pct(50)
		d99 := ts.gateway.single.pct(99) - ts.bare.single.pct(99)
		fmt.Printf("  added latency, 1 connection:        p50 %s, p99 %s  [p50 < 1 ms] %s\n", signed(d50), signed(d99), verdict(d50 < time.Millisecond))
	}
	d50 := gwR.pct(50) - bareR.pct(50)
	d99 := gwR.pct(99) - bareR.pct(99)
	fmt.Printf("  added latency, %d connections:      p50 %s, p99 %s  (under saturation: mostly queueing, see throughput)\n", cfg.conns, signed(d50), signed(d99))
	gwT, bareT := pct(ts.gateway.ttfb, 50), pct(ts.bare.ttfb, 50)
	fmt.Printf("  first streamed event, gateway:      p50 %s, p99 %s after the backend sent it  [< 5 ms] %s   (bare p50 %s, delta %s)\n",
		ms(gwT), ms(pct(ts.gateway.ttfb, 99)), verdict(pct(ts.gateway.ttfb, 99) < 5*time.Millisecond), ms(bareT), signed(gwT-bareT))
	if err := printSizes(cfg, sizes); err != nil {
		return err
	}
	fmt.Printf("load average at end: %s\n", loadavg())
	return nil
}

// ---------------------------------------------------------------------------------------
// Fake model server

type backend struct {
	srv  *http.Server
	addr string
	// Streams are measured one at a time: the handler reports when it flushed the first
	// event and waits for the client to confirm receipt before it finishes.
	sent chan time.Time
	ack  chan struct{}
}

func startBackend() (*backend, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &backend{addr: l.Addr().String(), sent: make(chan time.Time, 1), ack: make(chan struct{}, 1)}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !bytes.Contains(body, []byte(`"stream":true`)) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(completion)))
		_, _ = w.Write(completion)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "data: {\"n\":1}\n\n")
	t0 := time.Now()
	w.(http.Flusher).Flush()
	b.sent <- t0
	select {
	case <-b.ack:
	case <-time.After(10 * time.Second):
	}
	_, _ = io.WriteString(w, "data: {\"n\":2}\n\ndata: [DONE]\n\n")
}

// ---------------------------------------------------------------------------------------
// nginx instances

const bareConf = `# Bare reverse proxy: the floor any nginx hop costs (no Lua), same binary and settings.
{{if .User}}user {{.User}};{{end}}
worker_processes {{.Workers}};
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events { worker_connections 4096; }
http {
    {{if .AccessLog}}access_log {{.Dir}}/access.log;{{else}}access_log off;{{end}}
    tcp_nodelay on;
    keepalive_requests 100000;
    # Bodies stay in memory, as in the gateway (client_body_buffer_size = client_max_body_size):
    # otherwise a body above 16 KB goes through a temp file and the comparison measures the disk.
    client_max_body_size {{.MaxBody}};
    client_body_buffer_size {{.MaxBody}};
    client_body_temp_path {{.Dir}}/client_body_temp;
    proxy_temp_path {{.Dir}}/proxy_temp;
    fastcgi_temp_path {{.Dir}}/fastcgi_temp;
    uwsgi_temp_path {{.Dir}}/uwsgi_temp;
    scgi_temp_path {{.Dir}}/scgi_temp;
    upstream backend {
        server {{.Backend}};
        keepalive 128;
        keepalive_requests 100000;
    }
    server {
        listen {{.Listen}};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
`

func rootUser() string {
	if os.Geteuid() == 0 {
		return "root" // workers must reach the 0700 temp dir
	}
	return ""
}

var bareTmpl = template.Must(template.New("bare").Parse(bareConf))

func startBare(cfg config, dir, backendAddr string) (target, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return target{}, nil, err
	}
	listen, err := loopback()
	if err != nil {
		return target{}, nil, err
	}
	var conf bytes.Buffer
	if err := bareTmpl.Execute(&conf, map[string]any{
		"User": rootUser(), "Workers": workersString(cfg.workers), "Dir": dir,
		"Backend": backendAddr, "Listen": listen, "AccessLog": cfg.accessLog, "MaxBody": nginx.DefaultMaxBodySize,
	}); err != nil {
		return target{}, nil, err
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
		return target{}, nil, err
	}
	pid, stop, err := startNginx([]string{cfg.nginxBin, "-p", dir + "/", "-c", confPath, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;"}, listen)
	return target{name: "bare nginx", addr: listen, pid: pid}, stop, err
}

func startGateway(cfg config, dir, backendAddr string) (target, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return target{}, nil, err
	}
	rt := nginx.DebianRuntime(dir)
	rt.WorkerProcesses = cfg.workers
	rt.User = rootUser()
	if !cfg.accessLog {
		rt.AccessLog = "off"
	}
	listen, err := loopback()
	if err != nil {
		return target{}, nil, err
	}
	routes := make([]nginx.Route, len(models))
	for i, m := range models {
		routes[i] = nginx.Route{Name: m, Upstream: backendAddr}
	}
	files, err := nginx.Generate(nginx.Params{
		Routes:       routes,
		Listen:       listen,
		MaxBodySize:  nginx.DefaultMaxBodySize,
		ProxyTimeout: nginx.DefaultProxyTimeout,
		MaxStreams:   spec.Defaults().Gateway.MaxStreamsPerPod, // as deployed
		Runtime:      rt,
	})
	if err != nil {
		return target{}, nil, err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return target{}, nil, err
		}
	}
	pid, stop, err := startNginx(nginx.Command(cfg.nginxBin, rt), listen)
	return target{name: "gateway", addr: listen, pid: pid}, stop, err
}

// startNginx runs nginx until it listens on addr.
func startNginx(argv []string, addr string) (int, func(), error) {
	p, err := nginxproc.Start(argv, nil, nginxproc.Listening(addr), 10*time.Second)
	if err != nil {
		return 0, nil, err
	}
	return p.Pid(), p.Stop, nil
}

func loopback() (string, error) {
	port, err := nginxproc.FreePort()
	return "127.0.0.1:" + port, err
}
