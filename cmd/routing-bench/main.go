// Command routing-bench measures how the way requests are spread over a model's replicas
// changes what users see, against 4 simulated vLLM replicas (internal/vllmsim) on loopback.
//
// Targets: a plain nginx upstream over the replicas (round robin per request: what a Service
// gives at best), a client-side hash of the prompt's first block (a reference without proxy or
// load bounds), the gateway rendered by components/gateway/nginx with each routing strategy,
// and the default strategy as several gateway pods (separate nginx processes, requests spread
// over them at random).
//
// Load is open loop: Poisson arrivals (the same seed, so the same arrival times and the same
// requests, for every target) on four workloads: shared (a few long system prompts of uneven
// popularity, multi-turn conversations whose history grows), unique (prompts of one length that
// share nothing), mix (either, half each) and longdoc (a few 16k-32k-token documents, many short
// questions on each).
//
// First it measures the round-robin capacity on the shared workload (completed req/s when
// offered far more than it can do), then runs every target at rates relative to it, then sweeps
// each target's offered rate for its capacity at SLO (TTFT p90 under -slo). Per target and rate
// it reports completed req/s, output tokens/s, TTFT p50/p90/p99 as the client sees it (first
// streamed token), the simulator's prefix-cache hit rate, how the requests spread over the
// replicas and the gateways' prefix-index memory; it prints markdown tables and writes them, with
// an SVG chart, under docs/.
//
//	go run ./cmd/routing-bench            # the full run, ~35 minutes on a busy 2-core machine
//	go run ./cmd/routing-bench -quick     # a smoke run
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/vllmsim"
)

type config struct {
	nginxBin    string
	replicas    int
	first       string
	port        int
	model       string
	sim         vllmsim.Params
	duration    time.Duration // arrivals per run
	uniqueDur   time.Duration // arrivals per run of the unique workload (its throughput comparison needs a longer window)
	warmup      time.Duration // first part of each run left out of the measurements
	grace       time.Duration // after the last arrival, time for answers to arrive
	rates       []float64     // shared workload, multiples of the round-robin capacity
	uniqueRates []float64     // unique workload, multiples of the same capacity
	probeRate   float64       // offered req/s of the capacity probe
	capacity    float64       // skip the probe and use this capacity (req/s)
	seed        uint64
	targets     string // comma-separated name filter ("" = all)
	work        workloadConfig
	markdown    string // where to write the tables ("" = nowhere)
	svg         string // where to write the chart ("" = nowhere)
	keep        bool
	weights     nginx.Weights // overrides of the scoring strategies' presets
	pods        int           // gateway pods of the many-pods target
	mixRates    []float64     // the 50/50 mix, multiples of the capacity
	docRates    []float64     // long-document QA, multiples of the capacity
	docs        longDocConfig
	slo         time.Duration // TTFT p90 objective of the capacity sweep
	sloDur      time.Duration // arrivals per run of the sweep
	sloTargets  string        // targets swept ("" = none)
}

func main() {
	cfg := config{sim: vllmsim.Defaults(), work: workloadConfig{
		prefixes: 24, prefixTokens: 4000, zipf: 0.6, active: 64, maxTurns: 6,
		userTokens: [2]int{30, 120}, outTokens: [2]int{32, 96},
	}, docs: longDocConfig{docs: 4, docTokens: [2]int{16000, 32000}, question: [2]int{20, 60}, answer: [2]int{16, 48}}}
	// The replicas' KV pool is scaled down with the run (see docs/routing.md): a one-minute run
	// touches far fewer prefixes than a production hour, so the cache holds about a third of
	// what the run's prompts need, as a full-size cache would of a production working set.
	cfg.sim.KVBlocks = 2400
	var rates, uniqueRates, mixRates, docRates string
	quick := flag.Bool("quick", false, "a smoke run: shorter runs, rates 0.5x and 2x, unique workload at 0.65x")
	flag.StringVar(&cfg.nginxBin, "nginx", defaultNginx(), "nginx binary (Debian's; the gateway targets need libnginx-mod-http-lua)")
	flag.IntVar(&cfg.replicas, "replicas", 4, "simulated replicas")
	flag.StringVar(&cfg.first, "first", "127.0.1.1", "first replica's address (the next ones count up)")
	flag.IntVar(&cfg.port, "port", 8000, "replicas' port")
	flag.StringVar(&cfg.model, "model", "bench-model", "served model name")
	flag.Float64Var(&cfg.sim.TimeScale, "scale", cfg.sim.TimeScale, "simulator time scale (2 = half the GPU's speed: half the request rates, same shape)")
	flag.IntVar(&cfg.sim.KVBlocks, "kv-blocks", cfg.sim.KVBlocks, "KV cache per replica, in blocks of 16 tokens")
	flag.DurationVar(&cfg.duration, "duration", 12*time.Second, "arrivals per run (per target and rate)")
	flag.DurationVar(&cfg.uniqueDur, "unique-duration", 25*time.Second, "arrivals per run of the unique workload")
	flag.DurationVar(&cfg.warmup, "warmup", 4*time.Second, "start of each run left out of the measurements (caches fill)")
	flag.DurationVar(&cfg.grace, "grace", 4*time.Second, "after the last arrival, time for first tokens to arrive before the rest is cancelled")
	flag.StringVar(&rates, "rates", "0.5,1,2", "shared workload: offered rates as multiples of the round-robin capacity")
	flag.StringVar(&uniqueRates, "unique-rates", "0.65", "unique workload: offered rates as multiples of the shared workload's round-robin capacity (empty: skip); "+
		"0.65x is about the unique workload's own capacity, where an uneven spread costs throughput (far above it every replica is backlogged and all targets complete the same)")
	flag.StringVar(&mixRates, "mix-rates", "1", "50/50 mix of the shared and unique workloads: offered rates as multiples of the capacity (empty: skip)")
	flag.StringVar(&docRates, "doc-rates", "0.25", "long-document QA: offered rates as multiples of the capacity (empty: skip)")
	flag.IntVar(&cfg.docs.docs, "docs", cfg.docs.docs, "long-document QA: documents (16k-32k tokens each)")
	flag.IntVar(&cfg.pods, "pods", 3, "gateway pods of the many-pods target (under 2: none)")
	flag.DurationVar(&cfg.slo, "slo", time.Second, "capacity at SLO: the TTFT p90 objective (simulated time)")
	flag.DurationVar(&cfg.sloDur, "slo-duration", 10*time.Second, "capacity at SLO: arrivals per run of the sweep")
	flag.StringVar(&cfg.sloTargets, "slo-targets", "all", `capacity at SLO on the shared workload: targets swept ("all", or a comma-separated list; empty: no sweep)`)
	flag.Float64Var(&cfg.probeRate, "probe-rate", 60, "offered req/s of the capacity probe (far above capacity)")
	flag.Float64Var(&cfg.capacity, "capacity", 0, "round-robin capacity in req/s; skips the probe when > 0")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the arrivals and the prompts")
	flag.StringVar(&cfg.targets, "targets", "", "comma-separated targets to run (default all): "+strings.Join(targetNames(config{pods: 3}), ", "))
	flag.IntVar(&cfg.work.prefixes, "prefixes", cfg.work.prefixes, "shared workload: distinct system prompts")
	flag.IntVar(&cfg.work.prefixTokens, "prefix-tokens", cfg.work.prefixTokens, "tokens per system prompt (and per unique prompt)")
	flag.Float64Var(&cfg.work.zipf, "zipf", cfg.work.zipf, "popularity skew of the system prompts (Zipf exponent; 0 = uniform)")
	flag.IntVar(&cfg.work.active, "conversations", cfg.work.active, "conversations in progress at once")
	flag.IntVar(&cfg.work.maxTurns, "turns", cfg.work.maxTurns, "a conversation has 1..turns turns")
	flag.StringVar(&cfg.markdown, "markdown", "docs/routing-bench.md", "write the tables here (empty: only print them)")
	flag.StringVar(&cfg.svg, "svg", "docs/routing-bench.svg", "write the chart here (empty: none)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temp dir with the nginx configs and logs")
	flag.Func("weights", `scoring weights overriding the presets of prefix and least-load, e.g. "running=2,kvCache=16" (keys of gateway.routing.weights)`, func(s string) error {
		return parseWeights(s, &cfg.weights)
	})
	flag.Parse()
	var err error
	for _, r := range []struct {
		s   string
		out *[]float64
	}{{rates, &cfg.rates}, {uniqueRates, &cfg.uniqueRates}, {mixRates, &cfg.mixRates}, {docRates, &cfg.docRates}} {
		if err == nil {
			*r.out, err = parseRates(r.s)
		}
	}
	if *quick {
		cfg.duration, cfg.uniqueDur, cfg.sloDur, cfg.warmup, cfg.grace = 6*time.Second, 6*time.Second, 6*time.Second, 2*time.Second, 2*time.Second
		cfg.rates, cfg.uniqueRates, cfg.sloTargets = []float64{0.5, 2}, []float64{0.65}, "gateway prefix"
	}
	if err == nil {
		err = run(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "routing-bench:", err)
		os.Exit(1)
	}
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("rate %q: a positive multiple of the capacity is required", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// parseWeights reads "key=value,..." into w (keys as in gateway.routing.weights).
func parseWeights(s string, w *nginx.Weights) error {
	fields := map[string]**float64{"queue": &w.Queue, "prefix": &w.Prefix, "running": &w.Running, "kvCache": &w.KVCache, "newPrefix": &w.NewPrefix}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		f, known := fields[k]
		x, err := strconv.ParseFloat(v, 64)
		if !ok || !known || err != nil {
			return fmt.Errorf("%q: want key=number with key one of queue, prefix, running, kvCache, newPrefix", kv)
		}
		*f = &x
	}
	return nil
}

func defaultNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	return "/usr/sbin/nginx"
}

// allTargets in the order rows are printed.
func allTargets(cfg config) []target {
	return append([]target{nginxUpstream(cfg), clientHash()}, gatewayTargets(cfg)...)
}

func targetNames(cfg config) []string {
	var out []string
	for _, t := range allTargets(cfg) {
		out = append(out, t.name)
	}
	return out
}

func (c config) selected() []target { return c.pick(c.targets) }

// pick is the targets a comma-separated list names ("" or "all": every one).
func (c config) pick(list string) []target {
	if list == "" || list == "all" {
		return allTargets(c)
	}
	var out []target
	for _, t := range allTargets(c) {
		for _, want := range strings.Split(list, ",") {
			if strings.TrimSpace(want) == t.name {
				out = append(out, t)
			}
		}
	}
	return out
}

func (c config) validate() error {
	var errs []error
	if c.duration <= c.warmup || c.uniqueDur <= c.warmup {
		errs = append(errs, fmt.Errorf("-duration %v and -unique-duration %v must be longer than -warmup %v", c.duration, c.uniqueDur, c.warmup))
	}
	if c.grace < 0 || c.warmup < 0 {
		errs = append(errs, errors.New("-grace and -warmup must not be negative"))
	}
	if c.sloDur <= c.warmup {
		errs = append(errs, fmt.Errorf("-slo-duration %v must be longer than -warmup %v", c.sloDur, c.warmup))
	}
	if len(c.rates)+len(c.uniqueRates)+len(c.mixRates)+len(c.docRates) == 0 {
		errs = append(errs, errors.New("-rates, -unique-rates: at least one rate is required"))
	}
	if c.replicas < 1 {
		errs = append(errs, fmt.Errorf("-replicas %d: at least 1", c.replicas))
	}
	if len(c.selected()) == 0 {
		errs = append(errs, fmt.Errorf("-targets %q matches none of: %s", c.targets, strings.Join(targetNames(c), ", ")))
	}
	return errors.Join(append(errs, c.sim.Validate())...)
}

func nginxVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").CombinedOutput()
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")
}
