// Command gateway-bench measures what the routing gateway costs on this machine, in one run on
// loopback, against one fake model server:
//
//   - requests/s and p50/p90/p99 latency of small non-streaming POSTs (many connections, and
//     one connection for the unloaded per-request cost) three ways: directly, through a bare
//     nginx reverse proxy (no Lua, upstream keepalive, bodies kept in memory: the floor any proxy
//     hop costs) and through the gateway (the configuration components/gateway/nginx renders, the
//     model routed through its replica endpoints as deployed, run by the same Debian nginx with the
//     same workers);
//   - the delay from the model server flushing the first event of a streamed response to the
//     client receiving it, through each;
//   - throughput against the request body's size (-body-sizes: by default the 165-byte chat body
//     and the same chat with its system prompt padded to 16 KiB, 128 KiB and 1 MiB), bare and
//     gateway alternating; -svg charts it;
//   - the gateway's CPU per request by phase (access with the body scan, balancer, header filter,
//     log) for each body size (phases.go);
//
// and prints the ratios against the targets (gateway >= 0.8x bare throughput for the small body,
// >= 0.95x for the larger ones, added p50 < 1 ms, first streamed byte within 5 ms of the backend
// sending it).
//
// Targets are measured in alternating rounds (direct, bare, gateway, direct, ...) so that other
// load on the machine hits all three alike.
//
// With -capacity it measures the gateway's capacity instead (capacity.go): the concurrent
// streams one pod holds at gateway.maxStreamsPerPod, memory and CPU per stream, and that every
// request past the limit gets a 503 answer, never a reset. With -burst, a burst of the largest
// bodies in their worst shapes (burst.go): routing, memory and the other requests' latency. Needs
// Debian's nginx + Lua stack:
//
//	apt-get install -y nginx libnginx-mod-http-lua lua-cjson
//	go run ./cmd/gateway-bench            # -h for flags
//	go run ./cmd/gateway-bench -capacity
//	go run ./cmd/gateway-bench -burst
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
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
	// endpoints routes the benchmark's model through its replica endpoints, as deployed.
	endpoints bool
	phases    time.Duration // time per body size of the CPU-by-phase profile (0: none)
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
	sizes := flag.String("body-sizes", fmt.Sprintf("%d,16384,131072,1048576", len(chatBody)), "request body sizes (bytes) of the throughput runs: "+
		"the smallest is the plain chat body, larger ones pad its system prompt")
	flag.StringVar(&cfg.svg, "svg", "", "write the body-size chart here (e.g. docs/gateway-bench.svg)")
	flag.BoolVar(&cfg.endpoints, "endpoints", true, "route the benchmark's model through its replica endpoints (balancer, prefix hashing), as deployed")
	flag.DurationVar(&cfg.phases, "phases", 2*time.Second, "time per body size of the CPU-by-phase profile (1 connection, an instrumented gateway); 0 skips")
	capacity := flag.Bool("capacity", false, "measure capacity instead: concurrent streams one gateway pod holds at its limit, "+
		"memory and CPU per stream, and what requests past the limit get (see capacity.go)")
	var cc capacityConfig
	capacityFlags(&cc, spec.Defaults().Gateway.MaxStreamsPerPod)
	burstMode := flag.Bool("burst", false, "measure a burst of the largest bodies instead (see burst.go)")
	var bc burstConfig
	flag.IntVar(&bc.bodies, "burst-bodies", 8, "-burst: bodies sent at once")
	flag.IntVar(&bc.bytes, "burst-bytes", int(nginx.DefaultMaxBodySize), "-burst: each body's size (the default limit)")
	flag.IntVar(&bc.workers, "burst-workers", 1, "-burst: nginx worker_processes (1: every body in one worker, the worst case)")
	flag.DurationVar(&bc.probe, "burst-probe", 5*time.Millisecond, "-burst: interval of the small requests sent meanwhile")
	flag.Parse()
	err := parseSizes(&cfg, *sizes)
	switch {
	case err != nil:
	case *capacity:
		if cc.offered == 0 {
			cc.offered = 2 * cc.maxStreams
		}
		err = runCapacity(cfg, cc)
	case *burstMode:
		var g, bare burstResult
		if g, bare, err = runBurst(cfg, bc); err == nil {
			err = checkBurst(bc, g, bare)
		}
	default:
		err = run(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway-bench:", err)
		os.Exit(1)
	}
}

func parseSizes(cfg *config, sizes string) error {
	for _, f := range strings.Split(sizes, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("-body-sizes %q: %v", f, err)
		}
		cfg.bodySizes = append(cfg.bodySizes, n)
	}
	return nil
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
	addr string             // host:port
	pid  int                // nginx master (0 for the backend itself)
	proc *nginxproc.Process // nil for the backend itself

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

// requireNginx says what to install when nginx or its Lua module is missing.
func requireNginx(bin string) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("nginx not found (%v): apt-get install -y nginx libnginx-mod-http-lua lua-cjson", err)
	}
	for _, m := range []string{nginx.DebianNDKModule, nginx.DebianLuaModule} {
		if _, err := os.Stat(m); err != nil {
			return fmt.Errorf("%s missing: apt-get install -y libnginx-mod-http-lua lua-cjson", m)
		}
	}
	return nil
}

func run(cfg config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := requireNginx(cfg.nginxBin); err != nil {
		return err
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
	ts, stop, err := startTargets(cfg, dir, be)
	if err != nil {
		return err
	}
	defer stop()
	printHeader(cfg)
	return measure(cfg, dir, ts, be)
}

// startTargets starts the bare proxy and the gateway in front of be and checks all three answer.
func startTargets(cfg config, dir string, be *backend) (targets, func(), error) {
	bare, stopBare, err := startBare(cfg, filepath.Join(dir, "bare"), be.addr, "")
	if err != nil {
		return targets{}, nil, err
	}
	gw, stopGW, err := startGateway(cfg, filepath.Join(dir, "gateway"), gatewayOptions{
		backends: benchBackends(be.addr), workers: cfg.workers, endpoints: cfg.endpoints})
	if err != nil {
		stopBare()
		return targets{}, nil, err
	}
	stop := func() { stopGW(); stopBare() }
	ts := targets{direct: &target{name: "direct", addr: be.addr}, bare: &bare, gateway: &gw}
	// Every target must answer the benchmark request correctly before anything is measured.
	for _, t := range ts.all() {
		if err := check(t.addr, chatRequest); err != nil {
			stop()
			return targets{}, nil, fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return ts, stop, nil
}

func printHeader(cfg config) {
	fmt.Printf("gateway-bench: %s, %d CPUs (GOMAXPROCS %d), nginx worker_processes %s, access log %v, gateway routes through replica endpoints %v\n",
		nginxVersion(cfg.nginxBin), runtime.NumCPU(), runtime.GOMAXPROCS(0), workersString(cfg.workers), cfg.accessLog, cfg.endpoints)
	fmt.Printf("load average at start: %s\n", loadavg())
	fmt.Printf("request: POST /v1/chat/completions, %d-byte JSON body, %d-byte JSON response; load generator: Go, raw HTTP/1.1 keep-alive connections\n\n",
		len(chatBody), len(completion))
}

// measure runs every part of the benchmark and prints it.
func measure(cfg config, dir string, ts targets, be *backend) error {
	roundRatios, err := measureThroughput(cfg, ts)
	if err != nil {
		return err
	}
	sizes, err := measureSizes(cfg, ts, sizeResult{bytes: len(chatBody), bare: ts.bare.loaded, gw: ts.gateway.loaded, perRound: roundRatios})
	if err != nil {
		return err
	}
	if err := measureSingle(cfg, ts); err != nil {
		return err
	}
	if err := measureStreams(cfg, ts, be); err != nil {
		return err
	}
	var phases map[int]phaseTimes
	if cfg.phases > 0 {
		if phases, err = measurePhases(cfg, dir, be); err != nil {
			return err
		}
	}
	printRatios(cfg, ts, roundRatios)
	if err := printSizes(cfg, sizes); err != nil {
		return err
	}
	if phases != nil {
		printPhases(cfg, phases)
	}
	fmt.Printf("load average at end: %s\n", loadavg())
	return nil
}

// measureThroughput: alternating rounds with many connections; the gateway/bare ratio of each
// round (neighbours in time see the same background load).
func measureThroughput(cfg config, ts targets) ([]float64, error) {
	for _, t := range ts.all() {
		if _, err := load(t.addr, cfg.conns, cfg.warmup, chatRequest); err != nil {
			return nil, fmt.Errorf("warm-up %s: %w", t.name, err)
		}
		t.loaded = &result{}
	}
	per := cfg.duration / time.Duration(cfg.rounds)
	var roundRatios []float64
	for r := 0; r < cfg.rounds; r++ {
		rps := map[*target]float64{}
		for _, t := range ts.all() {
			res, err := loadCounted(t, cfg.conns, per, chatRequest)
			if err != nil {
				return nil, err
			}
			rps[t] = res.rps()
			t.loaded.merge(res)
		}
		roundRatios = append(roundRatios, rps[ts.gateway]/rps[ts.bare])
	}
	fmt.Printf("throughput, %d connections, %v per target (%d rounds of %v):\n", cfg.conns, cfg.duration, cfg.rounds, per)
	printTable(ts, func(t *target) *result { return t.loaded })
	return roundRatios, nil
}

// loadCounted is load with the target's nginx CPU counted.
func loadCounted(t *target, conns int, d time.Duration, req []byte) (*result, error) {
	before := cpuTicks(t.pid)
	res, err := load(t.addr, conns, d, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	res.cpuTicks = cpuTicks(t.pid) - before
	return res, nil
}

func measureSingle(cfg config, ts targets) error {
	if cfg.c1Duration <= 0 {
		return nil
	}
	for _, t := range ts.all() {
		t.single = &result{}
	}
	per1 := cfg.c1Duration / time.Duration(cfg.rounds)
	for r := 0; r < cfg.rounds; r++ {
		for _, t := range ts.all() {
			res, err := loadCounted(t, 1, per1, chatRequest)
			if err != nil {
				return err
			}
			t.single.merge(res)
		}
	}
	fmt.Printf("\nunloaded latency, 1 connection, %v per target:\n", cfg.c1Duration)
	printTable(ts, func(t *target) *result { return t.single })
	return nil
}

// measureStreams: the delay from the backend flushing the first event to the client reading it.
func measureStreams(cfg config, ts targets, be *backend) error {
	for r := 0; r < cfg.rounds; r++ {
		for _, t := range ts.all() {
			for j := 0; j < max(1, cfg.streams/cfg.rounds); j++ {
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
	return tw.Flush()
}

// printRatios prints the gateway against the bare proxy, with the targets in brackets.
func printRatios(cfg config, ts targets, roundRatios []float64) {
	bareR, gwR := ts.bare.loaded, ts.gateway.loaded
	ratio := gwR.rps() / bareR.rps()
	fmt.Printf("\nratios (gateway vs bare nginx; targets in brackets):\n")
	fmt.Printf("  throughput gateway/bare:            %.2fx  [>= 0.8x] %s   (bare/direct %.2fx, gateway/direct %.2fx)\n",
		ratio, verdict(ratio >= 0.8), bareR.rps()/ts.direct.loaded.rps(), gwR.rps()/ts.direct.loaded.rps())
	var rs []string
	for _, r := range roundRatios {
		rs = append(rs, fmt.Sprintf("%.2f", r))
	}
	fmt.Printf("  per-round gateway/bare:             median %.2fx of [%s]\n", median(roundRatios), strings.Join(rs, " "))
	if bareR.cpuTicks > 0 && gwR.cpuTicks > 0 {
		b, g := cpuPerRequest(bareR), cpuPerRequest(gwR)
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
}

// median of xs (unsorted; not changed).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
