package main

// The default mode: throughput, unloaded latency and first streamed event, direct, bare and
// through the gateway, in alternating rounds; then the ratios against the targets.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

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
	printTable(ts.all(), func(t *target) *result { return t.loaded })
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
	printTable(ts.all(), func(t *target) *result { return t.single })
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
