// Command vllmsim runs simulated vLLM replicas of one model on loopback addresses until it is
// interrupted, for trying the gateway by hand:
//
//	go run ./cmd/vllmsim -replicas 4 -model llama-3-8b      # 127.0.1.1:8000 ... 127.0.1.4:8000
//	curl -s 127.0.1.1:8000/v1/chat/completions -d '{"model":"llama-3-8b","messages":[{"role":"user","content":"hi"}]}'
//	curl -s 127.0.1.1:8000/metrics
//
// The cost figures default to internal/vllmsim.Defaults (Llama-3-8B on an L40S, from vLLM's
// own benchmark); docs/routing.md describes the model.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/llm-platform/llm-platform/internal/vllmsim"
)

func main() {
	d := vllmsim.Defaults()
	var (
		replicas = flag.Int("replicas", 4, "number of replicas, on consecutive addresses from -first")
		first    = flag.String("first", "127.0.1.1", "address of the first replica (the next ones count up)")
		port     = flag.Int("port", 8000, "port every replica listens on")
		addrs    = flag.String("addrs", "", "comma-separated host:port list (overrides -replicas, -first and -port)")
		model    = flag.String("model", "sim-model", "served model name")
		adapters = flag.String("adapters", "", "comma-separated LoRA adapter names served on the model (vLLM --lora-modules)")
	)
	flag.Float64Var(&d.TimeScale, "scale", d.TimeScale, "time scale: every simulated duration is multiplied by it (2 = half the GPU's speed)")
	flag.IntVar(&d.KVBlocks, "kv-blocks", d.KVBlocks, "KV cache capacity per replica, in blocks of 16 tokens")
	flag.IntVar(&d.MaxNumSeqs, "max-num-seqs", d.MaxNumSeqs, "running sequences per replica (vLLM --max-num-seqs)")
	flag.Float64Var(&d.PrefillTokensPerSec, "prefill-rate", d.PrefillTokensPerSec, "prefill tokens per second per replica")
	flag.DurationVar(&d.DecodeStep, "decode-step", d.DecodeStep, "time of one decode step of the batch")
	flag.IntVar(&d.ChunkTokens, "chunk", d.ChunkTokens, "tokens per engine step (vLLM --max-num-batched-tokens)")
	flag.Parse()

	list, err := addresses(*addrs, *first, *port, *replicas)
	if err == nil {
		var sim *vllmsim.Sim
		if sim, err = vllmsim.Start(vllmsim.Config{Addrs: list, Model: *model, Adapters: splitList(*adapters), Params: d}); err == nil {
			fmt.Printf("vllmsim: %d replicas of %q on %s (prefill %.0f tok/s, decode step %v, max %d seqs, %d KV blocks, time scale %g); Ctrl-C stops\n",
				len(list), *model, strings.Join(sim.Addrs(), " "), d.PrefillTokensPerSec, d.DecodeStep, d.MaxNumSeqs, d.KVBlocks, d.TimeScale)
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
			<-sig
			sim.Close()
			return
		}
	}
	fmt.Fprintln(os.Stderr, "vllmsim:", err)
	os.Exit(1)
}

// addresses lists the replicas' host:port: the explicit list, or n consecutive IPv4 addresses
// from first, all on port.
func addresses(explicit, first string, port, n int) ([]string, error) {
	if explicit != "" {
		return strings.Split(explicit, ","), nil
	}
	return vllmsim.Consecutive(first, port, n)
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
