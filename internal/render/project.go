package render

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// ProjectOptions open a Pulumi project from its own directory, in any language the engine has a
// language host for on PATH (Pulumi YAML: bin/pulumi-language-yaml), with the same local set-up
// as Open: the CLI and plugins from Root/bin, a file backend and PULUMI_HOME under StateDir.
type ProjectOptions struct {
	// Root is the repository (bin/ holds the CLI, the Kubernetes provider, the language hosts).
	Root string
	// Dir is the project directory (its Pulumi.yaml); Stack the stack to select or create.
	Dir, Stack string
	// StateDir holds the file backend and PULUMI_HOME.
	StateDir string
	// Config are stack config values by key (the project's namespace is implied), set by path.
	Config map[string]string
	// Path are more directories for PATH, before bin/ (plugins built elsewhere).
	Path []string
	// Tools are the binaries of bin/ the project needs (checked before anything runs).
	Tools []string
	// Log receives the engine's progress output; nil discards it.
	Log io.Writer
}

// OpenProject prepares the stack of the project in opts.Dir.
func OpenProject(ctx context.Context, opts ProjectOptions) (*Session, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	bin := filepath.Join(opts.Root, "bin")
	for _, tool := range opts.Tools {
		if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run scripts/build-tools.sh first", tool, bin)
		}
	}
	state, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	backend := filepath.Join(state, "backend")
	if err := os.MkdirAll(backend, 0o755); err != nil {
		return nil, err
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: opts.Root, SkipVersionCheck: true})
	if err != nil {
		return nil, err
	}
	path := append(slices.Clone(opts.Path), bin, os.Getenv("PATH"))
	env := map[string]string{
		"PULUMI_BACKEND_URL":       "file://" + backend,
		"PULUMI_CONFIG_PASSPHRASE": Passphrase,
		"PULUMI_HOME":              filepath.Join(state, "home"),
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		"PATH":                     strings.Join(path, string(os.PathListSeparator)),
	}
	stack, err := auto.UpsertStackLocalSource(ctx, opts.Stack, opts.Dir,
		auto.Pulumi(cmd), auto.EnvVars(env), auto.SecretsProvider("passphrase"))
	if err != nil {
		return nil, err
	}
	for _, key := range slices.Sorted(maps.Keys(opts.Config)) {
		if err := stack.SetConfigWithOptions(ctx, key, auto.ConfigValue{Value: opts.Config[key]}, &auto.ConfigOptions{Path: true}); err != nil {
			return nil, fmt.Errorf("config %s: %w", key, err)
		}
	}
	return &Session{Stack: stack, opts: Options{Log: opts.Log}}, nil
}
