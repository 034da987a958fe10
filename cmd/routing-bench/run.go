package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/llm-platform/llm-platform/internal/vllmsim"
)

// row is one measured run.
type row struct {
	workload string
	target   string
	mult     float64 // offered rate as a multiple of the capacity
	m        measured
}

// workload is one request stream and the rates it is offered at.
type workload struct {
	name  string
	reqs  []request
	mults []float64
	dur   time.Duration
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
	start := time.Now()
	n := requestsNeeded(cfg)
	fmt.Printf("routing-bench: generating %d requests per workload (prompts of ~%d tokens)...\n", n, cfg.work.prefixTokens)
	shared := sharedWorkload(cfg.work, cfg.model, n, cfg.seed)
	unique := uniqueWorkload(cfg.work, cfg.model, n, cfg.seed)
	workloads := []workload{{"shared", shared, cfg.rates, cfg.duration}, {"unique", unique, cfg.uniqueRates, cfg.uniqueDur},
		{"mix", mixWorkload(shared, unique, cfg.seed), cfg.mixRates, cfg.duration},
		{"longdoc", longDocWorkload(cfg.docs, cfg.model, n, cfg.seed), cfg.docRates, cfg.duration}}
	targets := cfg.selected()
	fmt.Printf("%d replicas on %s; %s, %d CPUs; about %v\n", len(addrs), strings.Join(addrs, " "),
		nginxVersion(cfg.nginxBin), runtime.NumCPU(), estimate(cfg, workloads, len(targets)).Round(time.Minute))
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
	for _, wl := range workloads {
		for _, mult := range wl.mults {
			for _, t := range targets {
				m, err := measure(cfg, sim, dir, t, wl, mult*capacity, wl.dur)
				if err != nil {
					return err
				}
				rows = append(rows, row{workload: wl.name, target: t.name, mult: mult, m: m})
			}
		}
	}
	var slo []sloResult
	if cfg.sloTargets != "" {
		fmt.Printf("\ncapacity at SLO (TTFT p90 < %v), shared workload:\n", cfg.slo)
		for _, t := range cfg.pick(cfg.sloTargets) {
			r, err := sweep(cfg, sim, dir, t, workloads[0], capacity)
			if err != nil {
				return err
			}
			slo = append(slo, r)
		}
	}
	rep := report{cfg: cfg, capacity: capacity, rows: rows, slo: slo, elapsed: time.Since(start)}
	fmt.Println()
	fmt.Print(rep.markdown())
	return rep.write()
}

// measure runs t once on wl at rate and prints the line.
func measure(cfg config, sim *vllmsim.Sim, dir string, t target, wl workload, rate float64, dur time.Duration) (measured, error) {
	fmt.Printf("%-7s %5.1f req/s %-24s ", wl.name, rate, t.name)
	m, err := runOne(cfg, sim, dir, t, wl.reqs, rate, dur)
	if err != nil {
		return m, fmt.Errorf("%s workload, %s at %.1f req/s: %w", wl.name, t.name, rate, err)
	}
	fmt.Printf("completed %6.2f req/s, TTFT p90 %s, hit %3.0f%%\n", m.completed, fmtDur(m.ttft[1], m.censored[1]), 100*m.hitRate)
	return m, nil
}

// requestsNeeded: enough requests for the longest run at the highest rate.
func requestsNeeded(cfg config) int {
	maxRate := cfg.probeRate
	for _, m := range append(append(append(append([]float64{}, cfg.rates...), cfg.uniqueRates...), cfg.mixRates...), cfg.docRates...) {
		maxRate = max(maxRate, m*max(cfg.capacity, cfg.probeRate))
	}
	return int(maxRate*max(cfg.duration, cfg.uniqueDur, cfg.sloDur).Seconds()*1.3) + 100
}

// estimate is about how long the whole run takes.
func estimate(cfg config, wls []workload, targets int) time.Duration {
	per := cfg.grace + 2*time.Second
	total := cfg.duration + per // the probe
	for _, wl := range wls {
		total += time.Duration(len(wl.mults)*targets) * (wl.dur + per)
	}
	if cfg.sloTargets != "" {
		total += time.Duration(len(cfg.pick(cfg.sloTargets))*7) * (cfg.sloDur + per)
	}
	return total
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
	tdir := filepath.Join(dir, strings.NewReplacer(" ", "-", ",", "").Replace(t.name))
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return measured{}, err
	}
	up, err := t.start(tdir, sim.Addrs())
	if err != nil {
		return measured{}, err
	}
	defer up.stop()
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
	outs := drive(up.pick, reqs, times, duration+cfg.grace)
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
	if up.index != nil {
		if m.indexUsed, m.indexCap, err = up.index(); err != nil {
			return m, fmt.Errorf("reading the prefix index's size: %w", err)
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

// sloResult is one target's capacity at SLO: the highest offered rate whose TTFT p90 met the
// objective, and every rate tried.
type sloResult struct {
	target string
	rate   float64 // req/s; 0 when even the lowest rate missed
	tried  []sloTry
}

type sloTry struct {
	rate float64
	m    measured
}

// meets: TTFT p90 under the objective, with at most 1% errors.
func (c config) meets(m measured) bool {
	return !m.censored[1] && m.ttft[1] < c.slo && m.errors*100 <= int(m.offered*(c.sloDur-c.warmup).Seconds())
}

// sweep finds t's capacity at SLO on wl: rates from a quarter of the round-robin capacity up
// by x1.25 until one misses, then two bisections between the last that met it and that one.
func sweep(cfg config, sim *vllmsim.Sim, dir string, t target, wl workload, capacity float64) (sloResult, error) {
	res := sloResult{target: t.name}
	try := func(rate float64) (bool, error) {
		m, err := measure(cfg, sim, dir, t, wl, rate, cfg.sloDur)
		if err != nil {
			return false, err
		}
		res.tried = append(res.tried, sloTry{rate: rate, m: m})
		ok := cfg.meets(m)
		if ok {
			res.rate = max(res.rate, rate)
		}
		return ok, nil
	}
	lo, hi := 0.0, 0.0
	for rate := capacity / 4; rate < capacity*8; rate *= 1.25 {
		ok, err := try(rate)
		if err != nil {
			return res, err
		}
		if !ok {
			hi = rate
			break
		}
		lo = rate
	}
	for range 2 {
		if lo == 0 || hi == 0 {
			break
		}
		mid := (lo + hi) / 2
		ok, err := try(mid)
		if err != nil {
			return res, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return res, nil
}
