package vllmsim

import (
	"errors"
	"fmt"
	"time"
)

// Params are one replica's costs and limits. Defaults returns figures taken from a published
// vLLM benchmark of a real GPU; docs/routing.md lists the sources and the arithmetic.
type Params struct {
	// PrefillTokensPerSec is the rate at which the replica computes uncached prompt tokens.
	// One prefill runs at a time per replica, so a cache miss delays everyone behind it.
	PrefillTokensPerSec float64
	// DecodeStep is the time of one decode step of the whole running batch (one token for every
	// running sequence), whatever the batch size.
	DecodeStep time.Duration
	// MaxNumSeqs is vLLM's --max-num-seqs: at most this many sequences run; the rest wait.
	MaxNumSeqs int
	// KVBlocks is the KV cache capacity in blocks of BlockTokens tokens, shared by the running
	// sequences and the prefix cache (vLLM's "GPU KV cache size" divided by the block size).
	KVBlocks int
	// ChunkTokens is the per-step token budget (vLLM's --max-num-batched-tokens): a step
	// carries one token per decoding sequence plus at most the rest of the budget of prefill.
	ChunkTokens int
	// TimeScale multiplies every simulated duration: 1 is the GPU's speed, 2 half of it.
	TimeScale float64
}

// Defaults are Llama-3-8B-Instruct (FP8 weights) on one NVIDIA L40S, from vLLM's own benchmark in
// the pull request that brought prefix caching to the V1 engine
// (https://github.com/vllm-project/vllm/pull/9668):
//   - prefill: 17,777 input tokens/s without prefix caching (benchmark_prefix_caching.py,
//     ShareGPT prompts of 256-512 tokens), rounded to 17,800;
//   - decode step: mean TPOT 42.45 ms serving 8 req/s of 550-token prompts and 150-token outputs;
//     prefill took 8 x 550 / 17,800 = 25% of the GPU at that load, so a step without prefill is
//     about 0.75 x 42.45 = 32 ms;
//   - max running sequences: 256, vLLM's --max-num-seqs default;
//   - KV capacity: 48 GB x 0.9 (--gpu-memory-utilization) less ~9 GB of FP8 weights and ~3 GB of
//     activations leaves ~31 GB; Llama-3-8B keeps 2 x 32 layers x 8 KV heads x 128 x 2 bytes =
//     128 KiB per token (BF16 KV), so ~236k tokens: 14,000 blocks of 16 tokens (an estimate:
//     vLLM prints the real figure at start as "GPU KV cache size: N tokens").
//
// ChunkTokens 2048 is our choice (vLLM's own default differs by version and GPU).
func Defaults() Params {
	return Params{
		PrefillTokensPerSec: 17800,
		DecodeStep:          32 * time.Millisecond,
		MaxNumSeqs:          256,
		KVBlocks:            14000,
		ChunkTokens:         2048,
		TimeScale:           1,
	}
}

// Validate reports every unusable value at once.
func (p Params) Validate() error {
	var errs []error
	if p.PrefillTokensPerSec <= 0 {
		errs = append(errs, fmt.Errorf("prefill rate %v tokens/s: must be positive", p.PrefillTokensPerSec))
	}
	if p.DecodeStep <= 0 {
		errs = append(errs, fmt.Errorf("decode step %v: must be positive", p.DecodeStep))
	}
	if p.MaxNumSeqs < 1 {
		errs = append(errs, fmt.Errorf("max running sequences %d: must be at least 1", p.MaxNumSeqs))
	}
	if p.KVBlocks < 2 {
		errs = append(errs, fmt.Errorf("KV blocks %d: must be at least 2", p.KVBlocks))
	}
	if p.ChunkTokens < 1 {
		errs = append(errs, fmt.Errorf("chunk tokens %d: must be at least 1", p.ChunkTokens))
	}
	if p.TimeScale <= 0 {
		errs = append(errs, errors.New("time scale must be positive"))
	}
	return errors.Join(errs...)
}

// prefillTime is the simulated time to compute n prompt tokens.
func (p Params) prefillTime(n int) time.Duration {
	return time.Duration(float64(n) / p.PrefillTokensPerSec * float64(time.Second))
}

// real converts a simulated duration to wall-clock time.
func (p Params) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) * p.TimeScale)
}
