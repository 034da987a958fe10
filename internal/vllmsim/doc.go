// Package vllmsim simulates vLLM servers for the gateway's routing tests and benchmark: one Go
// process serves many endpoints (127.0.1.1:8000, 127.0.1.2:8000, ...), each a replica with
//
//   - a KV block pool of bounded size shared by running sequences and the prefix cache: full
//     blocks of BlockTokens tokens keyed by chained hashes (each block's hash covers its
//     parent's), unused blocks evicted least recently used first, as vLLM's automatic prefix
//     caching does;
//   - continuous batching: at most MaxNumSeqs sequences run, the rest wait first come, first
//     served; a decoding sequence that needs a block when none is free preempts the newest one,
//     which recomputes later (vLLM's recompute preemption);
//   - one prefill at a time, costing uncached prompt tokens / PrefillTokensPerSec (chunked by
//     ChunkTokens), in the same steps as decoding: a cache miss slows everyone on the replica;
//   - a fixed DecodeStep per step of the whole batch (one token per running sequence);
//   - the OpenAI API as vLLM serves it: /v1/chat/completions and /v1/completions (JSON with
//     usage, or server-sent events with "stream": true ending with data: [DONE]), /v1/models,
//     /health, and /metrics in Prometheus text with vLLM's current metric names;
//   - faults on demand (refuse or reset connections, add latency) for failure tests.
//
// Tokens are approximated as BytesPerToken bytes of the rendered prompt; replies are
// deterministic functions of the prompt (Reply), so a client can build a conversation's next
// turn without waiting. Params.TimeScale stretches or shrinks every simulated duration.
package vllmsim
