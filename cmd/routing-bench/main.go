// Command routing-bench measures how the way requests are spread over a model's replicas
// changes what users see, against 4 simulated vLLM replicas (internal/vllmsim) on loopback.
//
// Targets: a plain nginx upstream over the replicas (round robin per request: what a Service
// gives at best), a client-side hash of the prompt's first block (a reference without proxy or
// load bounds), and the gateway rendered by components/gateway/nginx with each routing strategy
// when that build has them.
//
// Load is open loop: Poisson arrivals (the same seed, so the same arrival times and the same
// requests, for every target) on two workloads:
//
//   - shared: many users, a few long system prompts of uneven popularity, multi-turn
//     conversations whose history grows (each turn's prompt extends the previous turn's prompt
//     and answer);
//   - unique: prompts of the same length that share nothing.
//
// First it measures the round-robin capacity on the shared workload (completed req/s when
// offered far more than it can do), then runs every target at rates relative to it. Per target
// and rate it reports completed req/s, output tokens/s, TTFT p50/p90/p99 as the client sees it
// (first streamed token), the simulator's prefix-cache hit rate and how the requests spread over
// the replicas; it prints markdown tables and writes them, with an SVG chart, under docs/.
//
//	go run ./cmd/routing-bench            # the full run, ~8 minutes
//	go run ./cmd/routing-bench -quick     # a smoke run, ~1 minute
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
}

func main() {
	cfg := config{sim: vllmsim.Defaults(), work: workloadConfig{
		prefixes: 24, prefixTokens: 4000, zipf: 0.6, active: 64, maxTurns: 6,
		userTokens: [2]int{30, 120}, outTokens: [2]int{32, 96},
	}}
	// The replicas' KV pool is scaled down with the run (see docs/routing.md): a one-minute run
	// touches far fewer prefixes than a production hour, so the cache holds about a third of
	// what the run's prompts need, as a full-size cache would of a production working set.
	cfg.sim.KVBlocks = 2400
	var rates, uniqueRates string
	quick := flag.Bool("quick", false, "a smoke run: shorter runs, rates 0.5x and 2x, unique workload at 0.65x")
	flag.StringVar(&cfg.nginxBin, "nginx", defaultNginx(), "nginx binary (Debian's; the gateway targets need libnginx-mod-http-lua)")
	flag.IntVar(&cfg.replicas, "replicas", 4, "simulated replicas")
	flag.StringVar(&cfg.first, "first", "127.0.1.1", "first replica's address (the next ones count up)")
	flag.IntVar(&cfg.port, "port", 8000, "replicas' port")
	flag.StringVar(&cfg.model, "model", "bench-model", "served model name")
	flag.Float64Var(&cfg.sim.TimeScale, "scale", cfg.sim.TimeScale, "simulator time scale (2 = half the GPU's speed: half the request rates, same shape)")
	flag.IntVar(&cfg.sim.KVBlocks, "kv-blocks", cfg.sim.KVBlocks, "KV cache per replica, in blocks of 16 tokens")
	flag.DurationVar(&cfg.duration, "duration", 15*time.Second, "arrivals per run (per target and rate)")
	flag.DurationVar(&cfg.uniqueDur, "unique-duration", 25*time.Second, "arrivals per run of the unique workload")
	flag.DurationVar(&cfg.warmup, "warmup", 4*time.Second, "start of each run left out of the measurements (caches fill)")
	flag.DurationVar(&cfg.grace, "grace", 4*time.Second, "after the last arrival, time for first tokens to arrive before the rest is cancelled")
	flag.StringVar(&rates, "rates", "0.5,1,2", "shared workload: offered rates as multiples of the round-robin capacity")
	flag.StringVar(&uniqueRates, "unique-rates", "0.65", "unique workload: offered rates as multiples of the shared workload's round-robin capacity (empty: skip); "+
		"0.65x is about the unique workload's own capacity, where an uneven spread costs throughput (far above it every replica is backlogged and all targets complete the same)")
	flag.Float64Var(&cfg.probeRate, "probe-rate", 60, "offered req/s of the capacity probe (far above capacity)")
	flag.Float64Var(&cfg.capacity, "capacity", 0, "round-robin capacity in req/s; skips the probe when > 0")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the arrivals and the prompts")
	flag.StringVar(&cfg.targets, "targets", "", "comma-separated targets to run (default all): "+strings.Join(targetNames(cfg), ", "))
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
	if cfg.rates, err = parseRates(rates); err == nil {
		cfg.uniqueRates, err = parseRates(uniqueRates)
	}
	if *quick {
		cfg.duration, cfg.uniqueDur, cfg.warmup, cfg.grace = 6*time.Second, 6*time.Second, 2*time.Second, 2*time.Second
		cfg.rates, cfg.uniqueRates = []float64{0.5, 2}, []float64{0.65}
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

func (c config) selected() []target {
	if c.targets == "" {
		return allTargets(c)
	}
	var out []target
	for _, t := range allTargets(c) {
		for _, want := range strings.Split(c.targets, ",") {
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
	if len(c.rates)+len(c.uniqueRates) == 0 {
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

// row is one measured run.
type row struct {
	workload string
	target   string
	mult     float64 // offered rate as a multiple of the capacity
	m        measured
}

func run(cfg config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := checkNginx(cfg.nginxBin); err != nil {
		return err
	}
	addrs, err := vllmsim.Consecutive(cfg.first, cfg.port, cfg.replicas)
	if err != nil {
		return err
	}
	sim, err := vllmsim.Start(vllmsim.Config{Addrs: addrs, Model: cfg.model, Params: cfg.sim})
	if err != nil {
		return err
	}
	defer sim.Close()
	dir, err := os.MkdirTemp("", "routing-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Println("configs and logs in", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	maxRate := cfg.probeRate
	for _, m := range append(append([]float64{}, cfg.rates...), cfg.uniqueRates...) {
		maxRate = max(maxRate, m*max(cfg.capacity, cfg.probeRate))
	}
	n := int(maxRate*max(cfg.duration, cfg.uniqueDur).Seconds()*1.3) + 100
	start := time.Now()
	fmt.Printf("routing-bench: generating %d requests per workload (prompts of ~%d tokens)...\n", n, cfg.work.prefixTokens)
	shared := sharedWorkload(cfg.work, cfg.model, n, cfg.seed)
	unique := uniqueWorkload(cfg.work, cfg.model, n, cfg.seed)
	targets := cfg.selected()
	runs := 1 + len(cfg.rates)*len(targets)
	if cfg.capacity > 0 {
		runs--
	}
	per := cfg.grace + 2*time.Second
	total := time.Duration(runs)*(cfg.duration+per) + time.Duration(len(cfg.uniqueRates)*len(targets))*(cfg.uniqueDur+per)
	fmt.Printf("%d replicas on %s; %s, %d CPUs; %d runs: about %v\n", len(addrs), strings.Join(addrs, " "),
		nginxVersion(cfg.nginxBin), runtime.NumCPU(), runs+len(cfg.uniqueRates)*len(targets), total.Round(time.Minute))
	w := firstWindow(shared, cfg)
	fmt.Printf("shared workload: %d system prompts of %d tokens (Zipf %.1f), %d conversations at a time of 1-%d turns; "+
		"the first %v of it needs %d KV blocks, each replica holds %d (%.0f%%)\n",
		cfg.work.prefixes, cfg.work.prefixTokens, cfg.work.zipf, cfg.work.active, cfg.work.maxTurns,
		cfg.duration, w/vllmsim.BlockTokens, cfg.sim.KVBlocks, 100*float64(cfg.sim.KVBlocks*vllmsim.BlockTokens)/float64(w))

	capacity := cfg.capacity
	if capacity <= 0 {
		fmt.Printf("\nround-robin capacity: %s at %.0f req/s offered ... ", roundRobinName, cfg.probeRate)
		m, err := runOne(cfg, sim, dir, nginxUpstream(cfg), shared, cfg.probeRate, cfg.duration)
		if err != nil {
			return fmt.Errorf("capacity probe: %w", err)
		}
		capacity = m.completed
		fmt.Printf("%.2f req/s completed\n", capacity)
	}
	var rows []row
	for _, wl := range []struct {
		name  string
		reqs  []request
		mults []float64
		dur   time.Duration
	}{{"shared", shared, cfg.rates, cfg.duration}, {"unique", unique, cfg.uniqueRates, cfg.uniqueDur}} {
		for _, mult := range wl.mults {
			for _, t := range targets {
				rate := mult * capacity
				fmt.Printf("%s %5gx (%5.1f req/s) %-22s ", wl.name, mult, rate, t.name)
				m, err := runOne(cfg, sim, dir, t, wl.reqs, rate, wl.dur)
				if err != nil {
					return fmt.Errorf("%s workload, %s at %.1f req/s: %w", wl.name, t.name, rate, err)
				}
				fmt.Printf("completed %6.2f req/s, TTFT p90 %s, hit %3.0f%%\n", m.completed, fmtDur(m.ttft[1], m.censored[1]), 100*m.hitRate)
				rows = append(rows, row{workload: wl.name, target: t.name, mult: mult, m: m})
			}
		}
	}
	rep := report{cfg: cfg, capacity: capacity, rows: rows, elapsed: time.Since(start)}
	fmt.Println()
	fmt.Print(rep.markdown())
	if cfg.markdown != "" {
		if err := os.WriteFile(cfg.markdown, []byte(rep.markdownFile()), 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", cfg.markdown)
	}
	if cfg.svg != "" {
		if err := os.WriteFile(cfg.svg, []byte(rep.svg()), 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", cfg.svg)
	}
	return nil
}

// firstWindow is the KV the first run's worth of shared requests needs at the highest rate, in
// tokens (to say how the cache compares with it).
func firstWindow(reqs []request, cfg config) int {
	n := int(cfg.duration.Seconds() * cfg.probeRate / 2)
	return footprint(reqs[:min(n, len(reqs))])
}

// runOne brings a target up, drives one run at rate against it and measures it. The simulator
// starts every run empty (no cached prefixes, zeroed counters).
func runOne(cfg config, sim *vllmsim.Sim, dir string, t target, reqs []request, rate float64, duration time.Duration) (measured, error) {
	tdir := filepath.Join(dir, strings.ReplaceAll(t.name, " ", "-"))
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return measured{}, err
	}
	pick, stop, err := t.start(tdir, sim.Addrs())
	if err != nil {
		return measured{}, err
	}
	defer stop()
	if err := waitIdle(sim); err != nil {
		return measured{}, err
	}
	if err := sim.Reset(); err != nil {
		return measured{}, err
	}
	times := arrivals(rate, duration, cfg.seed)
	if len(times) > len(reqs) {
		return measured{}, fmt.Errorf("%d arrivals but only %d requests generated", len(times), len(reqs))
	}
	var before, after []vllmsim.Stats
	snap := func() []vllmsim.Stats {
		out := make([]vllmsim.Stats, len(sim.Replicas))
		for i, r := range sim.Replicas {
			out[i] = r.Stats()
		}
		return out
	}
	t1 := time.AfterFunc(cfg.warmup, func() { before = snap() })
	t2 := time.AfterFunc(duration, func() { after = snap() })
	outs := drive(pick, reqs, times, duration+cfg.grace)
	t1.Stop()
	t2.Stop()
	if before == nil || after == nil {
		return measured{}, errors.New("the run ended before its measurement window")
	}
	m := summarise(outs, cfg.warmup, duration, duration+cfg.grace, rate)
	var hits, queries, received int64
	for i := range after {
		d := after[i].Sub(before[i])
		hits += d.PrefixHits
		queries += d.PrefixQueries
		received += d.Received
		m.preemptions += d.Preemptions
	}
	if queries > 0 {
		m.hitRate = float64(hits) / float64(queries)
	}
	for i := range after {
		if received > 0 {
			m.share = append(m.share, float64(after[i].Sub(before[i]).Received)/float64(received))
		}
	}
	if m.errors*20 > len(outs) {
		return m, fmt.Errorf("%d of %d requests failed", m.errors, len(outs))
	}
	return m, nil
}

// waitIdle waits until no replica has requests in flight (the previous run's cancelled
// requests leave as the engines notice).
func waitIdle(sim *vllmsim.Sim) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		busy := 0
		for _, r := range sim.Replicas {
			st := r.Stats()
			busy += st.Running + st.Waiting
		}
		if busy == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d requests still in the simulator 30 s after the run", busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func nginxVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").CombinedOutput()
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")
}
