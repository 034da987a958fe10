// Package render runs the program through the real Pulumi engine and the
// real Kubernetes provider in render mode: every object is written as YAML
// under a directory instead of being applied, with state in a local file
// backend. It is the offline main job (cmd/render) and the end-to-end test.
//
// The Pulumi CLI and the provider come from ./bin (scripts/build-tools.sh);
// the program runs in-process through the Automation API's inline source, so
// no Go language plugin is needed.
package render

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Passphrase encrypts the local state's secrets. It protects nothing (it is
// in the repository); the state never leaves the machine.
const Passphrase = "llm-platform-local-render"

// Options say what to render and where.
type Options struct {
	// Root is the repository: Pulumi.yaml, the stack files and bin/.
	Root string
	// Stack is the stack name; its config comes from StackFile
	// (default Root/Pulumi.<Stack>.yaml).
	Stack     string
	StackFile string
	// OutDir receives the manifests (render.dir); StateDir holds the file
	// backend and the workspace.
	OutDir, StateDir string
	// Program is the Pulumi program (stacks.Run).
	Program pulumi.RunFunc
	// Log receives the engine's progress output; nil discards it.
	Log io.Writer
}

// Session is a stack ready for up, preview and destroy.
type Session struct {
	Stack auto.Stack
	opts  Options
}

// Open prepares the workspace and selects or creates the stack.
func Open(ctx context.Context, opts Options) (*Session, error) {
	if opts.StackFile == "" {
		opts.StackFile = filepath.Join(opts.Root, "Pulumi."+opts.Stack+".yaml")
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	// The CLI runs in the workspace directory: relative paths would
	// resolve there.
	for _, dir := range []*string{&opts.StateDir, &opts.OutDir} {
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return nil, err
		}
		*dir = abs
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	stack, err := workspaceStack(ctx, opts, nil)
	if err != nil {
		return nil, err
	}
	if err := stack.SetConfigWithOptions(ctx, "llm-platform:render.dir", auto.ConfigValue{Value: opts.OutDir}, &auto.ConfigOptions{Path: true}); err != nil {
		return nil, err
	}
	return &Session{Stack: stack, opts: opts}, nil
}

// workspaceStack checks for the built tools, lays out the workspace (project and stack file
// under StateDir, a file backend beside them) and opens the stack with the local CLI, its env
// plus extra (which wins).
func workspaceStack(ctx context.Context, opts Options, extra map[string]string) (auto.Stack, error) {
	bin := filepath.Join(opts.Root, "bin")
	for _, tool := range []string{"pulumi", "pulumi-resource-kubernetes"} {
		if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
			return auto.Stack{}, fmt.Errorf("%s not found in %s: run scripts/build-tools.sh first", tool, bin)
		}
	}
	work := filepath.Join(opts.StateDir, "work", opts.Stack)
	backend := filepath.Join(opts.StateDir, "backend")
	for _, dir := range []string{work, backend} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return auto.Stack{}, err
		}
	}
	if err := copyProject(opts, work); err != nil {
		return auto.Stack{}, err
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: opts.Root, SkipVersionCheck: true})
	if err != nil {
		return auto.Stack{}, err
	}
	env := map[string]string{
		"PULUMI_BACKEND_URL":       "file://" + backend,
		"PULUMI_CONFIG_PASSPHRASE": Passphrase,
		"PULUMI_HOME":              filepath.Join(opts.StateDir, "home"),
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		// The engine finds the provider on PATH (and warns that it is older
		// than the SDK's: harmless).
		"PATH": bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	maps.Copy(env, extra)
	return auto.UpsertStackInlineSource(ctx, opts.Stack, "llm-platform", opts.Program,
		auto.WorkDir(work), auto.Pulumi(cmd), auto.EnvVars(env), auto.SecretsProvider("passphrase"))
}

var saltLine = regexp.MustCompile(`(?m)^encryptionsalt: .*$`)

// copyProject puts Pulumi.yaml and the stack file into the workspace,
// keeping the stack's encryption salt from an earlier run.
func copyProject(opts Options, work string) error {
	project, err := os.ReadFile(filepath.Join(opts.Root, "Pulumi.yaml"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "Pulumi.yaml"), project, 0o644); err != nil {
		return err
	}
	stackFile, err := os.ReadFile(opts.StackFile)
	if err != nil {
		return err
	}
	target := filepath.Join(work, "Pulumi."+opts.Stack+".yaml")
	if old, err := os.ReadFile(target); err == nil {
		if salt := saltLine.Find(old); salt != nil {
			stackFile = append([]byte(string(salt)+"\n"), stackFile...)
		}
	}
	return os.WriteFile(target, stackFile, 0o644)
}

// Up renders the manifests.
func (s *Session) Up(ctx context.Context) (auto.UpResult, error) {
	return s.Stack.Up(ctx, optup.ProgressStreams(s.opts.Log), optup.ErrorProgressStreams(s.opts.Log))
}

// PreviewNoChanges fails when a second run would change anything.
func (s *Session) PreviewNoChanges(ctx context.Context) (auto.PreviewResult, error) {
	return s.Stack.Preview(ctx, optpreview.ExpectNoChanges(), optpreview.ProgressStreams(s.opts.Log))
}

// Destroy removes everything (and the rendered files).
func (s *Session) Destroy(ctx context.Context) error {
	_, err := s.Stack.Destroy(ctx, optdestroy.ProgressStreams(s.opts.Log))
	return err
}

// ResourceCount is the number of resources in the stack's state.
func (s *Session) ResourceCount(ctx context.Context) (int, error) {
	dep, err := s.Stack.Export(ctx)
	if err != nil {
		return 0, err
	}
	var state struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(dep.Deployment, &state); err != nil {
		return 0, err
	}
	return len(state.Resources), nil
}

// Summary describes rendered manifests for people.
func Summary(manifests []Manifest, outDir string) string {
	kinds := map[string]int{}
	models := map[string][]string{}
	for _, m := range manifests {
		kinds[m.Kind]++
		if m.Labels["app.kubernetes.io/component"] == "model" {
			inst := m.Labels["app.kubernetes.io/instance"]
			models[inst] = append(models[inst], m.Kind+"/"+m.Name)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rendered %d objects into %s\n", len(manifests), outDir)
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		fmt.Fprintf(&b, "  %-24s %d\n", k, kinds[k])
	}
	for _, name := range slices.Sorted(maps.Keys(models)) {
		fmt.Fprintf(&b, "  model %-18s %s\n", name, strings.Join(models[name], ", "))
	}
	return b.String()
}
