package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/llm-platform/llm-platform/internal/vllmsim"
)

// outcome is what the client saw of one request.
type outcome struct {
	at      time.Duration // arrival, from the start of the run
	ttft    time.Duration // to the first streamed token; 0 if none arrived
	done    time.Duration // completion ([DONE] received), from the start; 0 if not completed
	tokens  int           // streamed tokens received
	replica string        // the simulator's replica header
	err     error
}

// arrivals are Poisson arrival times at rate per second over d, from seed: the same seed gives
// the same times for every target.
func arrivals(rate float64, d time.Duration, seed uint64) []time.Duration {
	r := rand.New(rand.NewPCG(seed, 3))
	var out []time.Duration
	for t := 0.0; ; {
		t += r.ExpFloat64() / rate
		at := time.Duration(t * float64(time.Second))
		if at >= d {
			return out
		}
		out = append(out, at)
	}
}

// pickFunc chooses the address a request goes to (a proxy's address, or a replica for the
// client-side hash).
type pickFunc func(q request) string

// drive sends reqs[i] at times[i] (open loop: a slow answer never delays the next arrival),
// stops sending at the last arrival, gives answers until cutoff (from the start) to arrive, then
// cancels what is left. It returns one outcome per request.
func drive(pick pickFunc, reqs []request, times []time.Duration, cutoff time.Duration) []outcome {
	tr := &http.Transport{
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make([]outcome, len(times))
	var wg sync.WaitGroup
	start := time.Now()
	stop := time.AfterFunc(cutoff, cancel)
	defer stop.Stop()
	for i, at := range times {
		if wait := time.Until(start.Add(at)); wait > 0 {
			time.Sleep(wait)
		}
		q := reqs[i%len(reqs)]
		out[i].at = time.Since(start)
		wg.Go(func() { once(ctx, client, pick(q), q, start, &out[i]) })
	}
	wg.Wait()
	return out
}

var dataPrefix = []byte("data: ")

// once sends one streamed chat request and reads its events.
func once(ctx context.Context, c *http.Client, addr string, q request, start time.Time, o *outcome) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/chat/completions", bytes.NewReader(q.body))
	if err != nil {
		o.err = err
		return
	}
	req.Header.Set("Content-Type", "application/json")
	sent := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() == nil { // not the cutoff's cancel
			o.err = err
		}
		return
	}
	defer resp.Body.Close()
	o.replica = resp.Header.Get(vllmsim.ReplicaHeader)
	if resp.StatusCode != http.StatusOK {
		o.err = fmt.Errorf("status %d", resp.StatusCode)
		return
	}
	br := bufio.NewReaderSize(resp.Body, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if ctx.Err() == nil {
				o.err = err
			}
			return
		}
		data, ok := bytes.CutPrefix(line, dataPrefix)
		if !ok {
			continue
		}
		if bytes.HasPrefix(data, []byte("[DONE]")) {
			o.done = time.Since(start)
			return
		}
		if bytes.Contains(data, []byte(`"content":`)) {
			if o.tokens == 0 {
				o.ttft = time.Since(sent)
			}
			o.tokens++
		}
	}
}

// measured summarises one run over the window [from, to) of arrivals and completions.
type measured struct {
	offered     float64 // req/s offered
	completed   float64 // req/s completed in the window
	outTokens   float64 // tokens/s of the requests completed in the window
	ttft        [3]time.Duration
	censored    [3]bool // that percentile is a request still waiting at the cutoff (a lower bound)
	errors      int
	hitRate     float64
	share       []float64 // fraction of the window's requests per replica (simulator's count)
	preemptions int64
	// The gateways' prefix index at the end of the run, bytes (summed over pods; 0: no index).
	indexUsed, indexCap float64
}

func summarise(outs []outcome, from, to, cutoff time.Duration, offered float64) measured {
	m := measured{offered: offered}
	// Percentiles: a request still waiting at the cutoff sorts among the others by its lower
	// bound (cutoff - arrival); a percentile that lands on one is reported as a lower bound.
	type sample struct {
		d        time.Duration
		censored bool
	}
	var all []sample
	var completed, tokens int
	for _, o := range outs {
		if o.done >= from && o.done < to {
			completed++
			tokens += o.tokens
		}
		if o.at < from || o.at >= to {
			continue
		}
		switch {
		case o.err != nil:
			m.errors++
		case o.ttft > 0:
			all = append(all, sample{d: o.ttft})
		default:
			all = append(all, sample{d: cutoff - o.at, censored: true})
		}
	}
	secs := (to - from).Seconds()
	m.completed = float64(completed) / secs
	m.outTokens = float64(tokens) / secs
	slices.SortFunc(all, func(a, b sample) int { return int(a.d - b.d) })
	for k, p := range []float64{50, 90, 99} {
		if len(all) == 0 {
			break
		}
		i := max(0, min(len(all)-1, int(float64(len(all))*p/100+0.5)-1))
		m.ttft[k], m.censored[k] = all[i].d, all[i].censored
	}
	return m
}
