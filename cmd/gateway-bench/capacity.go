package main

// Capacity mode (-capacity): how many concurrent streams one gateway pod holds at its limit,
// what each costs in memory and CPU, and what the requests past the limit get.
//
// The gateway is rendered as the cluster runs it (gateway.maxStreamsPerPod as MaxStreams, 2
// workers) in front of a fake model server streaming -events SSE chunks -interval apart (the
// size of a vLLM chat.completion.chunk). The bench offers -offered concurrent streams (by
// default twice the limit) and:
//
//  1. opens them all (at most -dial-concurrency connection attempts in flight, so the kernel's
//     listen backlog is not what is measured); the model server holds every admitted stream
//     after its first event until every offered request has its answer (first event or 503);
//  2. reads the nginx workers' VmRSS (/proc/<pid>/status): the delta over the idle baseline,
//     divided by the admitted streams, is the memory per open stream;
//  3. releases the streams, which then receive their remaining events at the token rate, while
//     it samples the workers' RSS (the peak) and counts nginx's CPU time: CPU per stream at
//     that rate.
//
// Every offered stream must end in one of: all events and [DONE], or 503 server_overloaded
// with Retry-After. Anything else (a reset, an EOF without an answer, a cut stream) is
// reported as a failure.

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/nginxproc"
)

type capacityConfig struct {
	maxStreams      int
	offered         int
	events          int
	interval        time.Duration
	dialConcurrency int
	workers         int
	bodyBytes       int
}

// chunk is one streamed token as vLLM sends it (an OpenAI chat.completion.chunk).
var chunk = []byte(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764300000,` +
	`"model":"bench-model-b","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,` +
	`"finish_reason":null}]}` + "\n\n")

// streamBackend is the fake model server of the capacity run.
type streamBackend struct {
	srv      *http.Server
	addr     string
	events   int
	interval time.Duration
	release  chan struct{}
	opened   atomic.Int64
}

func startStreamBackend(events int, interval time.Duration) (*streamBackend, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &streamBackend{addr: l.Addr().String(), events: events, interval: interval, release: make(chan struct{})}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = b.srv.Serve(l) }()
	return b, nil
}

func (b *streamBackend) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !bytes.Contains(body, []byte(`"stream":true`)) { // warm-up requests
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(completion)
		return
	}
	b.opened.Add(1)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	_, _ = w.Write(chunk)
	fl.Flush()
	select { // hold until every offered request has its answer
	case <-b.release:
	case <-r.Context().Done():
		return
	case <-time.After(5 * time.Minute):
		return
	}
	tick := time.NewTicker(b.interval)
	defer tick.Stop()
	for n := 2; n <= b.events; n++ {
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
		fl.Flush()
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
}

// capacityOutcome is one offered stream's end.
type capacityOutcome int

const (
	outComplete   capacityOutcome = iota // 200, every event and [DONE]
	outOverloaded                        // 503 server_overloaded with Retry-After
	outNoAnswer                          // connection reset / closed / timed out before a status line
	outCut                               // 200 but the stream ended early
	outOther                             // any other status or a malformed 503
)

func runCapacity(cfg config, cc capacityConfig) error {
	dir, cleanup, err := workDir(cfg, "gateway-capacity-")
	if err != nil {
		return err
	}
	defer cleanup()
	be, err := startStreamBackend(cc.events, cc.interval)
	if err != nil {
		return err
	}
	defer be.srv.Close()

	rt := nginx.DebianRuntime(dir)
	rt.WorkerProcesses = cc.workers
	rt.User = rootUser()
	rt.AccessLog = "off"
	listen, err := loopback()
	if err != nil {
		return err
	}
	routes := make([]nginx.Route, len(models))
	for i, m := range models {
		routes[i] = nginx.Route{Name: m, Upstream: be.addr}
	}
	params := nginx.Params{
		Routes: routes, Listen: listen, MaxBodySize: nginx.DefaultMaxBodySize,
		ProxyTimeout: nginx.DefaultProxyTimeout, MaxStreams: cc.maxStreams, Runtime: rt,
	}
	files, err := nginx.Generate(params)
	if err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	proc, err := nginxproc.Start(nginx.Command(cfg.nginxBin, rt), nil, nginxproc.Listening(listen), 10*time.Second)
	if err != nil {
		return err
	}
	defer proc.Stop()
	wc, nofile := nginx.ConnectionBudget(cc.maxStreams, 1)

	fmt.Printf("gateway-bench -capacity: %s, %d CPUs, nginx worker_processes %d\n", nginxVersion(cfg.nginxBin), runtime.NumCPU(), cc.workers)
	fmt.Printf("load average at start: %s\n", loadavg())
	fmt.Printf("gateway: MaxStreams %d -> worker_connections %d, worker_rlimit_nofile %d (per worker)\n", cc.maxStreams, wc, nofile)
	fmt.Printf("offered: %d concurrent streams, each %d events of %d bytes, %v apart (%.0f events/s per stream), request body %d bytes\n\n",
		cc.offered, cc.events, len(chunk), cc.interval, float64(time.Second)/float64(cc.interval), max(cc.bodyBytes, len(streamBody)))

	// Warm both workers' Lua (first requests load the router and JIT it) before the baseline.
	for range 50 {
		if err := check(listen, chatRequest); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	baseline, err := proc.WorkersRSS()
	if err != nil {
		return err
	}

	// 1. Open every offered stream; each reports once it has its answer (first event or status).
	var (
		answered  sync.WaitGroup
		finished  sync.WaitGroup
		dials     = make(chan struct{}, cc.dialConcurrency)
		counts    [5]atomic.Int64
		firstMu   sync.Mutex
		firstBad  = map[capacityOutcome]string{}
		rampStart = time.Now()
	)
	note := func(o capacityOutcome, msg string) {
		counts[o].Add(1)
		if o >= outNoAnswer {
			firstMu.Lock()
			if _, ok := firstBad[o]; !ok {
				firstBad[o] = msg
			}
			firstMu.Unlock()
		}
	}
	body := streamBody
	if pad := cc.bodyBytes - len(body); pad > 0 {
		body = []byte(`{"model":"bench-model-b","stream":true,"messages":[{"role":"user","content":"` +
			strings.Repeat("x", pad) + `"}]}`)
	}
	req := "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
	for range cc.offered {
		answered.Add(1)
		finished.Add(1)
		go func() {
			defer finished.Done()
			var once sync.Once
			ready := func() { once.Do(answered.Done) }
			defer ready()
			dials <- struct{}{}
			c, err := net.DialTimeout("tcp", listen, 30*time.Second)
			<-dials
			if err != nil {
				note(outNoAnswer, "dial: "+err.Error())
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
			if _, err := io.WriteString(c, req); err != nil {
				note(outNoAnswer, "write: "+err.Error())
				return
			}
			o, msg := readStream(bufio.NewReader(c), cc.events, ready)
			note(o, msg)
		}()
	}
	if !waitTimeout(&answered, 5*time.Minute) {
		return errors.New("offered streams not all answered within 5 minutes")
	}
	ramp := time.Since(rampStart)
	admitted := int(be.opened.Load())
	time.Sleep(200 * time.Millisecond) // let the last answers settle before reading memory
	open, err := proc.WorkersRSS()
	if err != nil {
		return err
	}

	// 2. Release: every admitted stream receives its remaining events at the token rate.
	cpu0 := cpuTicks(proc.Pid())
	streamStart := time.Now()
	close(be.release)
	peak := open
	done := make(chan struct{})
	go func() { finished.Wait(); close(done) }()
	tick := time.NewTicker(100 * time.Millisecond)
sample:
	for {
		select {
		case <-done:
			break sample
		case <-tick.C:
			if rss, err := proc.WorkersRSS(); err == nil && rss > peak {
				peak = rss
			}
		case <-time.After(5 * time.Minute):
			tick.Stop()
			return errors.New("streams not finished within 5 minutes of the release")
		}
	}
	tick.Stop()
	streaming := time.Since(streamStart)
	cpu := float64(cpuTicks(proc.Pid())-cpu0) / clockTicksPerSecond

	fmt.Printf("outcome of %d offered streams (all open within %v):\n", cc.offered, ramp.Round(time.Millisecond))
	fmt.Printf("  complete (200, %d events + [DONE]):        %d\n", cc.events, counts[outComplete].Load())
	fmt.Printf("  503 server_overloaded with Retry-After:    %d\n", counts[outOverloaded].Load())
	fmt.Printf("  no HTTP answer (reset/EOF/timeout):        %d\n", counts[outNoAnswer].Load())
	fmt.Printf("  cut streams (200, events missing):         %d\n", counts[outCut].Load())
	fmt.Printf("  other answers:                             %d\n", counts[outOther].Load())
	for o, msg := range firstBad {
		fmt.Printf("  first failure (%d): %s\n", o, msg)
	}
	fmt.Printf("  streams the model server saw:              %d\n", admitted)
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Printf("\nnginx workers' VmRSS: idle %s, %d streams open %s, peak while streaming %s\n", mib(baseline), admitted, mib(open), mib(peak))
	if admitted > 0 {
		fmt.Printf("  memory per open stream:      %.1f KiB  ((open - idle) / streams)\n", float64(open-baseline)/1024/float64(admitted))
		fmt.Printf("  memory per streaming stream: %.1f KiB  ((peak - idle) / streams)\n", float64(peak-baseline)/1024/float64(admitted))
		events := float64(admitted * (cc.events - 1))
		perEvent := cpu / events // seconds of nginx CPU per event delivered
		fmt.Printf("\nnginx CPU while %d streams received %d more events each: %.2f s in %v (%.0f events/s achieved, %.1f per stream; %v asked)\n",
			admitted, cc.events-1, cpu, streaming.Round(time.Millisecond), events/streaming.Seconds(),
			events/streaming.Seconds()/float64(admitted), cc.interval)
		fmt.Printf("  CPU per event: %.1f µs\n", perEvent*1e6)
		for _, rate := range []float64{10, 30, 60} {
			fmt.Printf("  at %2.0f events/s per stream: %.2f millicores per stream, %.2f cores for %d streams\n",
				rate, perEvent*rate*1000, perEvent*rate*float64(cc.maxStreams), cc.maxStreams)
		}
	}
	fmt.Printf("load average at end: %s\n", loadavg())
	if bad := counts[outNoAnswer].Load() + counts[outCut].Load() + counts[outOther].Load(); bad > 0 {
		return fmt.Errorf("%d offered streams ended without a complete stream or a 503 answer", bad)
	}
	return nil
}

// readStream reads one response: a 200 stream to its end, or a 503's body. It calls ready once
// the answer is known (the first event of a 200, the whole 503).
func readStream(r *bufio.Reader, events int, ready func()) (capacityOutcome, string) {
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return outNoAnswer, err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		body, err := io.ReadAll(resp.Body)
		ready()
		if err != nil {
			return outOther, "503 body: " + err.Error()
		}
		if !bytes.Contains(body, []byte(`"type":"server_overloaded"`)) || resp.Header.Get("Retry-After") == "" {
			return outOther, fmt.Sprintf("503 without server_overloaded/Retry-After: %s", body)
		}
		return outOverloaded, ""
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		ready()
		return outOther, fmt.Sprintf("status %d: %s", resp.StatusCode, body)
	}
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
		case bytes.Equal(line, []byte("data: [DONE]")):
			if n != events {
				return outCut, fmt.Sprintf("[DONE] after %d of %d events", n, events)
			}
			return outComplete, ""
		case bytes.HasPrefix(line, []byte("data: {")):
			n++
			if n == 1 {
				ready()
			}
		}
	}
	return outCut, fmt.Sprintf("stream ended after %d of %d events: %v", n, events, sc.Err())
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// capacityFlags are the flags of -capacity; defaultStreams is gateway.maxStreamsPerPod's default.
func capacityFlags(cc *capacityConfig, defaultStreams int) {
	flag.IntVar(&cc.maxStreams, "max-streams", defaultStreams, "-capacity: the gateway's MaxStreams (gateway.maxStreamsPerPod)")
	flag.IntVar(&cc.offered, "offered", 0, "-capacity: concurrent streams offered (0 = twice -max-streams)")
	flag.IntVar(&cc.events, "events", 20, "-capacity: SSE events per stream")
	flag.DurationVar(&cc.interval, "interval", 100*time.Millisecond, "-capacity: time between two events of a stream (100ms = 10 tokens/s)")
	flag.IntVar(&cc.dialConcurrency, "dial-concurrency", 256, "-capacity: connection attempts in flight at once")
	flag.IntVar(&cc.workers, "capacity-workers", 2, "-capacity: nginx worker_processes (the gateway pod runs 2)")
	flag.IntVar(&cc.bodyBytes, "body-bytes", 0, "-capacity: pad each request body to about this size (nginx keeps a body in memory for the whole stream)")
}
