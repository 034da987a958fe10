package model_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// loraModule is one --lora-modules item as vLLM's LoRAParserAction reads it (LoRAModulePath).
type loraModule struct {
	Name          string `json:"name"`
	Path          string `json:"path"`
	BaseModelName string `json:"base_model_name"`
}

// loraModules decodes the values of --lora-modules: every argument after it up to the next flag.
func loraModules(t *testing.T, args []string) []loraModule {
	t.Helper()
	var out []loraModule
	for i, a := range args {
		if a != "--lora-modules" {
			continue
		}
		for _, item := range args[i+1:] {
			if strings.HasPrefix(item, "--") {
				break
			}
			// An item without a comma would be read as name=path; ours are JSON objects.
			require.Contains(t, item, ",", "vLLM parses an item as JSON only when it has a comma")
			var m loraModule
			require.NoError(t, json.Unmarshal([]byte(item), &m), item)
			out = append(out, m)
		}
		return out
	}
	t.Fatalf("--lora-modules not in %v", args)
	return nil
}

// On cloud "existing" the adapters' object storage is read through a ServiceAccount the user
// granted (weights.serviceAccount).
const adapters = `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","weights":{"serviceAccount":"adapter-reader"},"maxLoras":4,"maxLoraRank":64,"loras":[
	{"name":"sql","source":"acme/qwen3-sql-lora"},
	{"name":"support","source":"s3://acme-adapters/qwen3/support/"},
	{"name":"legal","source":"gs://acme-adapters/qwen3/legal"}]}]`

func TestAdaptersAreServedOnTheBaseModel(t *testing.T) {
	m, mods := deploy(t, specs(t, adapters), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-8b")
	c := container(t, sts)

	assert.Contains(t, c.Args, "--enable-lora")
	assert.Equal(t, "4", argValue(t, c.Args, "--max-loras"))
	assert.Equal(t, "64", argValue(t, c.Args, "--max-lora-rank"))
	mods2 := loraModules(t, c.Args)
	require.Len(t, mods2, 3)
	for _, l := range mods2 {
		assert.Equal(t, "qwen3-8b", l.BaseModelName, "/v1/models lists %s with parent = the served model", l.Name)
	}
	assert.Equal(t, []string{"sql", "support", "legal"}, []string{mods2[0].Name, mods2[1].Name, mods2[2].Name})
	assert.Equal(t, "acme/qwen3-sql-lora", mods2[0].Path, "vLLM downloads a Hugging Face adapter itself, into HF_HOME on the claim")
	for _, l := range mods2[1:] {
		assert.True(t, strings.HasPrefix(l.Path, model.CacheMount+"/loras/"), "an object-store adapter is loaded from its copy on the claim: %s", l.Path)
	}
	assert.NotEqual(t, mods2[1].Path, mods2[2].Path)
	assert.Equal(t, []string{"sql", "support", "legal"}, mods[0].Adapters, "the gateway routes the adapter names to this model")

	// The init container copies exactly the object-store adapters to the paths vLLM loads.
	pod := sts.Spec.Template.Spec
	require.Len(t, pod.InitContainers, 1)
	fetch := pod.InitContainers[0]
	assert.Equal(t, "fetch-loras", fetch.Name)
	assert.Equal(t, gpuImage, fetch.Image, "the GPU image ships the Run:ai streamer's s3 and gcs clients")
	require.Greater(t, len(fetch.Command), 3)
	assert.Equal(t, []string{"python3", "-c"}, fetch.Command[:2])
	assert.Contains(t, fetch.Command[2], "from runai_model_streamer import pull_files")
	assert.Equal(t, []string{
		"s3://acme-adapters/qwen3/support/", mods2[1].Path,
		"gs://acme-adapters/qwen3/legal", mods2[2].Path,
	}, fetch.Command[3:])
	assert.Contains(t, fetch.VolumeMounts, corev1.VolumeMount{Name: "cache", MountPath: model.CacheMount})
	require.NotNil(t, fetch.SecurityContext)
	assert.False(t, *fetch.SecurityContext.AllowPrivilegeEscalation)
	assert.False(t, fetch.Resources.Requests.Memory().IsZero(), "a Burstable init container, never BestEffort")
	for _, e := range fetch.Env {
		assert.NotContains(t, e.Name, "SECRET", "credentials come from the pod's cloud identity")
	}
}

func TestAdapterPathsDependOnTheSourceOnly(t *testing.T) {
	// Renaming an adapter keeps its copy; the same source twice is copied once.
	m, _ := deploy(t, specs(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"a","weights":{"serviceAccount":"adapter-reader"},"loras":[
		{"name":"one","source":"s3://bucket/adapters/x"},{"name":"two","source":"s3://bucket/adapters/x"}]},
		{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"b","weights":{"serviceAccount":"adapter-reader"},"loras":[{"name":"three","source":"s3://bucket/adapters/x"}]}]`), false)
	a := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "a")
	b := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "b")
	pathsA := loraModules(t, container(t, a).Args)
	pathsB := loraModules(t, container(t, b).Args)
	assert.Equal(t, pathsA[0].Path, pathsA[1].Path)
	assert.Equal(t, pathsA[0].Path, pathsB[0].Path)
	assert.Equal(t, []string{"s3://bucket/adapters/x", pathsA[0].Path}, a.Spec.Template.Spec.InitContainers[0].Command[3:])
}

func TestNoAdapters(t *testing.T) {
	m, mods := deploy(t, specs(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"}]`), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "qwen3-8b")
	c := container(t, sts)
	for _, flag := range []string{"--enable-lora", "--lora-modules", "--max-loras", "--max-lora-rank"} {
		assert.NotContains(t, c.Args, flag)
	}
	assert.Empty(t, sts.Spec.Template.Spec.InitContainers)
	assert.Empty(t, mods[0].Adapters)
}

func TestHubAdaptersNeedNoCopy(t *testing.T) {
	m, _ := deploy(t, specs(t, `[{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"small","gpuRequestCount":0,
		"loras":[{"name":"tiny","source":"acme/tiny-lora"}]}]`), false)
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "small")
	c := container(t, sts)
	assert.Equal(t, cpuImage, c.Image)
	assert.Contains(t, c.Args, "--enable-lora")
	assert.NotContains(t, c.Args, "--max-loras", "0: vLLM's default")
	assert.NotContains(t, c.Args, "--max-lora-rank", "0: vLLM's default")
	assert.Empty(t, sts.Spec.Template.Spec.InitContainers)
}

// TestComponentRejectsBadAdapters: a program using the component directly (or through the
// component package) gets the same checks as the stack config, by input path.
func TestComponentRejectsBadAdapters(t *testing.T) {
	base := specs(t, `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"}]`)[0]
	for name, tc := range map[string]struct {
		edit func(*model.Spec)
		want string
	}{
		"http source":             {func(s *model.Spec) { s.LoRAs = []model.LoRA{{Name: "l", Source: "http://x/y"}} }, "spec.loras[0].source: \"http://x/y\" uses the scheme http://"},
		"empty bucket":            {func(s *model.Spec) { s.LoRAs = []model.LoRA{{Name: "l", Source: "gs:///a"}} }, "spec.loras[0].source: \"gs:///a\" names no bucket"},
		"object store on CPU":     {func(s *model.Spec) { s.GPURequestCount = 0; s.LoRAs = []model.LoRA{{Name: "l", Source: "s3://bkt/a"}} }, "spec.loras[0].source: \"s3://bkt/a\" is in object storage"},
		"adapter named like base": {func(s *model.Spec) { s.LoRAs = []model.LoRA{{Name: "qwen3-8b", Source: "a/b"}} }, "spec.loras[0].name: \"qwen3-8b\" clashes with spec.modelName"},
		"missing name":            {func(s *model.Spec) { s.LoRAs = []model.LoRA{{Source: "a/b"}} }, "spec.loras[0].name: is required"},
		"rank 12":                 {func(s *model.Spec) { s.LoRAs = []model.LoRA{{Name: "l", Source: "a/b"}}; s.MaxLoraRank = 12 }, "spec.maxLoraRank: is 12, which vLLM does not accept; use one of 1, 8, 16, 32, 64, 128, 256, 320, 512"},
		"knobs without adapters":  {func(s *model.Spec) { s.MaxLoras = 2 }, "spec.maxLoras: is 2 but the model has no loras; add the adapters under spec.loras"},
		"drain too short":         {func(s *model.Spec) { s.DrainSeconds = 3 }, "spec.drainSeconds: is 3; use 70 to 3600 seconds"},
	} {
		t.Run(name, func(t *testing.T) {
			s := base
			tc.edit(&s)
			m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
				_, err := model.New(ctx, "qwen3-8b", model.Args{
					Spec: s, Image: pulumi.String(gpuImage), CPUImage: pulumi.String(cpuImage), Namespace: "llm",
				})
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), `Model "qwen3-8b": `+tc.want)
			assert.Empty(t, m.Resources(), "nothing is declared")
		})
	}
}
