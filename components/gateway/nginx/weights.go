// The scoring picker's weights: the presets the strategies name, the overrides the stack
// config may set (gateway.routing.weights) and their validation. docs/routing.md says how the
// defaults were chosen.

package nginx

import (
	"fmt"
	"strconv"
)

// Scores weigh what the balancer knows of each candidate replica into one cost, in KiB of
// prompt text waiting for prefill there (1 KiB is about 256 tokens); the lowest cost wins:
//
//	Queue     x prompt KiB this pod sent there that has not had its first token back (exact)
//	+ Prefix  x this request's prompt KiB not known to be cached there (the prefix index)
//	+ Running x requests there (this pod's in flight; the other pods' running and waiting,
//	            from vLLM: a count, so it weighs as requests, not as prompt work)
//	+ KVCache x vLLM's KV-cache use there (0..1)
//	- NewPrefix x this request's prompt KiB (the hashed window at most) x (the share of the
//	            worker's last ~8 prompts that were not new to it)^2, for the replica rendezvous
//	            hashing of the prompt's first block names, whether or not the prefix index knows
//	            the prompt elsewhere: every gateway pod places a new prefix alike, and a pod
//	            that placed it elsewhere (its rendezvous replica busy or failing) brings it back,
//	            unless most prompts are never seen twice (unique prompts), where placing them
//	            alike gains nothing
//
// Costs within ScoreTie of the least are a tie, won by the replica the worker sent a request
// to least recently: equal costs say nothing of which replica frees a slot first, and that
// one most likely does (its requests are the oldest). Breaking ties any other way (the first
// listed, a random one, a second-old KV figure) herds requests and loses to round robin.
type Scores struct {
	Queue, Prefix, Running, KVCache, NewPrefix float64
}

// Presets are the weights each scoring strategy names (round-robin does not score).
var Presets = map[string]Scores{
	StrategyPrefix:    {Queue: 1, Prefix: 2, Running: 0.25, KVCache: 2, NewPrefix: 4},
	StrategyLeastLoad: {Queue: 1, Prefix: 0, Running: 0.25, KVCache: 2, NewPrefix: 0},
}

// Weights override a preset's weights one by one (nil: the preset's). The JSON names are the
// stack config's gateway.routing.weights keys.
type Weights struct {
	// Queue weighs the prompt KiB sent to a replica that has not had its first token back
	// (0-1000; unset: the strategy's preset).
	Queue *float64 `json:"queue,omitempty" pulumi:"queue,optional"`
	// Prefix weighs this request's prompt KiB not known to be cached on a replica (0-1000;
	// unset: the strategy's preset).
	Prefix *float64 `json:"prefix,omitempty" pulumi:"prefix,optional"`
	// Running weighs the requests running on a replica (0-1000; unset: the strategy's preset).
	Running *float64 `json:"running,omitempty" pulumi:"running,optional"`
	// KVCache weighs a replica's KV-cache use, 0..1 (0-1000; unset: the strategy's preset).
	KVCache *float64 `json:"kvCache,omitempty" pulumi:"kvCache,optional"`
	// NewPrefix weighs the lean of a prompt toward its rendezvous replica, so every gateway
	// pod places it alike (0-1000; unset: the strategy's preset).
	NewPrefix *float64 `json:"newPrefix,omitempty" pulumi:"newPrefix,optional"`
}

// ScoreTie is the cost difference (KiB of prompt) below which two replicas tie.
const ScoreTie = 1.0

// MaxWeight bounds every weight: past it one term drowns the others for good.
const MaxWeight = 1000

// KeyProblem is one bad setting: its key under the routing settings and what to do.
type KeyProblem struct{ Key, Msg string }

// WeightProblems checks r's weights (the one owner of these rules: nginx.Validate and the
// stack config's validation both report them, under their own key paths).
func (r Routing) WeightProblems() []KeyProblem {
	var out []KeyProblem
	set := 0
	for _, w := range []struct {
		key string
		v   *float64
	}{{"queue", r.Weights.Queue}, {"prefix", r.Weights.Prefix}, {"running", r.Weights.Running},
		{"kvCache", r.Weights.KVCache}, {"newPrefix", r.Weights.NewPrefix}} {
		if w.v == nil {
			continue
		}
		set++
		if r.Strategy == StrategyRoundRobin {
			out = append(out, KeyProblem{"weights." + w.key, "does nothing with strategy round-robin (it does not score); remove it, or use strategy prefix or least-load"})
		} else if !(*w.v >= 0 && *w.v <= MaxWeight) {
			out = append(out, KeyProblem{"weights." + w.key, fmt.Sprintf("is %s; use 0 to %d", strconv.FormatFloat(*w.v, 'g', -1, 64), MaxWeight)})
		}
	}
	if set > 0 && len(out) == 0 {
		if e := r.Effective(); e.Queue == 0 && e.Prefix == 0 && e.Running == 0 && e.KVCache == 0 && e.NewPrefix == 0 {
			out = append(out, KeyProblem{"weights", "every weight is 0: nothing would be scored and replicas would be picked at random; use strategy round-robin instead"})
		}
	}
	return out
}
