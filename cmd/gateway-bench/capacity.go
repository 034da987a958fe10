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
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
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

// capacityMeasures is what one capacity run measured.
type capacityMeasures struct {
	ramp      time.Duration // until every offered stream had its answer
	streaming time.Duration // from the release until every stream ended
	admitted  int           // streams the model server saw
	// The nginx workers' VmRSS: idle, with every admitted stream open, peak while streaming.
	baseline, open, peak int64
	cpu                  float64 // nginx CPU seconds while streaming
}

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
	listen, proc, err := startCapacityGateway(cfg, cc, dir, be.addr)
	if err != nil {
		return err
	}
	defer proc.Stop()
	printCapacityHeader(cfg, cc)

	var m capacityMeasures
	if m.baseline, err = warmCapacity(listen, proc); err != nil {
		return err
	}
	tally := newCapacityTally()
	finished, err := admitStreams(listen, cc, be, proc, tally, &m)
	if err != nil {
		return err
	}
	if err := releaseStreams(be, proc, finished, &m); err != nil {
		return err
	}
	printCapacity(cc, m, tally)
	if bad := tally.failures(); bad > 0 {
		return fmt.Errorf("%d offered streams ended without a complete stream or a 503 answer", bad)
	}
	return nil
}

// startCapacityGateway renders the gateway as the cluster runs it (cc.maxStreams, cc.workers)
// in front of the stream backend and starts it.
func startCapacityGateway(cfg config, cc capacityConfig, dir, backendAddr string) (string, *nginxproc.Process, error) {
	rt := nginx.DebianRuntime(dir)
	rt.WorkerProcesses = cc.workers
	rt.User = rootUser()
	rt.AccessLog = "off"
	listen, err := loopback()
	if err != nil {
		return "", nil, err
	}
	routes := make([]nginx.Route, len(models))
	for i, m := range models {
		routes[i] = nginx.Route{Name: m, Upstream: backendAddr}
	}
	params := nginx.Params{
		Routes: routes, Listen: listen, MaxBodySize: nginx.DefaultMaxBodySize,
		ProxyTimeout: nginx.DefaultProxyTimeout, MaxStreams: cc.maxStreams, Runtime: rt,
	}
	files, err := nginx.Generate(params)
	if err != nil {
		return "", nil, err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", nil, err
		}
	}
	proc, err := nginxproc.Start(nginx.Command(cfg.nginxBin, rt), nil, nginxproc.Listening(listen), 10*time.Second)
	if err != nil {
		return "", nil, err
	}
	return listen, proc, nil
}

func printCapacityHeader(cfg config, cc capacityConfig) {
	wc, nofile := nginx.ConnectionBudget(cc.maxStreams, 1)
	fmt.Printf("gateway-bench -capacity: %s, %d CPUs, nginx worker_processes %d\n", nginxVersion(cfg.nginxBin), runtime.NumCPU(), cc.workers)
	fmt.Printf("load average at start: %s\n", loadavg())
	fmt.Printf("gateway: MaxStreams %d -> worker_connections %d, worker_rlimit_nofile %d (per worker)\n", cc.maxStreams, wc, nofile)
	fmt.Printf("offered: %d concurrent streams, each %d events of %d bytes, %v apart (%.0f events/s per stream), request body %d bytes\n\n",
		cc.offered, cc.events, len(chunk), cc.interval, float64(time.Second)/float64(cc.interval), max(cc.bodyBytes, len(streamBody)))
}

// warmCapacity warms both workers' Lua (the first requests load the router and JIT it) and
// returns the workers' idle RSS, the baseline.
func warmCapacity(listen string, proc *nginxproc.Process) (int64, error) {
	for range 50 {
		if err := check(listen, chatRequest); err != nil {
			return 0, fmt.Errorf("warm-up: %w", err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	return proc.WorkersRSS()
}

// admitStreams opens every offered stream and waits until each has its answer, then reads the
// workers' RSS with the admitted streams held open; finished is done once every stream ended.
func admitStreams(listen string, cc capacityConfig, be *streamBackend, proc *nginxproc.Process, tally *capacityTally, m *capacityMeasures) (finished *sync.WaitGroup, err error) {
	rampStart := time.Now()
	answered, finished := offerStreams(listen, cc, tally)
	if !waitTimeout(answered, 5*time.Minute) {
		return nil, errors.New("offered streams not all answered within 5 minutes")
	}
	m.ramp = time.Since(rampStart)
	m.admitted = int(be.opened.Load())
	time.Sleep(200 * time.Millisecond) // let the last answers settle before reading memory
	if m.open, err = proc.WorkersRSS(); err != nil {
		return nil, err
	}
	return finished, nil
}

// releaseStreams lets every admitted stream receive its remaining events at the token rate,
// sampling the workers' RSS (the peak) and counting nginx's CPU time until all have ended.
func releaseStreams(be *streamBackend, proc *nginxproc.Process, finished *sync.WaitGroup, m *capacityMeasures) error {
	cpu0 := cpuTicks(proc.Pid())
	streamStart := time.Now()
	close(be.release)
	m.peak = m.open
	done := make(chan struct{})
	go func() { finished.Wait(); close(done) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			m.streaming = time.Since(streamStart)
			m.cpu = float64(cpuTicks(proc.Pid())-cpu0) / clockTicksPerSecond
			return nil
		case <-tick.C:
			if rss, err := proc.WorkersRSS(); err == nil && rss > m.peak {
				m.peak = rss
			}
		case <-time.After(5 * time.Minute):
			return errors.New("streams not finished within 5 minutes of the release")
		}
	}
}

// printCapacity prints how the offered streams ended and what the admitted ones cost.
func printCapacity(cc capacityConfig, m capacityMeasures, tally *capacityTally) {
	fmt.Printf("outcome of %d offered streams (all open within %v):\n", cc.offered, m.ramp.Round(time.Millisecond))
	fmt.Printf("  complete (200, %d events + [DONE]):        %d\n", cc.events, tally.counts[outComplete].Load())
	fmt.Printf("  503 server_overloaded with Retry-After:    %d\n", tally.counts[outOverloaded].Load())
	fmt.Printf("  no HTTP answer (reset/EOF/timeout):        %d\n", tally.counts[outNoAnswer].Load())
	fmt.Printf("  cut streams (200, events missing):         %d\n", tally.counts[outCut].Load())
	fmt.Printf("  other answers:                             %d\n", tally.counts[outOther].Load())
	for o, msg := range tally.firstBad {
		fmt.Printf("  first failure (%d): %s\n", o, msg)
	}
	fmt.Printf("  streams the model server saw:              %d\n", m.admitted)
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Printf("\nnginx workers' VmRSS: idle %s, %d streams open %s, peak while streaming %s\n", mib(m.baseline), m.admitted, mib(m.open), mib(m.peak))
	if m.admitted > 0 {
		printStreamCosts(cc, m)
	}
	fmt.Printf("load average at end: %s\n", loadavg())
}

// printStreamCosts prints the memory and CPU per admitted stream.
func printStreamCosts(cc capacityConfig, m capacityMeasures) {
	fmt.Printf("  memory per open stream:      %.1f KiB  ((open - idle) / streams)\n", float64(m.open-m.baseline)/1024/float64(m.admitted))
	fmt.Printf("  memory per streaming stream: %.1f KiB  ((peak - idle) / streams)\n", float64(m.peak-m.baseline)/1024/float64(m.admitted))
	events := float64(m.admitted * (cc.events - 1))
	perEvent := m.cpu / events // seconds of nginx CPU per event delivered
	fmt.Printf("\nnginx CPU while %d streams received %d more events each: %.2f s in %v (%.0f events/s achieved, %.1f per stream; %v asked)\n",
		m.admitted, cc.events-1, m.cpu, m.streaming.Round(time.Millisecond), events/m.streaming.Seconds(),
		events/m.streaming.Seconds()/float64(m.admitted), cc.interval)
	fmt.Printf("  CPU per event: %.1f µs\n", perEvent*1e6)
	for _, rate := range []float64{10, 30, 60} {
		fmt.Printf("  at %2.0f events/s per stream: %.2f millicores per stream, %.2f cores for %d streams\n",
			rate, perEvent*rate*1000, perEvent*rate*float64(cc.maxStreams), cc.maxStreams)
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
