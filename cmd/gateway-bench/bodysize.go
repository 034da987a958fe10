package main

// The body-size axis: the gateway decodes the request body (the model name; with replica-aware
// routing also the prompt's prefix), so its cost against a bare proxy grows with the body. The
// throughput rounds are repeated (bare and gateway alternating) with a chat body whose system
// prompt is padded to each -body-sizes value; the small body is the main run's.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llm-platform/llm-platform/internal/bench"
)

// sizeResult is the throughput of bare and gateway with one body size.
type sizeResult struct {
	bytes    int
	bare, gw *result
	perRound []float64 // gateway/bare per round
	fromMain bool      // the main run's measurement (the small body)
}

// chatBodyOfSize is the benchmark's chat request with its system prompt padded so the JSON body
// is exactly n bytes (plain words: nothing to escape).
func chatBodyOfSize(n int) ([]byte, error) {
	const head = `{"model":"bench-model-b","messages":[{"role":"system","content":"You are terse.`
	const tail = `"},{"role":"user","content":"Say hello in one word."}],"max_tokens":8,"temperature":0}`
	pad := n - len(head) - len(tail)
	if pad < 0 {
		return nil, fmt.Errorf("-body-sizes %d: the smallest chat body is %d bytes", n, len(head)+len(tail))
	}
	const phrase = " Answer in as few words as the question allows."
	words := strings.Repeat(phrase, pad/len(phrase)+1)
	return []byte(head + words[:pad] + tail), nil
}

// measureSizes runs the extra body sizes; main is the small-body result of the main run.
func measureSizes(cfg config, ts targets, main sizeResult) ([]sizeResult, error) {
	out := []sizeResult{main}
	for _, n := range cfg.bodySizes {
		if n == main.bytes {
			continue
		}
		body, err := chatBodyOfSize(n)
		if err != nil {
			return nil, err
		}
		req := httpRequest(body)
		sr := sizeResult{bytes: n, bare: &result{}, gw: &result{}}
		for _, t := range []*target{ts.bare, ts.gateway} {
			if err := check(t.addr, req); err != nil {
				return nil, fmt.Errorf("%s with a %d-byte body: %w", t.name, n, err)
			}
			if _, err := load(t.addr, cfg.conns, cfg.warmup, req); err != nil {
				return nil, fmt.Errorf("warm-up %s: %w", t.name, err)
			}
		}
		per := cfg.duration / time.Duration(cfg.rounds)
		for r := 0; r < cfg.rounds; r++ {
			var rps [2]float64
			for i, t := range []*target{ts.bare, ts.gateway} {
				before := cpuTicks(t.pid)
				res, err := load(t.addr, cfg.conns, per, req)
				if err != nil {
					return nil, fmt.Errorf("%s with a %d-byte body: %w", t.name, n, err)
				}
				res.cpuTicks = cpuTicks(t.pid) - before
				rps[i] = res.rps()
				[]*result{sr.bare, sr.gw}[i].merge(res)
			}
			sr.perRound = append(sr.perRound, rps[1]/rps[0])
		}
		out = append(out, sr)
	}
	return out, nil
}

func cpuPerRequest(r *result) float64 {
	if r.requests == 0 {
		return 0
	}
	return float64(r.cpuTicks) * 1e6 / clockTicksPerSecond / float64(r.requests)
}

// printSizes prints the overhead against body size and writes the chart when asked.
func printSizes(cfg config, sizes []sizeResult) error {
	fmt.Printf("\ngateway overhead against request body size (%d connections, %v per target and size):\n", cfg.conns, cfg.duration)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "body bytes\tbare req/s\tgateway req/s\tgateway/bare\tmedian per round\tbare CPU/req\tgateway CPU/req\t")
	var ratio, cpu []bench.Point
	for _, s := range sizes {
		rounds := slices.Clone(s.perRound)
		slices.Sort(rounds)
		med := 0.0
		if len(rounds) > 0 {
			med = rounds[len(rounds)/2]
		}
		r := s.gw.rps() / s.bare.rps()
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.2fx\t%.2fx\t%.1f µs\t%.1f µs\t\n", s.bytes, s.bare.rps(), s.gw.rps(), r, med,
			cpuPerRequest(s.bare), cpuPerRequest(s.gw))
		ratio = append(ratio, bench.Point{X: float64(s.bytes) / 1024, Y: r})
		cpu = append(cpu, bench.Point{X: float64(s.bytes) / 1024, Y: cpuPerRequest(s.gw) - cpuPerRequest(s.bare)})
	}
	_ = tw.Flush()
	if cfg.svg == "" || len(sizes) < 2 {
		return nil
	}
	caption := fmt.Sprintf("gateway-bench, %d connections, Debian nginx, 1 worker, %s", cfg.conns, time.Now().UTC().Format("2006-01-02"))
	svg := bench.SVG(caption,
		bench.Chart{Title: "Gateway throughput / bare nginx", XLabel: "request body (KiB)", YLabel: "gateway/bare req/s",
			Series: []bench.Series{{Name: "gateway / bare nginx", Points: ratio}}},
		bench.Chart{Title: "Extra nginx CPU per request", XLabel: "request body (KiB)", YLabel: "gateway - bare (µs)",
			Series: []bench.Series{{Name: "gateway - bare nginx", Points: cpu}}})
	if err := os.WriteFile(cfg.svg, []byte(svg), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", cfg.svg)
	return nil
}
