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
// bodies in their worst shapes (burst.go): routing, memory and the other requests' latency. With
// -limits, the tenants' shared limits (limits.go, needs redis-server too): limits on against off.
// Needs Debian's nginx + Lua stack:
//
//	apt-get install -y nginx libnginx-mod-http-lua lua-cjson
//	go run ./cmd/gateway-bench            # -h for flags
//	go run ./cmd/gateway-bench -capacity
//	go run ./cmd/gateway-bench -burst
//	go run ./cmd/gateway-bench -limits
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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
	limitsMode := flag.Bool("limits", false, "measure the tenants' shared limits instead: throughput and latency with a never-refusing "+
		"requests- and tokens-per-minute limit counted in redis-server on loopback, against the same key without limits (see limits.go)")
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
	case *limitsMode:
		err = runLimits(cfg)
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
	addr string // host:port
	pid  int    // nginx master (0 for the backend itself)
	// redisAddr is the Redis its limits are counted in (-limits; "" otherwise).
	redisAddr string
	proc      *nginxproc.Process // nil for the backend itself

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

// prepare checks the settings and nginx, makes the work dir and starts the fake model server;
// cleanup undoes both.
func prepare(cfg config, prefix string) (dir string, be *backend, cleanup func(), err error) {
	if err := cfg.validate(); err != nil {
		return "", nil, nil, err
	}
	if err := requireNginx(cfg.nginxBin); err != nil {
		return "", nil, nil, err
	}
	dir, rmDir, err := workDir(cfg, prefix)
	if err != nil {
		return "", nil, nil, err
	}
	if be, err = startBackend(); err != nil {
		rmDir()
		return "", nil, nil, err
	}
	return dir, be, func() { _ = be.srv.Close(); rmDir() }, nil
}

func run(cfg config) error {
	dir, be, cleanup, err := prepare(cfg, "gateway-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	ts, stop, err := startTargets(cfg, dir, be)
	if err != nil {
		return err
	}
	defer stop()
	printHeader(cfg)
	return measure(cfg, dir, ts, be)
}

// workDir is a new temp dir for configs and logs; cleanup removes it unless -keep.
func workDir(cfg config, prefix string) (dir string, cleanup func(), err error) {
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", nil, err
	}
	if cfg.keep {
		fmt.Println("configs and logs in", dir)
		return dir, func() {}, nil
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
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
