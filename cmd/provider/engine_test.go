package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/render"
	"github.com/llm-platform/llm-platform/internal/testcluster"
	"github.com/llm-platform/llm-platform/stacks"
)

// These tests run the package's plugin under the real engine, from an Automation API inline Go
// program that registers the package's components by type token, as every SDK does (a Python
// program's inputs are not type-checked before they are sent): the package's own checks and
// the Platform component are what is tested.

var engineTools = []string{"pulumi", "pulumi-resource-kubernetes"}

// buildPlugin builds pulumi-resource-llm-platform into a directory of its own.
func buildPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "pulumi-resource-"+Name), ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return dir
}

type remote struct{ pulumi.ResourceState }

// inlineStack is a stack running program with the package's plugin on PATH, a file backend and
// the Kubernetes provider from bin/.
func inlineStack(t *testing.T, root, pluginDir string, program pulumi.RunFunc) auto.Stack {
	t.Helper()
	ctx := context.Background()
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	require.NoError(t, err)
	state := t.TempDir()
	env := map[string]string{
		"PULUMI_BACKEND_URL":       "file://" + state,
		"PULUMI_CONFIG_PASSPHRASE": render.Passphrase,
		"PULUMI_HOME":              filepath.Join(state, ".home"),
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		"PATH":                     pluginDir + string(os.PathListSeparator) + filepath.Join(root, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	stack, err := auto.UpsertStackInlineSource(ctx, "test", "package-test", program,
		auto.WorkDir(t.TempDir()), auto.Pulumi(cmd), auto.EnvVars(env), auto.SecretsProvider("passphrase"))
	require.NoError(t, err)
	return stack
}

// renderer is the Kubernetes provider in render mode, writing under dir.
func renderer(ctx *pulumi.Context, dir string) (*kubernetes.Provider, error) {
	return kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{
		RenderYamlToDirectory: pulumi.String(dir), EnableConfigMapMutable: pulumi.Bool(true),
	})
}

func modelInputs() pulumi.Map {
	return pulumi.Map{
		"name": pulumi.String("qwen3-0-6b"), "namespace": pulumi.String("llm"),
		"image": pulumi.String("vllm/vllm-openai:v0.31.0-cu129"), "cpuImage": pulumi.String("cpu"),
		"spec": pulumi.Map{
			"huggingfaceId": pulumi.String("Qwen/Qwen3-0.6B"), "modelName": pulumi.String("qwen3-0.6b"),
			"gpuRequestCount": pulumi.Float64(0), "replicas": pulumi.Float64(1), "pvcSize": pulumi.String("10Gi"),
			"dtype": pulumi.String("auto"), "cpu": pulumi.String("2"), "memory": pulumi.String("8Gi"),
			"shmSize": pulumi.String("1Gi"), "startupTimeoutSeconds": pulumi.Float64(3600),
		},
	}
}

// goModelError is what model.New says for the same model with spec changed by edit.
func goModelError(t *testing.T, edit func(*model.Spec)) string {
	t.Helper()
	spec := model.Spec{
		HuggingfaceID: "Qwen/Qwen3-0.6B", ModelName: "qwen3-0.6b", Replicas: 1, PVCSize: "10Gi",
		Dtype: "auto", CPU: "2", Memory: "8Gi", ShmSize: "1Gi", StartupTimeoutSeconds: 3600,
	}
	edit(&spec)
	var newErr error
	_, _ = pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, newErr = model.New(ctx, "qwen", model.Args{
			Name: "qwen3-0-6b", Namespace: "llm", Spec: spec,
			Image: pulumi.String("vllm/vllm-openai:v0.31.0-cu129"), CPUImage: pulumi.String("cpu"),
		})
		return newErr
	})
	require.Error(t, newErr)
	return newErr.Error()
}

// TestBadInputsThroughTheEngine: a missing required input or a wrong type fails the
// preview with the input's path and the Go API's message (where Go can make the mistake: an
// unset string; Go's compiler refuses a wrong type, so that message is the package's own).
func TestBadInputsThroughTheEngine(t *testing.T) {
	root := root(t)
	testcluster.RequireBinaries(t, engineTools...)
	plugin := buildPlugin(t)
	for _, tc := range []struct {
		name   string
		token  string
		inputs func() pulumi.Map
		want   []string
	}{{
		name: "missing required string", token: "llm-platform:index:Model",
		inputs: func() pulumi.Map { m := modelInputs(); delete(m["spec"].(pulumi.Map), "huggingfaceId"); return m },
		want:   []string{goModelError(t, func(s *model.Spec) { s.HuggingfaceID = "" })},
	}, {
		name: "missing required number", token: "llm-platform:index:Model",
		inputs: func() pulumi.Map { m := modelInputs(); delete(m["spec"].(pulumi.Map), "replicas"); return m },
		want:   []string{`Model "qwen": spec.replicas: is required`},
	}, {
		name: "wrong type", token: "llm-platform:index:Model",
		inputs: func() pulumi.Map {
			m := modelInputs()
			m["spec"].(pulumi.Map)["gpuRequestCount"] = pulumi.String("two")
			m["namespace"] = pulumi.Float64(3)
			return m
		},
		want: []string{
			`Model "qwen": spec.gpuRequestCount: expected an integer, got a string ("two")`,
			`Model "qwen": namespace: expected a string, got a number (3)`,
		},
	}, {
		name: "not a quantity", token: "llm-platform:index:Model",
		inputs: func() pulumi.Map {
			m := modelInputs()
			m["spec"].(pulumi.Map)["memory"] = pulumi.String("lots")
			return m
		},
		want: []string{goModelError(t, func(s *model.Spec) { s.Memory = "lots" })},
	}, {
		name: "platform without models", token: "llm-platform:index:Platform",
		inputs: func() pulumi.Map { return pulumi.Map{"render": pulumi.Bool(true)} },
		want:   []string{`Platform "qwen": models: is required`},
	}, {
		// The Platform's config is a stack config: the stack's own validation and messages.
		name: "platform with a bad model entry", token: "llm-platform:index:Platform",
		inputs: func() pulumi.Map {
			return pulumi.Map{"render": pulumi.Bool(true), "models": pulumi.Array{pulumi.Map{"modelName": pulumi.String("x"), "replicas": pulumi.Float64(-1)}}}
		},
		want: []string{`Platform "qwen": `, "models[0].huggingfaceId", "models[0].replicas"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			stack := inlineStack(t, root, plugin, func(ctx *pulumi.Context) error {
				k8s, err := renderer(ctx, t.TempDir())
				if err != nil {
					return err
				}
				return ctx.RegisterRemoteComponentResource(tc.token, "qwen", tc.inputs(), &remote{}, pulumi.Providers(k8s))
			})
			_, err := stack.Preview(context.Background(), optpreview.ProgressStreams(logWriter{t}))
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// TestPlatformRendersTheGoProgramsObjects: the package's Platform, given the dev stack's
// settings, renders the same objects as the Go program for Pulumi.dev.yaml: both go through
// stacks.Application. The one difference is the values generated at random (Open WebUI's
// session key and admin password), which are compared by their keys only.
func TestPlatformRendersTheGoProgramsObjects(t *testing.T) {
	root := root(t)
	testcluster.RequireBinaries(t, engineTools...)
	ctx := context.Background()
	plugin := buildPlugin(t)

	pkgOut := t.TempDir()
	stack := inlineStack(t, root, plugin, func(ctx *pulumi.Context) error {
		k8s, err := renderer(ctx, pkgOut)
		if err != nil {
			return err
		}
		p := &remote{}
		// Pulumi.dev.yaml's settings.
		err = ctx.RegisterRemoteComponentResource(stacks.PlatformType, "llm", pulumi.Map{
			"render": pulumi.Bool(true),
			"models": pulumi.Array{pulumi.Map{
				"huggingfaceId": pulumi.String("Qwen/Qwen3-0.6B"), "modelName": pulumi.String("qwen3-0.6b"),
				"gpuRequestCount": pulumi.Float64(0), "replicas": pulumi.Float64(1),
				"pvcSize": pulumi.String("10Gi"), "maxModelLen": pulumi.Float64(4096),
			}},
			"gateway":  pulumi.Map{"replicas": pulumi.Float64(1)},
			"platform": pulumi.Map{"argocd": pulumi.Map{"enabled": pulumi.Bool(false)}, "istio": pulumi.Map{"gatewayReplicas": pulumi.Float64(1)}},
		}, p, pulumi.Providers(k8s))
		return err
	})
	_, err := stack.Up(ctx, optup.ProgressStreams(logWriter{t}))
	require.NoError(t, err)

	goOut := t.TempDir()
	g, err := render.Open(ctx, render.Options{
		Root: root, Stack: "dev", OutDir: goOut, StateDir: t.TempDir(), Program: stacks.Run, Log: logWriter{t},
	})
	require.NoError(t, err)
	_, err = g.Up(ctx)
	require.NoError(t, err)

	fromPkg, fromGo := objects(t, pkgOut), objects(t, goOut)
	require.NotEmpty(t, fromGo)
	assert.ElementsMatch(t, keysOf(fromGo), keysOf(fromPkg), "the same objects")
	for key, obj := range fromGo {
		if p, ok := fromPkg[key]; ok {
			assert.JSONEq(t, obj, p, "%s differs between the Go program and the package's Platform", key)
		}
	}
}

// objects are the rendered objects by key, as JSON, with the values of the generated Secrets
// replaced by their keys.
func objects(t *testing.T, dir string) map[string]string {
	t.Helper()
	manifests, err := render.Read(dir)
	require.NoError(t, err)
	out := map[string]string{}
	for _, m := range manifests {
		var obj map[string]any
		require.NoError(t, json.Unmarshal(m.JSON, &obj))
		if m.Kind == "Secret" && strings.HasPrefix(m.Name, "open-webui") {
			for _, field := range []string{"data", "stringData"} {
				if values, ok := obj[field].(map[string]any); ok {
					for k := range values {
						values[k] = "(generated)"
					}
				}
			}
		}
		text, err := json.Marshal(obj)
		require.NoError(t, err)
		out[m.Key()] = string(text)
	}
	return out
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
