// Command render is the offline main job: it runs a stack's config through
// the real Pulumi engine and Kubernetes provider in render mode and writes
// every object as YAML, with state in a local file backend.
//
//	go run ./cmd/render -stack dev        # after scripts/build-tools.sh
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/llm-platform/llm-platform/internal/render"
	"github.com/llm-platform/llm-platform/stacks"
)

func main() {
	stack := flag.String("stack", "dev", "stack whose Pulumi.<stack>.yaml to render")
	out := flag.String("out", "", "manifest directory (default out/<stack>)")
	state := flag.String("state", ".state", "local state directory (file backend)")
	verbose := flag.Bool("verbose", false, "stream the engine's output")
	flag.Parse()
	if *out == "" {
		*out = filepath.Join("out", *stack)
	}
	if err := run(*stack, *out, *state, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(stack, out, state string, verbose bool) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	opts := render.Options{Root: root, Stack: stack, OutDir: out, StateDir: state, Program: stacks.Run}
	if verbose {
		opts.Log = os.Stdout
	}
	ctx := context.Background()
	s, err := render.Open(ctx, opts)
	if err != nil {
		return err
	}
	res, err := s.Up(ctx)
	if err != nil {
		return err
	}
	var changes []string
	if res.Summary.ResourceChanges != nil {
		for _, op := range slices.Sorted(maps.Keys(*res.Summary.ResourceChanges)) {
			changes = append(changes, fmt.Sprintf("%s %d", op, (*res.Summary.ResourceChanges)[op]))
		}
	}
	fmt.Printf("pulumi up of stack %q (state in %s): %s\n", stack, state, strings.Join(changes, ", "))
	manifests, err := render.Read(out)
	if err != nil {
		return err
	}
	fmt.Print(render.Summary(manifests, out))
	return nil
}
