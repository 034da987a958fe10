package main

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/bench"
	"github.com/llm-platform/llm-platform/internal/vllmsim"
)

var small = workloadConfig{prefixes: 4, prefixTokens: 100, zipf: 0.6, active: 3, maxTurns: 4,
	userTokens: [2]int{5, 10}, outTokens: [2]int{4, 8}}

func TestWorkloadsAreDeterministic(t *testing.T) {
	a, b := sharedWorkload(small, "m", 50, 7), sharedWorkload(small, "m", 50, 7)
	require.Len(t, a, 50)
	for i := range a {
		assert.Equal(t, a[i].body, b[i].body)
	}
	assert.NotEqual(t, a[0].body, sharedWorkload(small, "m", 50, 8)[0].body, "another seed, other prompts")
	assert.Equal(t, arrivals(10, 5*time.Second, 3), arrivals(10, 5*time.Second, 3))
}

// A conversation's next turn extends the previous turn's prompt and the simulator's answer, so
// the whole history is a cacheable prefix; system prompts are shared by many requests.
func TestSharedWorkloadGrowsConversations(t *testing.T) {
	reqs := sharedWorkload(small, "m", 200, 1)
	extended, firstKeys := 0, map[uint64]int{}
	for i, q := range reqs {
		firstKeys[q.firstKey]++
		for _, p := range reqs[:i] {
			if strings.HasPrefix(q.prompt, p.prompt+vllmsim.Reply(p.prompt, p.out)) {
				extended++
				break
			}
		}
	}
	assert.Greater(t, extended, 50, "many requests continue an earlier turn")
	assert.LessOrEqual(t, len(firstKeys), small.prefixes, "requests start with one of the system prompts")

	unique := uniqueWorkload(small, "m", 50, 1)
	keys := map[uint64]bool{}
	for _, q := range unique {
		keys[q.firstKey] = true
	}
	assert.Len(t, keys, 50, "unique prompts share no first block")
}

func TestArrivalsArePoisson(t *testing.T) {
	times := arrivals(20, 100*time.Second, 1)
	assert.InDelta(t, 2000, len(times), 200, "about rate x duration arrivals")
	for i := 1; i < len(times); i++ {
		require.GreaterOrEqual(t, times[i], times[i-1])
	}
}

// Requests still waiting at the cutoff count by their lower bound and are flagged when a
// percentile lands on them.
func TestSummariseCensorsPending(t *testing.T) {
	s := time.Second
	outs := []outcome{
		{at: 0, ttft: 100 * time.Millisecond, done: 2 * s, tokens: 5}, // before the window: only its completion counts
		{at: 2 * s, ttft: 200 * time.Millisecond, done: 3 * s, tokens: 5},
		{at: 2 * s, ttft: 300 * time.Millisecond, done: 4 * s, tokens: 5},
		{at: 3 * s},                      // pending at the cutoff (12 s): at least 9 s
		{at: 4 * s, err: assert.AnError}, // an error
	}
	m := summarise(outs, 1*s, 11*s, 12*s, 1)
	assert.InDelta(t, 0.3, m.completed, 1e-9)
	assert.InDelta(t, 1.5, m.outTokens, 1e-9)
	assert.Equal(t, 1, m.errors)
	assert.Equal(t, 300*time.Millisecond, m.ttft[0])
	assert.False(t, m.censored[0])
	assert.Equal(t, 9*s, m.ttft[1])
	assert.True(t, m.censored[1])
}

func TestChartIsWellFormedSVG(t *testing.T) {
	svg := bench.SVG("caption <&>", bench.Chart{Title: "t", LogY: true, Series: []bench.Series{
		{Name: "a", Points: []bench.Point{{X: 1, Y: 0.1}, {X: 2, Y: 10, Lower: true}}},
		{Name: "b & c", Points: []bench.Point{{X: 1, Y: 0.2}, {X: 2, Y: 0.3}}},
	}}, bench.Chart{Title: "u", Series: []bench.Series{{Name: "a", Points: []bench.Point{{X: 1, Y: 3}}}}})
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err != nil {
			require.Equal(t, "EOF", err.Error())
			break
		}
	}
	assert.Contains(t, svg, "b &amp; c")
	assert.Equal(t, 3, strings.Count(svg, "<polyline"))
}
