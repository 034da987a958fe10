package vllmsim

import (
	"errors"
	"sync"
	"time"
)

// seq is one request inside a replica's engine.
type seq struct {
	prompt       string
	promptTokens int
	hashes       []uint64 // chained hashes of the prompt's full blocks
	maxTokens    int
	arrived      time.Time

	// Guarded by the engine's lock.
	generated int  // tokens produced so far (what the handler may stream)
	remaining int  // prompt (and recomputed) tokens still to prefill; 0 while decoding
	anon      int  // anonymous blocks held: the partial last prompt block and decode blocks
	pinned    bool // holds blocks in the KV cache
	done      bool
	cancelled bool
	err       error
	firstAt   time.Time // when the first token was produced
	admitted  int64     // the engine's admission count when it first started (1, 2, ...)

	notify chan struct{} // capacity 1: something changed
}

func (s *seq) context() int { return s.promptTokens + s.generated }

// signal wakes the request's handler without blocking.
func (s *seq) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// maxLag is how far the engine's clock may fall behind wall-clock time and still catch up.
const maxLag = time.Second

// errTooLong: the prompt does not fit in the whole KV cache (vLLM refuses such a prompt).
var errTooLong = errors.New("the prompt needs more KV blocks than the replica has")

// engine is one replica's scheduler: continuous batching with at most MaxNumSeqs running,
// one prefill at a time (chunked by ChunkTokens), FCFS admission with head-of-line blocking
// when KV blocks are short, recompute preemption of the newest sequence when a decoding
// sequence needs a block and none can be freed.
type engine struct {
	p   Params
	mu  sync.Mutex
	kv  *kvCache
	met *metrics

	waiting    []*seq
	prefilling *seq
	decoding   []*seq // in admission order
	wake       chan struct{}
	stop       chan struct{}
	stopped    chan struct{}
	clock      time.Time // the simulated GPU's time, in wall-clock terms (end of the last step)
	admissions int64
}

func newEngine(p Params, met *metrics) *engine {
	e := &engine{p: p, kv: newKVCache(p.KVBlocks), met: met,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go e.run()
	return e
}

func (e *engine) submit(s *seq) {
	e.mu.Lock()
	e.waiting = append(e.waiting, s)
	e.met.received++
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// cancel marks s abandoned by its client; the engine drops it at its next step.
func (e *engine) cancel(s *seq) {
	e.mu.Lock()
	if !s.done {
		s.cancelled = true
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *engine) close() {
	close(e.stop)
	<-e.stopped
}

// run is the engine loop: plan a step, let its simulated time pass, apply it.
func (e *engine) run() {
	defer close(e.stopped)
	for {
		e.mu.Lock()
		chunk, d := e.plan()
		e.mu.Unlock()
		if d == 0 {
			e.clock = time.Time{} // idle: the next step starts when work arrives
			select {
			case <-e.wake:
				continue
			case <-e.stop:
				return
			}
		}
		if !e.sleep(e.p.real(d)) {
			return
		}
		e.mu.Lock()
		e.apply(chunk)
		e.mu.Unlock()
	}
}

// sleep waits until the end of a step of wall-clock length d. Steps are laid end to end on
// the engine's clock, so a late wake-up (timer slack, a process starved on a busy machine)
// shortens the next waits instead of slowing the simulated GPU, up to maxLag behind; after an
// idle spell the clock restarts at now.
func (e *engine) sleep(d time.Duration) bool {
	now := time.Now()
	if e.clock.IsZero() || now.Sub(e.clock) > maxLag {
		e.clock = now
	}
	e.clock = e.clock.Add(d)
	if wait := time.Until(e.clock); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-e.stop:
			return false
		}
	}
	return true
}

// plan drops cancelled sequences, admits the next waiting one if it can, and returns the
// prefill tokens and the simulated duration of the next step (0: nothing to do).
func (e *engine) plan() (chunk int, d time.Duration) {
	e.dropCancelled()
	if e.prefilling == nil {
		e.admit()
	}
	if e.prefilling != nil {
		chunk = min(e.prefilling.remaining, max(1, e.p.ChunkTokens-len(e.decoding)))
		d += e.p.prefillTime(chunk)
	}
	if len(e.decoding) > 0 {
		d += e.p.DecodeStep
	}
	return chunk, d
}

func (e *engine) dropCancelled() {
	keep := e.waiting[:0]
	for _, s := range e.waiting {
		if s.cancelled {
			e.finish(s, nil, false)
			continue
		}
		keep = append(keep, s)
	}
	clear(e.waiting[len(keep):])
	e.waiting = keep
	if s := e.prefilling; s != nil && s.cancelled {
		e.prefilling = nil
		e.finish(s, nil, false)
	}
	live := e.decoding[:0]
	for _, s := range e.decoding {
		if s.cancelled {
			e.finish(s, nil, false)
			continue
		}
		live = append(live, s)
	}
	clear(e.decoding[len(live):])
	e.decoding = live
}

// admit starts the prefill of the head of the queue if a slot and its blocks are free.
func (e *engine) admit() {
	if len(e.waiting) == 0 || len(e.decoding)+1 > e.p.MaxNumSeqs {
		return
	}
	s := e.waiting[0]
	blocksNeeded := (s.context() + BlockTokens - 1) / BlockTokens
	if blocksNeeded > e.kv.capacity {
		e.waiting = e.waiting[1:]
		e.finish(s, errTooLong, false)
		return
	}
	hit := e.kv.match(s.hashes)
	e.kv.acquire(s.hashes[:hit], 0)
	anon := blocksNeeded - len(s.hashes)
	if !e.kv.reserve(len(s.hashes) - hit + anon) {
		e.kv.release(s.hashes[:hit], 0, nil)
		return // head-of-line: wait for running sequences to free blocks
	}
	e.kv.acquire(s.hashes[hit:], anon)
	s.pinned, s.anon = true, anon
	e.waiting = e.waiting[1:]
	// vLLM counts prefix-cache queries and hits in tokens; the last prompt token is always
	// computed (its logits give the first output token).
	hitTokens := min(hit*BlockTokens, s.promptTokens-1)
	e.met.prefixQueries += int64(s.promptTokens)
	e.met.prefixHits += int64(hitTokens)
	s.remaining = s.context() - hitTokens
	e.prefilling = s
	if s.admitted == 0 {
		e.admissions++
		s.admitted = e.admissions
	}
}

// apply makes a planned step happen: every decoding sequence gets a token, the prefilling
// one advances by chunk tokens (and gets its first token when done).
func (e *engine) apply(chunk int) {
	e.dropCancelled() // a client that left during the step gets nothing more
	for i := 0; i < len(e.decoding); i++ {
		s := e.decoding[i]
		if s.context()%BlockTokens == 0 && !e.kv.grow() {
			// No free block: preempt the newest running sequence (vLLM's recompute
			// preemption) until this one fits or is itself the one preempted.
			victim := e.decoding[len(e.decoding)-1]
			e.preempt(victim)
			if victim == s {
				break
			}
			i--
			continue
		}
		if s.context()%BlockTokens == 0 {
			s.anon++
		}
		e.emit(s)
	}
	if s := e.prefilling; s != nil && chunk > 0 {
		s.remaining -= chunk
		if s.remaining <= 0 {
			s.remaining = 0
			e.prefilling = nil
			if s.generated == 0 {
				s.firstAt = time.Now()
				e.met.observeTTFT(s.firstAt.Sub(s.arrived).Seconds() / e.p.TimeScale)
			}
			e.met.promptTokens += int64(s.promptTokens)
			if e.emit(s) {
				e.decoding = append(e.decoding, s)
			}
		}
	}
	live := e.decoding[:0]
	for _, s := range e.decoding {
		if !s.done {
			live = append(live, s)
		}
	}
	clear(e.decoding[len(live):])
	e.decoding = live
}

// emit gives s one more token; false when that was its last.
func (e *engine) emit(s *seq) bool {
	s.generated++
	e.met.generationTokens++
	if s.generated >= s.maxTokens {
		e.finish(s, nil, true)
		e.met.success++
		return false
	}
	s.signal()
	return true
}

// preempt frees a decoding sequence's blocks and puts it back at the head of the queue; it
// will recompute its prompt and what it generated so far (less what is still cached).
func (e *engine) preempt(s *seq) {
	for i, d := range e.decoding {
		if d == s {
			e.decoding = append(e.decoding[:i], e.decoding[i+1:]...)
			break
		}
	}
	e.kv.release(s.hashes, s.anon, nil)
	s.pinned, s.anon = false, 0
	e.waiting = append([]*seq{s}, e.waiting...)
	e.met.preemptions++
}

// finish ends s: success (its generated blocks join the prefix cache), error or cancel.
func (e *engine) finish(s *seq, err error, completed bool) {
	if s.pinned {
		var extra []uint64
		if completed {
			full := BlockHashes(s.prompt + Reply(s.prompt, s.generated))
			extra = full[len(s.hashes):]
		}
		e.kv.release(s.hashes, s.anon, extra)
		s.pinned, s.anon = false, 0
	}
	s.done, s.err = true, err
	s.signal()
}

// snapshot returns the gauges /metrics reports.
func (e *engine) snapshot() (running, waiting int, kvUsage float64) {
	running = len(e.decoding)
	if e.prefilling != nil {
		running++
	}
	return running, len(e.waiting), e.kv.usage()
}

// reset empties the prefix cache and the counters; only between runs, with nothing in flight.
func (e *engine) reset() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.waiting)+len(e.decoding) > 0 || e.prefilling != nil {
		return errors.New("requests still in flight")
	}
	e.kv = newKVCache(e.p.KVBlocks)
	*e.met = metrics{}
	return nil
}
