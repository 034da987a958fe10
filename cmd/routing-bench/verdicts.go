package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// indexCell is the prefix index's memory after a run: used of capacity (MiB), "-" without one.
func indexCell(m measured) string {
	if m.indexCap == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f of %.0f MiB", m.indexUsed/(1<<20), m.indexCap/(1<<20))
}

// sloTable is the capacity at SLO per target, and the rates tried.
func (r report) sloTable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Capacity at SLO (shared workload; the highest offered rate whose TTFT p90 stayed under %v, at most 1%% errors):\n\n", r.cfg.slo)
	b.WriteString("| target | capacity at SLO | x round-robin capacity | rates tried: TTFT p90 (hits) |\n| --- | ---: | ---: | --- |\n")
	for _, s := range r.slo {
		var tried []string
		ts := slices.Clone(s.tried)
		slices.SortFunc(ts, func(a, b sloTry) int { return int(a.rate*100 - b.rate*100) })
		for _, t := range ts {
			tried = append(tried, fmt.Sprintf("%.1f/s: %s (%.0f%%)", t.rate, fmtDur(t.m.ttft[1], t.m.censored[1]), 100*t.m.hitRate))
		}
		fmt.Fprintf(&b, "| %s | %.1f req/s | %.2fx | %s |\n", s.target, s.rate, s.rate/r.capacity, strings.Join(tried, "; "))
	}
	return b.String()
}

func (r report) sloOf(target string) (float64, bool) {
	for _, s := range r.slo {
		if s.target == target {
			return s.rate, true
		}
	}
	return 0, false
}

// maxOverMin is the busiest replica's share over the idlest's.
func maxOverMin(share []float64) float64 {
	if len(share) == 0 || slices.Min(share) == 0 {
		return 0
	}
	return slices.Max(share) / slices.Min(share)
}

// verdicts compares issue 31's acceptance targets with what was measured in this run, side by side.
func (r report) verdicts() string {
	var b strings.Builder
	ok := func(v bool) string {
		if v {
			return "holds"
		}
		return "DOES NOT HOLD"
	}
	const def, ll, rr = "gateway prefix", "gateway least-load", "gateway round-robin"
	pods := podsName(r.cfg.pods)
	b.WriteString("Acceptance (issue 31), from this run:\n\n")
	if p, ok1 := r.sloOf(def); ok1 {
		if base, ok2 := r.sloOf(rr); ok2 && base > 0 {
			fmt.Fprintf(&b, "- shared: `prefix` capacity at SLO %.1f vs round-robin's %.1f req/s = %.2fx [>= 2.2x: %s]\n", p, base, p/base, ok(p >= 2.2*base))
		}
		if m, ok2 := r.sloOf(pods); ok2 && p > 0 {
			fmt.Fprintf(&b, "- %d pods: capacity at SLO %.1f vs one pod's %.1f req/s = %.0f%% [>= 90%%: %s]\n", r.cfg.pods, m, p, 100*m/p, ok(m >= 0.9*p))
		}
	}
	for _, mult := range r.cfg.uniqueRates {
		base, okb := r.find("unique", rr, mult)
		for _, c := range []struct {
			name  string
			bound float64
		}{{def, 1.05}, {ll, 1}} {
			m, okm := r.find("unique", c.name, mult)
			if !okb || !okm {
				continue
			}
			ratio := float64(m.ttft[1]) / float64(max(base.ttft[1], time.Millisecond))
			d := m.completed/base.completed - 1
			fmt.Fprintf(&b, "- unique, %gx: `%s` TTFT p90 %s vs round-robin's %s = %.2fx [<= %gx: %s]; throughput %.2f vs %.2f req/s (%+.1f%%) [within 2%%: %s]\n",
				mult, strings.TrimPrefix(c.name, "gateway "), fmtDur(m.ttft[1], m.censored[1]), fmtDur(base.ttft[1], base.censored[1]), ratio, c.bound,
				ok(ratio <= c.bound), m.completed, base.completed, 100*d, ok(d >= -0.02 && d <= 0.02))
		}
	}
	for _, mult := range r.cfg.rates {
		one, ok1 := r.find("shared", def, mult)
		many, ok2 := r.find("shared", pods, mult)
		if !ok1 || !ok2 || one.hitRate == 0 {
			continue
		}
		spreadOK := maxOverMin(many.share) > 0 && maxOverMin(many.share) <= 1.3
		fmt.Fprintf(&b, "- %d pods, shared, %gx: prefix-cache hits %.0f%% vs one pod's %.0f%% = %.0f%% [>= 90%%: %s]; requests per replica max/min %.2f [<= 1.3: %s]\n",
			r.cfg.pods, mult, 100*many.hitRate, 100*one.hitRate, 100*many.hitRate/one.hitRate, ok(many.hitRate >= 0.9*one.hitRate),
			maxOverMin(many.share), ok(spreadOK))
	}
	for _, mult := range r.cfg.docRates {
		for _, t := range []string{def, pods} {
			m, ok1 := r.find("longdoc", t, mult)
			if !ok1 {
				continue
			}
			fmt.Fprintf(&b, "- long-document QA, %gx, `%s`: prefix-cache hits %.0f%% [>= 80%%: %s]; prefix index %s [within its bound: %s]\n",
				mult, t, 100*m.hitRate, ok(m.hitRate >= 0.8), indexCell(m), ok(m.indexCap > 0 && m.indexUsed <= m.indexCap))
		}
	}
	return b.String()
}
