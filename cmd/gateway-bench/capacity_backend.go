package main

// The fake model server of the capacity run: it streams -events chunks -interval apart and
// holds every admitted stream after its first event until the bench releases them.

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

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
