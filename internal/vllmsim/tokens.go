package vllmsim

import (
	"encoding/binary"
	"hash/fnv"
	"strings"
)

// The simulator has no tokenizer. A token is BytesPerToken bytes of the rendered prompt (the
// rule of thumb of about four characters of English per token), and a KV block is BlockTokens
// tokens, vLLM's default --block-size. Generated text is made of exactly BytesPerToken-byte
// words, so a reply appended to the next turn's prompt keeps its blocks aligned.
const (
	BytesPerToken = 4
	BlockTokens   = 16
	blockBytes    = BytesPerToken * BlockTokens
)

// Tokens is the simulated token count of text: ceil(len/BytesPerToken), at least 1.
func Tokens(text string) int {
	return max(1, (len(text)+BytesPerToken-1)/BytesPerToken)
}

// BlockHashes are the chained hashes of text's full blocks, as vLLM keys its prefix cache:
// block i's hash covers its parent's hash and its own tokens, so equal hashes mean equal
// prefixes. A trailing partial block has no hash (vLLM caches full blocks only).
func BlockHashes(text string) []uint64 {
	n := len(text) / blockBytes
	out := make([]uint64, n)
	var parent [8]byte
	for i := range n {
		h := fnv.New64a()
		_, _ = h.Write(parent[:])
		_, _ = h.Write([]byte(text[i*blockBytes : (i+1)*blockBytes]))
		out[i] = h.Sum64()
		binary.LittleEndian.PutUint64(parent[:], out[i])
	}
	return out
}

// Message is one chat message as the OpenAI API sends it.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// RenderChat renders messages the way a chat template does (one delimited block per message,
// then the generation prompt for the assistant), so that a conversation's next turn starts with
// the previous turn's prompt followed by the reply: turn n+1's prompt extends turn n's prompt
// plus its output, and the prefix cache sees the whole history as a shared prefix.
func RenderChat(msgs []Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<|")
		b.WriteString(m.Role)
		b.WriteString("|>\n")
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	b.WriteString("<|assistant|>\n")
	return b.String()
}

// Reply is the deterministic text the simulator generates for prompt: n words of exactly
// BytesPerToken bytes, a function of the prompt alone, so a client can rebuild the next turn
// of a conversation without waiting for the previous answer.
func Reply(prompt string, n int) string {
	s := seedOf(prompt)
	var b strings.Builder
	b.Grow(n * BytesPerToken)
	for i := range n {
		b.WriteString(word(s, i))
	}
	return b.String()
}

// seedOf is the seed of prompt's reply.
func seedOf(prompt string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(prompt))
	return h.Sum64()
}

// word is token i of the reply seeded by s: a space and three lowercase letters.
func word(s uint64, i int) string {
	x := splitmix(s + uint64(i)*0x9e3779b97f4a7c15)
	return string([]byte{' ', 'a' + byte(x%26), 'a' + byte(x/26%26), 'a' + byte(x/676%26)})
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
