package main

// The client side of the capacity run: the offered streams and how each one ended.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// capacityOutcome is one offered stream's end.
type capacityOutcome int

const (
	outComplete   capacityOutcome = iota // 200, every event and [DONE]
	outOverloaded                        // 503 server_overloaded with Retry-After
	outNoAnswer                          // connection reset / closed / timed out before a status line
	outCut                               // 200 but the stream ended early
	outOther                             // any other status or a malformed 503
)

// capacityTally counts the offered streams' outcomes and keeps the first message of each
// kind of failure.
type capacityTally struct {
	counts   [5]atomic.Int64
	mu       sync.Mutex
	firstBad map[capacityOutcome]string
}

func newCapacityTally() *capacityTally {
	return &capacityTally{firstBad: map[capacityOutcome]string{}}
}

func (t *capacityTally) note(o capacityOutcome, msg string) {
	t.counts[o].Add(1)
	if o >= outNoAnswer {
		t.mu.Lock()
		if _, ok := t.firstBad[o]; !ok {
			t.firstBad[o] = msg
		}
		t.mu.Unlock()
	}
}

// failures are the offered streams that ended neither complete nor with a 503 answer.
func (t *capacityTally) failures() int64 {
	return t.counts[outNoAnswer].Load() + t.counts[outCut].Load() + t.counts[outOther].Load()
}

// capacityRequest is the raw HTTP request of one offered stream, its body padded to about
// bodyBytes.
func capacityRequest(bodyBytes int) string {
	body := streamBody
	if pad := bodyBytes - len(body); pad > 0 {
		body = []byte(`{"model":"bench-model-b","stream":true,"messages":[{"role":"user","content":"` +
			strings.Repeat("x", pad) + `"}]}`)
	}
	return "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
}

// offerStreams opens every offered stream, at most cc.dialConcurrency connection attempts at
// once; answered is done once each has its answer (first event or status), finished once each
// has ended.
func offerStreams(listen string, cc capacityConfig, tally *capacityTally) (answered, finished *sync.WaitGroup) {
	answered, finished = new(sync.WaitGroup), new(sync.WaitGroup)
	dials := make(chan struct{}, cc.dialConcurrency)
	req := capacityRequest(cc.bodyBytes)
	for range cc.offered {
		answered.Add(1)
		finished.Add(1)
		go func() {
			defer finished.Done()
			var once sync.Once
			ready := func() { once.Do(answered.Done) }
			defer ready()
			offerStream(listen, req, cc.events, dials, ready, tally)
		}()
	}
	return answered, finished
}

// offerStream sends one offered stream's request and reads its answer to the end.
func offerStream(listen, req string, events int, dials chan struct{}, ready func(), tally *capacityTally) {
	dials <- struct{}{}
	c, err := net.DialTimeout("tcp", listen, 30*time.Second)
	<-dials
	if err != nil {
		tally.note(outNoAnswer, "dial: "+err.Error())
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
	if _, err := io.WriteString(c, req); err != nil {
		tally.note(outNoAnswer, "write: "+err.Error())
		return
	}
	tally.note(readStream(bufio.NewReader(c), events, ready))
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
