package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ---------------------------------------------------------------------------------------
// Load generator: raw HTTP/1.1 over keep-alive TCP connections, one goroutine each, closed
// loop. It does the minimum per request (one write, buffered reads, no allocation in the
// steady state) so that, on a small machine, as much CPU as possible stays with the servers.

var chatRequest = httpRequest(chatBody)

// httpRequest is the raw HTTP/1.1 request that posts body as a chat completion.
func httpRequest(body []byte) []byte {
	return []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
}

type result struct {
	requests int
	errors   int
	cpuTicks int64 // nginx (master + workers) CPU clock ticks spent during the run
	elapsed  time.Duration
	lat      []time.Duration
	sorted   bool
}

func (r *result) merge(o *result) {
	r.requests += o.requests
	r.errors += o.errors
	r.cpuTicks += o.cpuTicks
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
	r.sorted = false
}

func (r *result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r *result) pct(p float64) time.Duration {
	if !r.sorted {
		slices.Sort(r.lat)
		r.sorted = true
	}
	return pct(r.lat, p)
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func load(addr string, conns int, d time.Duration, req []byte) (*result, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		total    = &result{}
		firstErr atomic.Value
	)
	stop := time.Now().Add(d)
	start := time.Now()
	for range conns {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1<<14)
			n, errs := 0, 0
			var c *client
			for time.Now().Before(stop) {
				if c == nil {
					var err error
					if c, err = dial(addr); err != nil {
						errs++
						firstErr.CompareAndSwap(nil, err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
				}
				t0 := time.Now()
				status, keep, err := c.roundTrip(req)
				if err != nil || status != http.StatusOK {
					errs++
					if err == nil {
						err = fmt.Errorf("status %d", status)
					}
					firstErr.CompareAndSwap(nil, err)
					c.close()
					c = nil
					continue
				}
				lat = append(lat, time.Since(t0))
				n++
				if !keep {
					c.close()
					c = nil
				}
			}
			if c != nil {
				c.close()
			}
			mu.Lock()
			total.requests += n
			total.errors += errs
			total.lat = append(total.lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	if total.errors > 0 && total.errors*100 > total.requests {
		return total, fmt.Errorf("%d errors in %d requests, first: %v", total.errors, total.requests, firstErr.Load())
	}
	return total, nil
}

// check sends the benchmark request req once and verifies the answer is the backend's.
func check(addr string, req []byte) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.close()
	if _, err := c.c.Write(req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, completion) {
		return fmt.Errorf("unexpected answer %d %s", resp.StatusCode, body)
	}
	return nil
}

// streamOnce opens a streamed completion and returns how long after the backend flushed the
// first event the client read it.
func streamOnce(addr string, be *backend) (time.Duration, error) {
	c, err := dial(addr)
	if err != nil {
		return 0, err
	}
	defer c.close()
	_ = c.c.SetDeadline(time.Now().Add(20 * time.Second))
	req := "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(streamBody)) + "\r\n\r\n" + string(streamBody)
	if _, err := io.WriteString(c.c, req); err != nil {
		return 0, err
	}
	var got time.Time
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, fmt.Errorf("before the first event: %w", err)
		}
		if bytes.HasPrefix(line, []byte("data: ")) {
			got = time.Now()
			break
		}
	}
	var sent time.Time
	select {
	case sent = <-be.sent:
	case <-time.After(10 * time.Second):
		return 0, errors.New("backend did not report its flush")
	}
	be.ack <- struct{}{}
	rest, err := io.ReadAll(c.r)
	if err != nil {
		return 0, err
	}
	if !bytes.Contains(rest, []byte("[DONE]")) {
		return 0, fmt.Errorf("stream incomplete: %q", rest)
	}
	return got.Sub(sent), nil
}
