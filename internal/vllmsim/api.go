package vllmsim

// The OpenAI API a replica serves, as vLLM answers it.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

type apiRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Prompt              json.RawMessage `json:"prompt"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// apiError writes vLLM's error body.
func apiError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": code})
}

func (r *Replica) handleChat(w http.ResponseWriter, req *http.Request) {
	r.handle(w, req, true)
}

func (r *Replica) handleCompletion(w http.ResponseWriter, req *http.Request) {
	r.handle(w, req, false)
}

func (r *Replica) handle(w http.ResponseWriter, req *http.Request, chat bool) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	if !r.admit(w, req) {
		return
	}
	var ar apiRequest
	if err := json.Unmarshal(body, &ar); err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestError", "invalid JSON: "+err.Error())
		return
	}
	quote, salt, ok := r.resolveModel(ar.Model)
	if !ok {
		apiError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", ar.Model))
		return
	}
	prompt, err := ar.prompt(chat)
	if err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestError", err.Error())
		return
	}
	maxTokens, err := ar.maxTokens()
	if err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestError", err.Error())
		return
	}
	s := &seq{prompt: prompt, promptTokens: Tokens(prompt), hashes: BlockHashes(salt + prompt),
		maxTokens: maxTokens, arrived: time.Now(), notify: make(chan struct{}, 1)}
	r.eng.submit(s)
	id := strconv.FormatInt(r.ids.Add(1), 10)
	if chat {
		id = "chatcmpl-" + id
	} else {
		id = "cmpl-" + id
	}
	w.Header().Set(ReplicaHeader, r.addr)
	if ar.Stream {
		r.stream(w, req, s, id, quote, chat, ar.StreamOptions != nil && ar.StreamOptions.IncludeUsage)
		return
	}
	r.answer(w, req, s, id, quote, chat)
}

// resolveModel is the JSON string of the model or LoRA adapter a request names and the salt of
// its prompt's KV blocks; false when neither is served. It counts the adapter's requests.
func (r *Replica) resolveModel(name string) (quote []byte, salt string, ok bool) {
	if name == r.model {
		return r.quote, "", true
	}
	q, ok := r.adapters[name]
	if !ok {
		return nil, "", false
	}
	r.eng.mu.Lock()
	r.served[name]++
	r.eng.mu.Unlock()
	return q, "lora:" + name + "\n", true
}

// prompt is what the model reads: the rendered chat, or the completion's prompt (a string, or
// a list of one string).
func (ar *apiRequest) prompt(chat bool) (string, error) {
	if chat {
		if len(ar.Messages) == 0 {
			return "", errors.New("messages: at least one message is required")
		}
		return RenderChat(ar.Messages), nil
	}
	var prompt string
	if err := json.Unmarshal(ar.Prompt, &prompt); err != nil {
		var list []string
		if json.Unmarshal(ar.Prompt, &list) != nil || len(list) != 1 {
			return "", errors.New("prompt: a string (or a list of one string) is required")
		}
		prompt = list[0]
	}
	return prompt, nil
}

// maxTokens is the output length asked for (max_completion_tokens over max_tokens).
func (ar *apiRequest) maxTokens() (int, error) {
	n := DefaultMaxTokens
	for _, p := range []*int{ar.MaxTokens, ar.MaxCompletionTokens} {
		if p != nil {
			n = *p
		}
	}
	if n < 1 {
		return 0, errors.New("max_tokens must be at least 1")
	}
	return n, nil
}

// answer waits until s is done and writes the whole completion (the non-streamed answer).
func (r *Replica) answer(w http.ResponseWriter, req *http.Request, s *seq, id string, quote []byte, chat bool) {
	if !r.wait(req, s, func() {}) {
		return
	}
	if s.err != nil {
		apiError(w, http.StatusBadRequest, "BadRequestError", s.err.Error())
		return
	}
	w.Header().Set(OrderHeader, strconv.FormatInt(s.admitted, 10))
	text, _ := json.Marshal(Reply(s.prompt, s.generated))
	usage := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`,
		s.promptTokens, s.generated, s.promptTokens+s.generated)
	var out string
	if chat {
		out = fmt.Sprintf(`{"id":%q,"object":"chat.completion","created":%d,"model":%s,"choices":[{"index":0,`+
			`"message":{"role":"assistant","content":%s},"logprobs":null,"finish_reason":"length"}],"usage":%s}`,
			id, time.Now().Unix(), quote, text, usage)
	} else {
		out = fmt.Sprintf(`{"id":%q,"object":"text_completion","created":%d,"model":%s,"choices":[{"index":0,`+
			`"text":%s,"logprobs":null,"finish_reason":"length"}],"usage":%s}`, id, time.Now().Unix(), quote, text, usage)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, out)
}

// wait blocks until s is done, calling progress on every change; false when the client left
// (the sequence is then cancelled).
func (r *Replica) wait(req *http.Request, s *seq, progress func()) bool {
	for {
		r.eng.mu.Lock()
		done := s.done
		r.eng.mu.Unlock()
		progress()
		if done {
			return true
		}
		select {
		case <-s.notify:
		case <-req.Context().Done():
			r.eng.cancel(s)
			return false
		}
	}
}

// stream answers with server-sent events, one per generated token, as vLLM does.
func (r *Replica) stream(w http.ResponseWriter, req *http.Request, s *seq, id string, quote []byte, chat, usage bool) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	created := strconv.FormatInt(time.Now().Unix(), 10)
	object := "text_completion"
	if chat {
		object = "chat.completion.chunk"
	}
	pre := `data: {"id":"` + id + `","object":"` + object + `","created":` + created + `,"model":` + string(quote) + `,"choices":[`
	head := pre + `{"index":0,`
	if chat {
		head += `"delta":{`
	}
	h := seedOf(s.prompt)
	sent := 0
	var buf []byte
	ok := r.wait(req, s, func() {
		r.eng.mu.Lock()
		n, done, err := s.generated, s.done, s.err
		r.eng.mu.Unlock()
		if err != nil {
			return
		}
		buf = buf[:0]
		for ; sent < n; sent++ {
			buf = append(buf, head...)
			if chat {
				if sent == 0 {
					buf = append(buf, `"role":"assistant",`...)
				}
				buf = append(buf, `"content":"`...)
				buf = append(buf, word(h, sent)...)
				buf = append(buf, `"},"logprobs":null,"finish_reason":`...)
			} else {
				buf = append(buf, `"text":"`...)
				buf = append(buf, word(h, sent)...)
				buf = append(buf, `","logprobs":null,"finish_reason":`...)
			}
			if done && sent == n-1 {
				buf = append(buf, `"length"}]}`...)
			} else {
				buf = append(buf, `null}]}`...)
			}
			buf = append(buf, "\n\n"...)
		}
		if len(buf) > 0 {
			_, _ = w.Write(buf)
			_ = rc.Flush()
		}
	})
	if !ok {
		return
	}
	if s.err != nil {
		// Headers are gone already: report the error as vLLM does in a stream.
		fmt.Fprintf(w, "data: {\"error\":{\"object\":\"error\",\"message\":%q,\"type\":\"BadRequestError\",\"code\":400}}\n\n", s.err.Error())
	} else if usage {
		fmt.Fprintf(w, "%s],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n",
			pre, s.promptTokens, s.generated, s.promptTokens+s.generated)
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	_ = rc.Flush()
}

func (r *Replica) handleModels(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	now := time.Now().Unix()
	var b strings.Builder
	fmt.Fprintf(&b, `{"object":"list","data":[{"id":%s,"object":"model","created":%d,"owned_by":"vllm","root":%s,"parent":null,"max_model_len":%d}`,
		r.quote, now, r.quote, r.eng.p.KVBlocks*BlockTokens)
	names := make([]string, 0, len(r.adapters))
	for a := range r.adapters {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		// vLLM lists an adapter with its path as root and the base model as parent.
		fmt.Fprintf(&b, `,{"id":%s,"object":"model","created":%d,"owned_by":"vllm","root":%s,"parent":%s,"max_model_len":null}`,
			r.adapters[a], now, r.adapters[a], r.quote)
	}
	b.WriteString("]}")
	_, _ = io.WriteString(w, b.String())
}

func (r *Replica) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	r.eng.mu.Lock()
	m := r.met
	running, waiting, kv := r.eng.snapshot()
	r.eng.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writeMetrics(w, r.model, &m, running, waiting, kv)
}
