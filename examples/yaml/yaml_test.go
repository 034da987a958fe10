// Package yaml_test runs the Pulumi YAML example through the real engine, the YAML language
// host and the component package (cmd/provider), in render mode, and compares what it renders
// with what the Go program renders for the same settings.
package yaml_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/render"
	"github.com/llm-platform/llm-platform/internal/testcluster"
	"github.com/llm-platform/llm-platform/stacks"
)

// tools are what the YAML program needs from bin/ (scripts/build-tools.sh builds them).
var tools = []string{"pulumi", "pulumi-resource-kubernetes", "pulumi-language-yaml"}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	return root
}

// buildProvider builds the package's plugin (pulumi-resource-llm-platform) into a directory
// of its own, once per test binary.
func buildProvider(t *testing.T, root string) string {
	t.Helper()
	providerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "llm-platform-provider-")
		if err != nil {
			providerErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "pulumi-resource-llm-platform"), "./cmd/provider")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			providerErr = err
			providerLog = string(out)
			return
		}
		providerDir = dir
	})
	require.NoError(t, providerErr, providerLog)
	return providerDir
}

var (
	providerOnce             sync.Once
	providerDir, providerLog string
	providerErr              error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if providerDir != "" {
		os.RemoveAll(providerDir)
	}
	os.Exit(code)
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// project writes the example, changed by edit, into a directory of its own, with the plugin
// path pointing at the freshly built provider.
func project(t *testing.T, providerDir string, edit func(string) string) string {
	t.Helper()
	src, err := os.ReadFile("Pulumi.yaml")
	require.NoError(t, err)
	text := string(src)
	require.Contains(t, text, "path: ../../bin")
	text = strings.Replace(text, "path: ../../bin", "path: "+providerDir, 1)
	if edit != nil {
		changed := edit(text)
		require.NotEqual(t, text, changed, "the edit changes nothing")
		text = changed
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(text), 0o644))
	return dir
}

func openYAML(t *testing.T, root, dir, out string) *render.Session {
	t.Helper()
	config := map[string]string{}
	if out != "" {
		config["renderDir"] = out
	}
	s, err := render.OpenProject(context.Background(), render.ProjectOptions{
		Root: root, Dir: dir, Stack: "test", StateDir: t.TempDir(),
		Config: config, Tools: tools, Log: logWriter{t},
	})
	require.NoError(t, err)
	return s
}

// onlyInGoProgram are the objects the Go program renders that the YAML example does not, and why.
var onlyInGoProgram = map[string]string{
	"Namespace /llm": "the application namespace comes from the Go program's add-ons component (addons.New), " +
		"which the package exposes only inside Platform; the example's Model and Gateway deploy into an existing namespace",
}

// TestYAMLExampleRendersTheGoProgramsObjects: the YAML example through the engine, the YAML
// language host and the package renders the same objects, field for field, as the Go program
// (stacks.Run) for the same settings, except those named in onlyInGoProgram.
func TestYAMLExampleRendersTheGoProgramsObjects(t *testing.T) {
	root := repoRoot(t)
	testcluster.RequireBinaries(t, tools...)
	ctx := context.Background()

	yamlOut := t.TempDir()
	s := openYAML(t, root, project(t, buildProvider(t, root), nil), yamlOut)
	res, err := s.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, "http://llm-gateway.llm.svc.cluster.local/v1", res.Outputs["gatewayUrl"].Value)
	assert.Equal(t, "http://qwen3-0-6b.llm.svc.cluster.local:8000/v1", res.Outputs["modelUrl"].Value)
	_, err = s.PreviewNoChanges(ctx)
	require.NoError(t, err, "a second run of the YAML example changes nothing")

	goOut := t.TempDir()
	g, err := render.Open(ctx, render.Options{
		Root: root, Stack: "example", StackFile: filepath.Join("testdata", "Pulumi.example.yaml"),
		OutDir: goOut, StateDir: t.TempDir(), Program: stacks.Run, Log: logWriter{t},
	})
	require.NoError(t, err)
	_, err = g.Up(ctx)
	require.NoError(t, err)

	fromYAML, fromGo := byKey(t, yamlOut), byKey(t, goOut)
	require.NotEmpty(t, fromYAML)
	for key, obj := range fromGo {
		y, ok := fromYAML[key]
		if !ok {
			assert.Contains(t, onlyInGoProgram, key, "the Go program renders %s, the YAML example does not, and no reason is given", key)
			continue
		}
		assert.JSONEq(t, string(obj), string(y), "%s differs between the Go program and the YAML example", key)
	}
	for key := range fromYAML {
		assert.Contains(t, fromGo, key, "the YAML example renders %s, the Go program does not", key)
	}
	for key := range onlyInGoProgram {
		assert.Contains(t, fromGo, key, "onlyInGoProgram names %s, which the Go program no longer renders", key)
	}
	kinds := slices.Sorted(func(yield func(string) bool) {
		for k := range fromYAML {
			if !yield(k) {
				return
			}
		}
	})
	t.Logf("the YAML example rendered, equal to the Go program's: %s", strings.Join(kinds, ", "))
}

func byKey(t *testing.T, dir string) map[string]json.RawMessage {
	t.Helper()
	manifests, err := render.Read(dir)
	require.NoError(t, err)
	out := map[string]json.RawMessage{}
	for _, m := range manifests {
		_, dup := out[m.Key()]
		require.False(t, dup, "%s rendered twice", m.Key())
		out[m.Key()] = m.JSON
	}
	return out
}

// goModelError is what the Go API says for the example's model with spec changed by edit.
func goModelError(t *testing.T, edit func(*model.Spec)) string {
	t.Helper()
	spec := model.Spec{
		HuggingfaceID: "Qwen/Qwen3-0.6B", ModelName: "qwen3-0.6b", GPURequestCount: 0, Replicas: 1,
		PVCSize: "10Gi", MaxModelLen: 4096, Dtype: "auto", CPU: "2", Memory: "8Gi", ShmSize: "1Gi",
		StartupTimeoutSeconds: 3600,
	}
	edit(&spec)
	var newErr error
	_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, newErr = model.New(ctx, "qwen", model.Args{
			Name: "qwen3-0-6b", Namespace: "llm", Spec: spec,
			Image: pulumi.String("vllm/vllm-openai:v0.31.0-cu129"), CPUImage: pulumi.String("cpu"),
		})
		return newErr
	})
	require.Error(t, err)
	require.Error(t, newErr)
	return newErr.Error()
}

// TestYAMLBadInputs: bad inputs through the package fail the preview, naming the input. The
// YAML language host checks each property against the package's schema (required, type,
// unknown) before the package sees it, with its own messages; what the schema cannot express
// (an empty required string, a size that is not a quantity) reaches the package, which answers
// with the Go API's own message. (cmd/provider's TestBadInputsThroughTheEngine sends the
// schema-level mistakes past a language host, as an SDK without type checks does, and gets
// the Go API's messages for them too.)
func TestYAMLBadInputs(t *testing.T) {
	root := repoRoot(t)
	testcluster.RequireBinaries(t, tools...)
	providerDir := buildProvider(t, root)
	drop := func(line string) func(string) string {
		return func(s string) string { return strings.Replace(s, line+"\n", "", 1) }
	}
	replace := func(old, new string) func(string) string {
		return func(s string) string { return strings.Replace(s, old, new, 1) }
	}
	for _, tc := range []struct {
		name string
		edit func(string) string
		want []string
	}{{
		name: "missing required field",
		edit: drop("        modelName: qwen3-0.6b"),
		want: []string{`modelName: Missing required property 'modelName'`},
	}, {
		// Optional in the schema since weights.uri may stand in for it; the component says so.
		name: "neither huggingfaceId nor weights.uri",
		edit: drop("        huggingfaceId: Qwen/Qwen3-0.6B"),
		want: []string{goModelError(t, func(s *model.Spec) { s.HuggingfaceID = "" })},
	}, {
		name: "empty required field",
		edit: replace("huggingfaceId: Qwen/Qwen3-0.6B", `huggingfaceId: ""`),
		want: []string{goModelError(t, func(s *model.Spec) { s.HuggingfaceID = "" })},
	}, {
		name: "missing required number",
		edit: drop("        replicas: 1"),
		want: []string{`replicas: Missing required property 'replicas'`},
	}, {
		name: "wrong type",
		edit: replace("gpuRequestCount: 0", "gpuRequestCount: two"),
		want: []string{`gpuRequestCount: Cannot assign type 'string' to type 'integer'`},
	}, {
		name: "wrong type of a list",
		edit: replace("      routes:\n", "      routes: qwen3-0.6b\n      unused:\n"),
		want: []string{`routes: Cannot assign type 'string' to type 'List<llm-platform:index:GatewayRoute`},
	}, {
		name: "not a quantity",
		edit: replace("pvcSize: 10Gi", "pvcSize: ten gigs"),
		want: []string{goModelError(t, func(s *model.Spec) { s.PVCSize = "ten gigs" })},
	}, {
		name: "unknown field",
		edit: replace("        replicas: 1", "        replica: 1\n        replicas: 1"),
		want: []string{`Property replica does not exist on 'llm-platform:index:ModelSpec'`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := openYAML(t, root, project(t, providerDir, tc.edit), t.TempDir())
			_, err := s.Stack.Preview(context.Background(), optpreview.ProgressStreams(logWriter{t}))
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}
