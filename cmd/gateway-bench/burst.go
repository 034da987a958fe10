package main

// Burst mode (-burst): the worst case for the gateway's memory and for the requests waiting behind
// a body being read. -burst-bodies bodies of -burst-bytes (the default request size limit) in the
// shapes that cost a body reader most (tiny containers, numbers, nesting at cjson's limit, tiny
// top-level members, escapes; "model" last, so all of it must be read) are sent at once to the
// gateway and then to the bare proxy, each a fresh nginx with -burst-workers workers, while one
// connection sends a small chat request every -burst-probe. It reports:
//   - whether every large request reached the model it names with its body intact (the model
//     server hashes what it receives);
//   - the workers' peak VmRSS growth over the idle baseline (/proc, sampled every 2 ms) against
//     the bytes of the bodies;
//   - the small requests' latency meanwhile.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/nginxproc"
)

type burstConfig struct {
	bodies  int
	bytes   int
	workers int
	probe   time.Duration
}

// burstShapes, one per body in turn.
var burstShapes = []string{"objects", "numbers", "nesting", "members", "escapes"}

// burstBody is a request body of exactly size bytes in shape, naming model last.
func burstBody(shape string, size int, model string) ([]byte, error) {
	head, tail := `{"messages":[{"role":"user","content":"hi"}],"x":[`, `0],"model":"`+model+`"}`
	var unit string
	switch shape {
	case "objects":
		unit = "{},"
	case "numbers":
		unit = "0,"
	case "nesting": // 998 arrays inside x's array inside the body's object: cjson's 1000
		unit = strings.Repeat("[", 998) + strings.Repeat("]", 998) + ","
	case "members":
		head, unit, tail = "{", `"a":"b",`, `"model":"`+model+`"}`
	case "escapes":
		head, unit, tail = `{"x":"`, `\n\"\u00e9 `, `","model":"`+model+`"}`
	default:
		return nil, fmt.Errorf("unknown burst shape %q", shape)
	}
	room := size - len(head) - len(tail)
	if room < 0 {
		return nil, fmt.Errorf("-burst-bytes %d: too small for a body", size)
	}
	fill := strings.Repeat(unit, room/len(unit))
	pad := strings.Repeat(" ", room-len(fill)) // whitespace, where JSON allows it
	if shape == "escapes" {
		return []byte(head + fill + pad + tail), nil
	}
	return []byte(head + fill + tail + pad), nil
}

// burstAnswer is what the burst's model servers answer: who they are and what they received.
type burstAnswer struct {
	Model  string `json:"model"`
	SHA256 string `json:"sha256"`
}

func startBurstBackend(model string) (*backend, error) {
	return startBackendWith(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		if _, err := io.Copy(h, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(burstAnswer{Model: model, SHA256: hex.EncodeToString(h.Sum(nil))})
	})
}

type burstResult struct {
	target         string
	routed         int
	firstBad       string
	buffered       int64
	baseline, peak int64
	probes         []time.Duration
	probeErrs      int
	elapsed        time.Duration
}

func (r burstResult) growth() float64 { return float64(r.peak-r.baseline) / float64(r.buffered) }

func (r burstResult) maxProbe() time.Duration {
	if len(r.probes) == 0 {
		return 0
	}
	return slices.Max(r.probes)
}

// runBurst measures the gateway, then the bare proxy, and returns both results.
func runBurst(cfg config, bc burstConfig) (gateway, bare burstResult, err error) {
	dir, err := os.MkdirTemp("", "gateway-burst-")
	if err != nil {
		return gateway, bare, err
	}
	if cfg.keep {
		fmt.Println("configs and logs in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	var bodies [][]byte
	for i := range bc.bodies {
		b, err := burstBody(burstShapes[i%len(burstShapes)], bc.bytes, models[1])
		if err != nil {
			return gateway, bare, err
		}
		bodies = append(bodies, b)
	}
	fmt.Printf("gateway-bench -burst: %s, %d CPUs, nginx worker_processes %d, load average %s\n",
		nginxVersion(cfg.nginxBin), runtime.NumCPU(), bc.workers, loadavg())
	fmt.Printf("%d concurrent bodies of %d bytes (%s in turn; \"model\" last), and a %d-byte chat request for another model\n"+
		"(another model server) every %v meanwhile\n\n", bc.bodies, bc.bytes, strings.Join(burstShapes, ", "), len(probeBody), bc.probe)
	cfg.workers = bc.workers
	var results []burstResult
	var window time.Duration // the bare proxy is probed as long as the gateway was
	for _, name := range []string{"gateway", "bare nginx"} {
		res, err := burstTarget(cfg, bc, filepath.Join(dir, strings.ReplaceAll(name, " ", "-")), name, bodies, window)
		if err != nil {
			return gateway, bare, fmt.Errorf("%s: %w", name, err)
		}
		results = append(results, res)
		window = res.elapsed
	}
	printBurst(bc, results)
	return results[0], results[1], nil
}

// burstTarget starts a fresh target with its own model servers and sends the burst through it.
func burstTarget(cfg config, bc burstConfig, dir, name string, bodies [][]byte, window time.Duration) (burstResult, error) {
	other, err := startBurstBackend(models[0])
	if err != nil {
		return burstResult{}, err
	}
	defer other.srv.Close()
	named, err := startBurstBackend(models[1])
	if err != nil {
		return burstResult{}, err
	}
	defer named.srv.Close()
	var t target
	var stop func()
	if name == "gateway" {
		backends := benchBackends(other.addr)
		backends[models[1]] = named.addr
		t, stop, err = startGateway(cfg, dir, gatewayOptions{backends: backends, workers: bc.workers})
	} else {
		t, stop, err = startBare(cfg, dir, named.addr, other.addr)
	}
	if err != nil {
		return burstResult{}, err
	}
	defer stop()
	for range 20 { // the workers' Lua loaded and compiled before the baseline
		if err := post(t.addr, chatBody, nil); err != nil {
			return burstResult{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	res := burstResult{target: name}
	if res.baseline, err = t.proc.WorkersRSS(); err != nil {
		return res, err
	}
	return res, burst(t, bc, bodies, window, &res)
}

// burst sends the bodies at once while sampling the workers' RSS and probing with small requests,
// for at least window.
func burst(t target, bc burstConfig, bodies [][]byte, window time.Duration, res *burstResult) error {
	res.peak = res.baseline
	done := make(chan struct{})
	var side sync.WaitGroup
	workers := t.proc.Workers() // looked up once: listing /proc every few ms would load the machine
	side.Go(func() {            // RSS
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				var rss int64
				for _, w := range workers {
					r, _ := nginxproc.RSS(w)
					rss += r
				}
				res.peak = max(res.peak, rss)
			}
		}
	})
	var probeErrs atomic.Int64
	side.Go(func() { res.probes = probe(t.addr, bc.probe, done, &probeErrs) })
	time.Sleep(50 * time.Millisecond) // a few probes before the burst
	start := time.Now()
	var routed atomic.Int64
	var bad sync.Once
	var wg sync.WaitGroup
	for _, body := range bodies {
		res.buffered += int64(len(body))
		wg.Go(func() {
			sum := sha256.Sum256(body)
			want := burstAnswer{Model: models[1], SHA256: hex.EncodeToString(sum[:])}
			var got burstAnswer
			err := post(t.addr, body, &got)
			if err == nil && got != want {
				err = fmt.Errorf("answered %+v, want %+v", got, want)
			}
			if err != nil {
				bad.Do(func() { res.firstBad = err.Error() })
				return
			}
			routed.Add(1)
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	time.Sleep(max(50*time.Millisecond, window-res.elapsed))
	close(done)
	side.Wait()
	res.routed, res.probeErrs = int(routed.Load()), int(probeErrs.Load())
	return nil
}

// probeRequest is the small chat request sent during the burst: for the default model, whose model
// server is not the one receiving the large bodies (the header steers the bare proxy alike).
var probeRequest = []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nX-Bench-Probe: 1\r\n" +
	"Content-Length: " + strconv.Itoa(len(probeBody)) + "\r\n\r\n" + string(probeBody))

var probeBody = bytes.Replace(chatBody, []byte(models[1]), []byte(models[0]), 1)

// probe sends probeRequest every interval on one connection until done, and returns each one's
// latency.
func probe(addr string, interval time.Duration, done <-chan struct{}, errs *atomic.Int64) []time.Duration {
	var out []time.Duration
	c, err := dial(addr)
	for {
		select {
		case <-done:
			if c != nil {
				c.close()
			}
			return out
		case <-time.After(interval):
		}
		if err != nil || c == nil {
			errs.Add(1)
			c, err = dial(addr)
			continue
		}
		t0 := time.Now()
		status, keep, rerr := c.roundTrip(probeRequest)
		out = append(out, time.Since(t0))
		if rerr != nil || status != http.StatusOK || !keep {
			errs.Add(1)
			c.close()
			c, err = dial(addr)
		}
	}
}

// post sends body as a chat completion on a connection of its own and decodes the JSON answer
// into into (nil: only the status matters).
func post(addr string, body []byte, into any) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	head := "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		return err
	}
	if _, err := c.Write(body); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(answer))
	}
	if into == nil {
		return nil
	}
	return json.Unmarshal(answer, into)
}

func printBurst(bc burstConfig, results []burstResult) {
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trouted\tbodies\tworkers' RSS idle\tpeak\tgrowth\tgrowth/bodies\tsmall requests\tp50\tp90\tp99\tmax\tbodies took\t")
	for _, r := range results {
		p := slices.Clone(r.probes)
		slices.Sort(p)
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%s\t%.2fx\t%d (%d failed)\t%s\t%s\t%s\t%s\t%v\t\n", r.target, r.routed, bc.bodies,
			mib(r.buffered), mib(r.baseline), mib(r.peak), mib(r.peak-r.baseline), r.growth(), len(p), r.probeErrs,
			ms(pct(p, 50)), ms(pct(p, 90)), ms(pct(p, 99)), ms(r.maxProbe()), r.elapsed.Round(time.Millisecond))
	}
	_ = tw.Flush()
	for _, r := range results {
		if r.firstBad != "" {
			fmt.Printf("  %s: first large request not routed right: %s\n", r.target, r.firstBad)
		}
	}
	g := results[0]
	p := nginx.Params{MaxBodySize: nginx.DefaultMaxBodySize}
	fmt.Printf("\ngateway: every body routed to its model intact [all] %s; peak RSS growth %.2fx the bodies [< 2x] %s; "+
		"slowest small request %s [< 50 ms] %s (bare proxy's slowest in this run %s)\n", verdict(g.routed == bc.bodies), g.growth(),
		verdict(g.growth() < 2), ms(g.maxProbe()), verdict(g.maxProbe() < 50*time.Millisecond && g.probeErrs == 0), ms(results[1].maxProbe()))
	fmt.Printf("the memory limit's body budget at the default limit (gateway.MemoryLimit): %s (%d bodies of %s: file pages and nginx's %s buffer)\n",
		mib(p.BodyBudget()), nginx.DefaultLargeBodies, mib(p.MaxBodySize), mib(p.BodyBuffer()))
	fmt.Printf("load average at end: %s\n", loadavg())
}

// checkBurst turns the gateway's result into an error when it misses a target. The small
// requests' wait is held against 50 ms beyond the longest one the bare proxy gave in the same run,
// probed as long: on a machine other work keeps busy, a bare nginx's small requests wait hundreds
// of milliseconds now and then too (the scheduler, not nginx), and that is not the gateway's to
// answer for; on a quiet machine it is the 50 ms.
func checkBurst(bc burstConfig, g, bare burstResult) error {
	var errs []error
	if g.routed != bc.bodies {
		errs = append(errs, fmt.Errorf("%d of %d large bodies routed right (first: %s)", g.routed, bc.bodies, g.firstBad))
	}
	if g.growth() >= 2 {
		errs = append(errs, fmt.Errorf("workers' RSS grew %.2fx the bodies' bytes", g.growth()))
	}
	if bound := 50*time.Millisecond + bare.maxProbe(); g.maxProbe() >= bound || g.probeErrs > 0 {
		errs = append(errs, fmt.Errorf("a small request took %v during the burst (%d failed), over %v (50 ms + the bare proxy's %v)",
			g.maxProbe(), g.probeErrs, bound, bare.maxProbe()))
	}
	return errors.Join(errs...)
}
