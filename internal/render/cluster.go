package render

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// ClusterOptions say which stack to run against which live cluster.
type ClusterOptions struct {
	// Root, Stack, StackFile, StateDir, Program and Log are as in Options
	// (OutDir is unused: nothing is rendered).
	Options
	// Kubeconfig is the cluster's kubeconfig (a path); the stack runs as
	// cloud "existing" with existing.kubeconfig set to it.
	Kubeconfig string
	// Config are extra stack config values by path
	// (e.g. "platform.istio.enabled": "false"), set after the stack file's.
	Config map[string]string
	// Secrets are extra secret config values by path; a list is set item
	// by item ("gatewayApiKeys[0]", "gatewayApiKeys[1]").
	Secrets map[string]string
}

// OpenCluster prepares the workspace like Open but for a live cluster: the
// Kubernetes provider applies every object to the kubeconfig's API server
// (server-side apply, the provider's default) instead of writing YAML.
func OpenCluster(ctx context.Context, opts ClusterOptions) (*Session, error) {
	if opts.StackFile == "" {
		opts.StackFile = filepath.Join(opts.Root, "Pulumi."+opts.Stack+".yaml")
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	abs, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	opts.StateDir = abs
	// The provider must talk to this cluster only, whatever the developer's own KUBECONFIG says.
	stack, err := workspaceStack(ctx, opts.Options, map[string]string{"KUBECONFIG": opts.Kubeconfig})
	if err != nil {
		return nil, err
	}
	set := func(key, value string, secret bool) error {
		return stack.SetConfigWithOptions(ctx, "llm-platform:"+key, auto.ConfigValue{Value: value, Secret: secret}, &auto.ConfigOptions{Path: true})
	}
	if err := set("existing.kubeconfig", opts.Kubeconfig, false); err != nil {
		return nil, err
	}
	// In key order: a list's [0] must exist before its [1].
	for _, key := range slices.Sorted(maps.Keys(opts.Config)) {
		if err := set(key, opts.Config[key], false); err != nil {
			return nil, fmt.Errorf("config %s: %w", key, err)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(opts.Secrets)) {
		if err := set(key, opts.Secrets[key], true); err != nil {
			return nil, fmt.Errorf("secret config %s: %w", key, err)
		}
	}
	return &Session{Stack: stack, opts: opts.Options}, nil
}
