package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/llm-platform/llm-platform/internal/vllmsim"
)

// workloadConfig shapes the generated requests; every field has a flag.
type workloadConfig struct {
	prefixes     int     // distinct long system prompts (shared prefixes)
	prefixTokens int     // tokens per system prompt
	zipf         float64 // popularity skew of the prompts (0 = uniform)
	active       int     // conversations in progress at any time
	maxTurns     int     // a conversation has 1..maxTurns turns
	userTokens   [2]int  // a user message's tokens: uniform in [min, max]
	outTokens    [2]int  // max_tokens (the simulator always generates exactly that many)
}

// request is one generated request: its body and what the measurement needs to know.
type request struct {
	body     []byte
	prompt   string // rendered prompt, as the simulator sees it
	firstKey uint64 // hash of the prompt's first block (the client-side hash target's key)
	out      int
}

// vocabulary for generated text: short words of varied length.
var vocabulary = strings.Fields(`the of and to in is was for on that with as by at from his her
an be this are or which it not have one had they you were their all has been would there more
when who will so said can what about into than its only other new some could time these two may
then do first any my now such like our over man me even most made after also did many before
must through back years where much your way well down should because each just those people how
too little state good very make world still own see men work long get here between both life
being under never day same another know while last might us great old year off come since against
go came right used take three himself few house use during without again place around however
home small found thought went say part once general high upon school every don does got united left
number course war until always away something fact though water less public put think almost hand
enough far took head yet government system better set told nothing night end why called didn
eyes find going look asked later knew point next program city business give group toward young
days let room president side social given present several order national possible rather second
face per among form important often things looking early white case john become large big need
four within felt along children saw best church ever least power development light thing seemed
family interest want members mind country area others done turned although open god service
certain kind problem began different door thus help sense means whole matter perhaps itself`)

// words returns text of about n tokens (n x BytesPerToken bytes) of pseudo-random words.
func words(r *rand.Rand, n int) string {
	var b strings.Builder
	want := n * vllmsim.BytesPerToken
	for b.Len() < want {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocabulary[r.IntN(len(vocabulary))])
	}
	return b.String()[:want]
}

func between(r *rand.Rand, lim [2]int) int { return lim[0] + r.IntN(lim[1]-lim[0]+1) }

// zipfPicker draws indexes 0..n-1 with P(i) proportional to 1/(i+1)^s.
type zipfPicker struct{ cdf []float64 }

func newZipf(n int, s float64) zipfPicker {
	z := zipfPicker{cdf: make([]float64, n)}
	total := 0.0
	for i := range n {
		total += 1 / math.Pow(float64(i+1), s)
		z.cdf[i] = total
	}
	for i := range z.cdf {
		z.cdf[i] /= total
	}
	return z
}

func (z zipfPicker) pick(r *rand.Rand) int {
	u := r.Float64()
	for i, c := range z.cdf {
		if u <= c {
			return i
		}
	}
	return len(z.cdf) - 1
}

// sharedWorkload is n requests from many users: a few long system prompts (some more popular
// than others), each conversation growing turn by turn (its history is a shared prefix of its
// next turn). Conversations run interleaved: each arrival continues one of `active`
// conversations at random; a finished conversation is replaced by a new one. The simulator's
// replies are deterministic, so the history is known without waiting for the answers.
func sharedWorkload(cfg workloadConfig, model string, n int, seed uint64) []request {
	r := rand.New(rand.NewPCG(seed, 1))
	systems := make([]string, cfg.prefixes)
	for i := range systems {
		// A distinct head for every prompt, so no two share their first block.
		systems[i] = fmt.Sprintf("You are assistant #%d. ", i) + words(r, cfg.prefixTokens)
	}
	z := newZipf(cfg.prefixes, cfg.zipf)
	type conversation struct {
		msgs  []vllmsim.Message
		turns int
	}
	user := 0
	newConversation := func() *conversation {
		user++
		return &conversation{
			msgs:  []vllmsim.Message{{Role: "system", Content: systems[z.pick(r)]}},
			turns: 1 + r.IntN(cfg.maxTurns),
		}
	}
	pool := make([]*conversation, cfg.active)
	for i := range pool {
		pool[i] = newConversation()
	}
	out := make([]request, 0, n)
	for range n {
		i := r.IntN(len(pool))
		c := pool[i]
		c.msgs = append(c.msgs, vllmsim.Message{Role: "user", Content: fmt.Sprintf("[user %d] ", user) + words(r, between(r, cfg.userTokens))})
		req := chatRequest(model, c.msgs, between(r, cfg.outTokens))
		out = append(out, req)
		c.msgs = append(c.msgs, vllmsim.Message{Role: "assistant", Content: vllmsim.Reply(req.prompt, req.out)})
		if c.turns--; c.turns == 0 {
			pool[i] = newConversation()
		}
	}
	return out
}

// uniqueWorkload is n single-turn requests sharing nothing: each prompt as long as a
// shared-workload request's first turn (a system prompt and a mid-sized user message), all its
// own. Every request has the same size (prompt and answer), so a difference in throughput
// between targets is how evenly they spread the work, not which requests they happened to get.
func uniqueWorkload(cfg workloadConfig, model string, n int, seed uint64) []request {
	r := rand.New(rand.NewPCG(seed, 2))
	user := (cfg.userTokens[0] + cfg.userTokens[1]) / 2
	answer := (cfg.outTokens[0] + cfg.outTokens[1]) / 2
	out := make([]request, 0, n)
	for i := range n {
		msgs := []vllmsim.Message{
			{Role: "system", Content: fmt.Sprintf("Request %08d. ", i) + words(r, cfg.prefixTokens)},
			{Role: "user", Content: words(r, user)},
		}
		out = append(out, chatRequest(model, msgs, answer))
	}
	return out
}

func chatRequest(model string, msgs []vllmsim.Message, maxTokens int) request {
	body, err := json.Marshal(map[string]any{"model": model, "messages": msgs, "max_tokens": maxTokens, "stream": true})
	if err != nil {
		panic(err) // strings and ints only
	}
	prompt := vllmsim.RenderChat(msgs)
	var key uint64
	if h := vllmsim.BlockHashes(prompt); len(h) > 0 {
		key = h[0]
	}
	return request{body: body, prompt: prompt, firstKey: key, out: maxTokens}
}

// footprint is the number of distinct prompt-and-reply tokens in reqs (what a cache holding
// everything would hold), counted in full blocks.
func footprint(reqs []request) int {
	seen := map[uint64]bool{}
	for _, q := range reqs {
		for _, h := range vllmsim.BlockHashes(q.prompt + vllmsim.Reply(q.prompt, q.out)) {
			seen[h] = true
		}
	}
	return len(seen) * vllmsim.BlockTokens
}

// mixWorkload interleaves the shared and the unique workloads, one request of either at
// random (half each): a router must keep the shared prefixes together while spreading the
// prompts nobody shares.
func mixWorkload(shared, unique []request, seed uint64) []request {
	r := rand.New(rand.NewPCG(seed, 4))
	out := make([]request, 0, len(shared))
	i, j := 0, 0
	for len(out) < len(shared) {
		if r.IntN(2) == 0 {
			out, i = append(out, shared[i]), i+1
		} else {
			out, j = append(out, unique[j]), j+1
		}
	}
	return out
}

// longDocConfig shapes the long-document QA workload: a few long documents, many short
// questions on each (the workload that grows a per-prompt prefix table without bound).
type longDocConfig struct {
	docs      int    // documents
	docTokens [2]int // a document's tokens: uniform in [min, max]
	question  [2]int // a question's tokens
	answer    [2]int // max_tokens
}

// longDocWorkload is n single-turn requests: a document (picked uniformly) as the system
// prompt, then a short question of its own.
func longDocWorkload(cfg longDocConfig, model string, n int, seed uint64) []request {
	r := rand.New(rand.NewPCG(seed, 5))
	docs := make([]string, cfg.docs)
	for i := range docs {
		docs[i] = fmt.Sprintf("Document #%d. Answer questions about it.\n", i) + words(r, between(r, cfg.docTokens))
	}
	out := make([]request, 0, n)
	for i := range n {
		msgs := []vllmsim.Message{
			{Role: "system", Content: docs[r.IntN(len(docs))]},
			{Role: "user", Content: fmt.Sprintf("Question %d: ", i) + words(r, between(r, cfg.question))},
		}
		out = append(out, chatRequest(model, msgs, between(r, cfg.answer)))
	}
	return out
}
