package vllmsim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fast are parameters that keep tests quick; no test asserts on wall-clock time.
func fast() Params {
	p := Defaults()
	p.TimeScale = 0.01
	return p
}

func start(t *testing.T, n int, p Params) *Sim {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = "127.0.0.1:0"
	}
	s, err := Start(Config{Addrs: addrs, Model: "sim-model", Params: p})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func post(t *testing.T, addr, path, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func chatBody(system, user string, maxTokens int, stream bool) string {
	b, _ := json.Marshal(map[string]any{"model": "sim-model", "max_tokens": maxTokens, "stream": stream,
		"messages": []Message{{Role: "system", Content: system}, {Role: "user", Content: user}}})
	return string(b)
}

func TestChatCompletionJSON(t *testing.T) {
	s := start(t, 1, fast())
	addr := s.Replicas[0].Addr()
	resp, body := post(t, addr, "/v1/chat/completions", chatBody("You are terse.", "Hello", 5, false))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, addr, resp.Header.Get(ReplicaHeader))
	var out struct {
		Object  string
		Model   string
		Choices []struct {
			Message      Message
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(body, &out))
	assert.Equal(t, "chat.completion", out.Object)
	assert.Equal(t, "sim-model", out.Model)
	prompt := RenderChat([]Message{{Role: "system", Content: "You are terse."}, {Role: "user", Content: "Hello"}})
	require.Len(t, out.Choices, 1)
	assert.Equal(t, Reply(prompt, 5), out.Choices[0].Message.Content)
	assert.Equal(t, "assistant", out.Choices[0].Message.Role)
	assert.Equal(t, "length", out.Choices[0].FinishReason)
	assert.Equal(t, 5, out.Usage.CompletionTokens)
	assert.Equal(t, Tokens(prompt), out.Usage.PromptTokens)
}

func TestCompletionJSONAndErrors(t *testing.T) {
	s := start(t, 1, fast())
	addr := s.Replicas[0].Addr()
	resp, body := post(t, addr, "/v1/completions", `{"model":"sim-model","prompt":"Once upon a time","max_tokens":3}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Contains(t, string(body), `"text":"`+Reply("Once upon a time", 3)+`"`)
	assert.Contains(t, string(body), `"object":"text_completion"`)

	resp, body = post(t, addr, "/v1/completions", `{"model":"other","prompt":"x"}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, string(body), "does not exist")
	resp, _ = post(t, addr, "/v1/chat/completions", `{"model":"sim-model","messages":[]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = post(t, addr, "/v1/chat/completions", `{`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	r, err := http.Get("http://" + addr + "/v1/models")
	require.NoError(t, err)
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	assert.Contains(t, string(b), `"id":"sim-model"`)
	r, err = http.Get("http://" + addr + "/health")
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusOK, r.StatusCode)
}

// readEvents returns the data payloads of an SSE stream, in order.
func readEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

func TestChatStreamsOneEventPerTokenThenDone(t *testing.T) {
	s := start(t, 1, fast())
	body := chatBody("sys", "Count", 7, true)
	body = strings.Replace(body, `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1)
	resp, err := http.Post("http://"+s.Replicas[0].Addr()+"/v1/chat/completions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	ev := readEvents(t, resp.Body)
	require.Len(t, ev, 7+2) // 7 tokens, the usage chunk, [DONE]
	assert.Equal(t, "[DONE]", ev[len(ev)-1])
	var text strings.Builder
	for i, e := range ev[:7] {
		var c struct {
			Object  string
			Choices []struct {
				Delta        Message
				FinishReason *string `json:"finish_reason"`
			}
		}
		require.NoError(t, json.Unmarshal([]byte(e), &c), e)
		assert.Equal(t, "chat.completion.chunk", c.Object)
		text.WriteString(c.Choices[0].Delta.Content)
		if i == 0 {
			assert.Equal(t, "assistant", c.Choices[0].Delta.Role)
		}
		if i == 6 {
			require.NotNil(t, c.Choices[0].FinishReason)
			assert.Equal(t, "length", *c.Choices[0].FinishReason)
		} else {
			assert.Nil(t, c.Choices[0].FinishReason)
		}
	}
	prompt := RenderChat([]Message{{Role: "system", Content: "sys"}, {Role: "user", Content: "Count"}})
	assert.Equal(t, Reply(prompt, 7), text.String())
	assert.Contains(t, ev[7], `"usage":{"prompt_tokens":`+itoa(Tokens(prompt))+`,"completion_tokens":7`)
	assert.Contains(t, ev[7], `"choices":[]`)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestCompletionStream(t *testing.T) {
	s := start(t, 1, fast())
	resp, err := http.Post("http://"+s.Replicas[0].Addr()+"/v1/completions", "application/json",
		strings.NewReader(`{"model":"sim-model","prompt":"abc","max_tokens":4,"stream":true}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	ev := readEvents(t, resp.Body)
	require.Len(t, ev, 5)
	assert.Contains(t, ev[0], `"object":"text_completion"`)
	assert.Equal(t, "[DONE]", ev[4])
}

// A repeated prompt hits the prefix cache for all its full blocks but the last token; a
// conversation's next turn hits the previous prompt and the reply.
func TestPrefixCacheAccounting(t *testing.T) {
	s := start(t, 1, fast())
	r := s.Replicas[0]
	system := strings.Repeat("You are a helpful assistant. ", 40) // ~1,120 bytes
	msgs := []Message{{Role: "system", Content: system}, {Role: "user", Content: "first question"}}
	body := func(m []Message) string {
		b, _ := json.Marshal(map[string]any{"model": "sim-model", "max_tokens": 40, "messages": m})
		return string(b)
	}
	post(t, r.Addr(), "/v1/chat/completions", body(msgs))
	st := r.Stats()
	p1 := RenderChat(msgs)
	assert.Equal(t, int64(Tokens(p1)), st.PrefixQueries)
	assert.Equal(t, int64(0), st.PrefixHits, "a cold cache hits nothing")

	post(t, r.Addr(), "/v1/chat/completions", body(msgs))
	st2 := r.Stats().Sub(st)
	assert.Equal(t, int64(len(BlockHashes(p1))*BlockTokens), st2.PrefixHits, "the same prompt hits every full block")

	// Next turn: history = previous prompt + reply (40 tokens), then a new user message.
	next := append(msgs, Message{Role: "assistant", Content: Reply(p1, 40)}, Message{Role: "user", Content: "and then?"})
	p2 := RenderChat(next)
	require.True(t, strings.HasPrefix(p2, p1+Reply(p1, 40)))
	before := r.Stats()
	post(t, r.Addr(), "/v1/chat/completions", body(next))
	st3 := r.Stats().Sub(before)
	assert.Equal(t, int64(len(BlockHashes(p1+Reply(p1, 40)))*BlockTokens), st3.PrefixHits,
		"the history (prompt and generated reply) is cached")
	assert.Equal(t, int64(3), r.Stats().Success)
}

// The KV pool is bounded: a working set larger than it evicts least recently used blocks.
func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newKVCache(4)
	a, b := []uint64{1, 2}, []uint64{3, 4}
	for _, h := range [][]uint64{a, b} {
		require.True(t, c.reserve(2))
		c.acquire(h, 0)
		c.release(h, 0, nil)
	}
	assert.Equal(t, 2, c.match(a))
	c.acquire(a, 0) // touch a: b is now least recently used
	c.release(a, 0, nil)
	require.True(t, c.reserve(2)) // evicts b
	c.acquire([]uint64{5, 6}, 0)
	assert.Equal(t, 0, c.match(b))
	assert.Equal(t, 2, c.match(a))
	assert.False(t, c.reserve(3), "pinned blocks are never evicted")
	assert.InDelta(t, 0.5, c.usage(), 1e-9)
}

// With MaxNumSeqs 1 requests run one at a time: the rest wait in FCFS order.
func TestQueueingRunsAtMostMaxNumSeqs(t *testing.T) {
	p := fast()
	p.MaxNumSeqs = 1
	s := start(t, 1, p)
	r := s.Replicas[0]
	const n = 4
	var (
		mu    sync.Mutex
		order = map[string]int{}
		wg    sync.WaitGroup
	)
	// The first request streams a very long answer, the rest queue behind it.
	resp, err := http.Post("http://"+r.Addr()+"/v1/completions", "application/json",
		strings.NewReader(`{"model":"sim-model","prompt":"first","max_tokens":100000000,"stream":true}`))
	require.NoError(t, err)
	br := bufio.NewReader(resp.Body)
	_, err = br.ReadString('\n') // the first token arrived: it is running
	require.NoError(t, err)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := post(t, r.Addr(), "/v1/completions", `{"model":"sim-model","prompt":"q`+itoa(i)+`","max_tokens":2}`)
			mu.Lock()
			order[resp.Header.Get(OrderHeader)] = i
			mu.Unlock()
		}()
		// Submit in order: wait until the engine has queued this one.
		require.Eventually(t, func() bool { return r.Stats().Waiting == i }, 10*time.Second, time.Millisecond)
	}
	st := r.Stats()
	assert.Equal(t, 1, st.Running)
	assert.Equal(t, n, st.Waiting)
	var m bytes.Buffer
	getMetrics(t, r.Addr(), &m)
	assert.Contains(t, m.String(), `vllm:num_requests_waiting{model_name="sim-model"} 4`)
	resp.Body.Close() // the client leaves: its sequence is dropped, the queue drains in order
	wg.Wait()
	// The long request started first (1); the queued ones followed in arrival order.
	assert.Equal(t, map[string]int{"2": 1, "3": 2, "4": 3, "5": 4}, order, "first come, first served")
	assert.Equal(t, int64(n), r.Stats().Success)
}

func getMetrics(t *testing.T, addr string, w io.Writer) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(w, resp.Body)
}

func TestMetricsParseWithVLLMNames(t *testing.T) {
	s := start(t, 1, fast())
	addr := s.Replicas[0].Addr()
	post(t, addr, "/v1/completions", `{"model":"sim-model","prompt":"`+strings.Repeat("x", 200)+`","max_tokens":3}`)
	var m bytes.Buffer
	getMetrics(t, addr, &m)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&m)
	require.NoError(t, err)
	for _, name := range []string{"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
		"vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total", "vllm:prompt_tokens_total",
		"vllm:generation_tokens_total", "vllm:time_to_first_token_seconds", "vllm:request_success_total",
		"vllm:num_preemptions_total"} {
		f, ok := fams[name]
		if assert.True(t, ok, name) {
			assert.Equal(t, "model_name", f.Metric[0].Label[len(f.Metric[0].Label)-1].GetName(), name)
		}
	}
	assert.Equal(t, 3.0, fams["vllm:generation_tokens_total"].Metric[0].GetCounter().GetValue())
	assert.Equal(t, 50.0, fams["vllm:prompt_tokens_total"].Metric[0].GetCounter().GetValue())
	assert.Equal(t, uint64(1), fams["vllm:time_to_first_token_seconds"].Metric[0].GetHistogram().GetSampleCount())
	assert.Equal(t, 1.0, fams["vllm:request_success_total"].Metric[0].GetCounter().GetValue())
}

// A client that leaves frees its slot: the engine drops the sequence.
func TestCancelledRequestIsDropped(t *testing.T) {
	p := fast()
	p.MaxNumSeqs = 1
	s := start(t, 1, p)
	r := s.Replicas[0]
	c, err := net.Dial("tcp", r.Addr())
	require.NoError(t, err)
	body := `{"model":"sim-model","prompt":"long","max_tokens":100000,"stream":true}`
	_, err = io.WriteString(c, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.Stats().Running == 1 }, 10*time.Second, time.Millisecond)
	c.Close()
	require.Eventually(t, func() bool { return r.Stats().Running == 0 }, 10*time.Second, time.Millisecond)
	resp, _ := post(t, r.Addr(), "/v1/completions", `{"model":"sim-model","prompt":"next","max_tokens":2}`)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, s.Reset())
	assert.Equal(t, int64(0), r.Stats().Success)
}

func TestFaults(t *testing.T) {
	s := start(t, 1, fast())
	r := s.Replicas[0]
	ok := `{"model":"sim-model","prompt":"x","max_tokens":1}`

	require.NoError(t, r.SetFault(Fault{Mode: FaultRefuse}))
	_, err := net.Dial("tcp", r.Addr())
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "refused: %v", err)

	require.NoError(t, r.SetFault(Fault{Mode: FaultResetOnAccept}))
	_, err = (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Post("http://"+r.Addr()+"/v1/completions", "application/json", strings.NewReader(ok))
	assert.Error(t, err, "reset on accept")

	require.NoError(t, r.SetFault(Fault{Mode: FaultResetAfterRequest}))
	_, err = (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Post("http://"+r.Addr()+"/v1/completions", "application/json", strings.NewReader(ok))
	assert.Error(t, err, "reset after the request was read")
	assert.Equal(t, int64(0), r.Stats().Received, "the engine never saw it")

	require.NoError(t, r.SetFault(Fault{Delay: time.Millisecond}))
	resp, _ := post(t, r.Addr(), "/v1/completions", ok)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// Preemption: a KV pool too small for the running batch's growth preempts and recomputes,
// and every request still completes with its full output.
func TestPreemptionRecomputes(t *testing.T) {
	p := fast()
	p.KVBlocks = 6 // 96 tokens for everyone
	s := start(t, 1, p)
	r := s.Replicas[0]
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := post(t, r.Addr(), "/v1/completions", `{"model":"sim-model","prompt":"p`+itoa(i)+`","max_tokens":40}`)
			assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		}()
	}
	wg.Wait()
	st := r.Stats()
	assert.Equal(t, int64(3), st.Success)
	assert.Equal(t, int64(120), st.GenerationTokens, "recompute does not generate tokens twice")
	assert.Positive(t, st.Preemptions, "three 40-token answers cannot all grow in 96 tokens of KV")
}

func TestConsecutiveAddresses(t *testing.T) {
	got, err := Consecutive("127.0.1.254", 8000, 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.1.254:8000", "127.0.1.255:8000", "127.0.2.0:8000"}, got)
	_, err = Consecutive("::1", 8000, 1)
	assert.Error(t, err)
	_, err = Consecutive("127.0.1.1", 8000, 0)
	assert.Error(t, err)
}

// TestAdapters: an adapter is served by name (the answer echoes it), counted per adapter,
// listed by /v1/models with its parent, and its prompts cache apart from the base model's.
func TestAdapters(t *testing.T) {
	s, err := Start(Config{Addrs: []string{"127.0.0.1:0"}, Model: "base", Adapters: []string{"sql-lora"}, Params: fast()})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	r := s.Replicas[0]
	body := strings.Replace(chatBody("You are terse.", "Hello", 3, false), `"sim-model"`, `"sql-lora"`, 1)
	resp, out := post(t, r.Addr(), "/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
	assert.Contains(t, string(out), `"model":"sql-lora"`)
	assert.Equal(t, int64(1), r.Served("sql-lora"))
	// The same prompt for the base model finds nothing cached: the adapter's blocks are its own.
	hitsBefore := r.Stats().PrefixHits
	resp, out = post(t, r.Addr(), "/v1/chat/completions", strings.Replace(body, `"sql-lora"`, `"base"`, 1))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
	assert.Equal(t, hitsBefore, r.Stats().PrefixHits)
	resp, out = post(t, r.Addr(), "/v1/chat/completions", strings.Replace(body, `"sql-lora"`, `"other-lora"`, 1))
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, string(out))

	resp, err = http.Get("http://" + r.Addr() + "/v1/models")
	require.NoError(t, err)
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID     string  `json:"id"`
			Parent *string `json:"parent"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	require.Len(t, list.Data, 2)
	assert.Equal(t, "base", list.Data[0].ID)
	assert.Nil(t, list.Data[0].Parent)
	assert.Equal(t, "sql-lora", list.Data[1].ID)
	require.NotNil(t, list.Data[1].Parent)
	assert.Equal(t, "base", *list.Data[1].Parent)
}

// TestDrainFinishesRunningRequestsAndRefusesNewOnes: vLLM's graceful shutdown.
func TestDrainFinishesRunningRequestsAndRefusesNewOnes(t *testing.T) {
	p := Defaults()
	p.DecodeStep = 10 * time.Millisecond
	s := start(t, 1, p)
	r := s.Replicas[0]
	done := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+r.Addr()+"/v1/chat/completions", "application/json", strings.NewReader(chatBody("", "long", 100, false)))
		if err != nil {
			done <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		done <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return r.Stats().Running == 1 }, 10*time.Second, 5*time.Millisecond)
	r.Drain()
	resp, body := post(t, r.Addr(), "/v1/chat/completions", chatBody("", "new", 1, false))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a draining replica refuses new requests: %s", body)
	assert.Equal(t, http.StatusOK, <-done, "the running request finished")
	assert.Equal(t, int64(1), r.Stats().Success)
}
