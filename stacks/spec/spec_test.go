package spec

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const oneModel = `[{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b"}]`

func parseAndValidate(raw map[string]string) (Config, error) {
	cfg, err := Parse(raw)
	if err != nil {
		return cfg, err
	}
	return cfg, Validate(&cfg)
}

func TestDefaultsFillAModelEntry(t *testing.T) {
	cfg, err := parseAndValidate(map[string]string{"models": oneModel})
	require.NoError(t, err)
	m := cfg.Models[0]
	assert.Equal(t, "qwen3-0-6b", m.KubeName)
	assert.Equal(t, 1, m.GPURequestCount)
	assert.Equal(t, 1, m.Replicas)
	assert.Equal(t, "50Gi", m.PVCSize)
	assert.Equal(t, "4", m.CPU)
	assert.Equal(t, "16Gi", m.Memory)
	assert.Equal(t, "4Gi", m.ShmSize)
	assert.Equal(t, "20Gi", func() string { q := m.MemoryLimit(); return q.String() }())
	assert.Equal(t, CloudExisting, cfg.Cloud)
	assert.Equal(t, "llm", cfg.Namespace)
}

func TestSizesScaleWithGPUs(t *testing.T) {
	cfg, err := parseAndValidate(map[string]string{"models": `[
		{"huggingfaceId":"a/b","modelName":"tp","gpuRequestCount":2},
		{"huggingfaceId":"a/c","modelName":"cpu","gpuRequestCount":0},
		{"huggingfaceId":"a/d","modelName":"custom","gpuRequestCount":2,"cpu":"3","memory":"30Gi","shmSize":"2Gi"}]`})
	require.NoError(t, err)
	assert.Equal(t, []string{"8", "32Gi", "8Gi"}, []string{cfg.Models[0].CPU, cfg.Models[0].Memory, cfg.Models[0].ShmSize})
	assert.Equal(t, []string{"2", "8Gi", "1Gi"}, []string{cfg.Models[1].CPU, cfg.Models[1].Memory, cfg.Models[1].ShmSize})
	assert.Equal(t, []string{"3", "30Gi", "2Gi"}, []string{cfg.Models[2].CPU, cfg.Models[2].Memory, cfg.Models[2].ShmSize})
}

// TestBadConfig: every bad config fails with an error naming its key path.
func TestBadConfig(t *testing.T) {
	gke := `{"project":"p","region":"us-central1"}`
	cases := []struct {
		name string
		raw  map[string]string
		key  string // the key path the error must name
	}{
		{"unknown cloud", map[string]string{"cloud": "azure", "models": oneModel}, "cloud: \"azure\" is not allowed"},
		{"missing gke project", map[string]string{"cloud": "gke", "gke": `{"region":"us-central1"}`, "models": oneModel}, "gke.project: is required"},
		{"missing gke region", map[string]string{"cloud": "gke", "gke": `{"project":"p"}`, "models": oneModel}, "gke.region: is required"},
		{"gke zone outside region", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1","zone":"europe-west4-a"}`, "models": oneModel}, "gke.zone:"},
		{"bad gke accelerator", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"r","gpuPool":{"acceleratorType":"nvidia-gtx-1080"}}`, "models": oneModel}, "gke.gpuPool.acceleratorType:"},
		{"bad gke driver", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"r","gpuPool":{"driverVersion":"NEWEST"}}`, "models": oneModel}, "gke.gpuPool.driverVersion:"},
		{"gke max below min", map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"r","gpuPool":{"minNodes":3,"maxNodes":1}}`, "models": oneModel}, "gke.gpuPool.maxNodes:"},
		{"model does not fit gke node", map[string]string{"cloud": "gke", "gke": gke, "models": `[{"huggingfaceId":"a/b","modelName":"big","gpuRequestCount":4}]`}, "models[0].gpuRequestCount: is 4 but a GPU node has 1"},
		{"eks label the platform manages", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","gpuNodeGroup":{"labels":{"nvidia.com/gpu.present":"false"}}}`, "models": oneModel}, "eks.gpuNodeGroup.labels: sets \"nvidia.com/gpu.present\""},
		{"eks subnets for a created cluster", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"subnetIds":["subnet-1"]}}`, "models": oneModel}, "eks.cluster.subnetIds: is only for adopted clusters"},
		{"missing eks region", map[string]string{"cloud": "eks", "models": oneModel}, "eks.region: is required"},
		{"bad eks capacity type", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","gpuNodeGroup":{"capacityType":"RESERVED"}}`, "models": oneModel}, "eks.gpuNodeGroup.capacityType:"},
		{"eks desired above max", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","gpuNodeGroup":{"minSize":0,"desiredSize":5,"maxSize":2}}`, "models": oneModel}, "eks.gpuNodeGroup.desiredSize: is 5"},
		{"eks one zone", map[string]string{"cloud": "eks", "eks": `{"region":"us-west-2","cluster":{"availabilityZones":["us-west-2a"]}}`, "models": oneModel}, "eks.cluster.availabilityZones:"},
		{"empty model list", map[string]string{"models": `[]`}, "models: at least one model is required"},
		{"no models key", map[string]string{}, "models: at least one model is required"},
		{"missing huggingfaceId", map[string]string{"models": `[{"modelName":"x"}]`}, "models[0].huggingfaceId: is required"},
		{"missing modelName", map[string]string{"models": `[{"huggingfaceId":"a/b"}]`}, "models[0].modelName: is required"},
		{"duplicate modelName", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m"},{"huggingfaceId":"a/c","modelName":"m"}]`}, "models[1].modelName: \"m\" is already used by models[0]"},
		{"modelName with no usable characters", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"..."}]`}, "models[0].modelName:"},
		{"modelName starting with a digit", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"7b-chat"}]`}, "models[0].modelName:"},
		{"names that sanitise alike", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"qwen3-0.6b"},{"huggingfaceId":"a/c","modelName":"qwen3_0_6b"}]`}, "models[1].modelName: \"qwen3_0_6b\" and models[0].modelName \"qwen3-0.6b\" both become the Kubernetes name \"qwen3-0-6b\""},
		{"negative gpuRequestCount", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","gpuRequestCount":-1}]`}, "models[0].gpuRequestCount: is -1"},
		{"zero replicas", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","replicas":0}]`}, "models[0].replicas: is 0"},
		{"bad pvcSize", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","pvcSize":"forty gigs"}]`}, "models[0].pvcSize: \"forty gigs\" is not a Kubernetes quantity"},
		{"bad memory", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","memory":"lots"}]`}, "models[0].memory:"},
		{"gpu memory utilization above 1", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","gpuMemoryUtilization":1.5}]`}, "models[0].gpuMemoryUtilization: is 1.5"},
		{"bad dtype", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","dtype":"int3"}]`}, "models[0].dtype:"},
		{"managed flag in extraArgs", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","extraArgs":["--enforce-eager","--tensor-parallel-size=4"]}]`}, "models[0].extraArgs[1]: \"--tensor-parallel-size=4\" is managed by the platform; set gpuRequestCount instead"},
		{"malformed JSON", map[string]string{"models": `[{"huggingfaceId":"a/b",`}, "models: malformed JSON"},
		{"models not a list", map[string]string{"models": `{"huggingfaceId":"a/b"}`}, "models: expected a list"},
		{"wrong type in a model", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m"},{"huggingfaceId":"a/c","modelName":"n","gpuRequestCount":"two"}]`}, "models[1].gpuRequestCount: expected a whole number, got a JSON string"},
		{"wrong type nested", map[string]string{"gke": `{"gpuPool":{"spot":"yes"}}`, "models": oneModel}, "gke.gpuPool.spot: expected true or false"},
		{"misspelt model key", map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"m","gpuRequestcount":2}]`}, "models[0].gpuRequestcount: unknown key"},
		{"misspelt nested key", map[string]string{"platform": `{"istio":{"enable":false}}`, "models": oneModel}, "platform.istio.enable: unknown key"},
		{"trailing data", map[string]string{"gateway": `{"replicas":2} {}`, "models": oneModel}, "gateway: trailing data"},
		{"bad namespace", map[string]string{"namespace": "LLM_Apps", "models": oneModel}, "namespace: \"LLM_Apps\" is not a valid namespace name"},
		{"zero gateway replicas", map[string]string{"gateway": `{"replicas":0}`, "models": oneModel}, "gateway.replicas: is 0"},
		{"tiny gateway body limit", map[string]string{"gateway": `{"maxBodySize":"10Ki"}`, "models": oneModel}, "gateway.maxBodySize: \"10Ki\" is too small"},
		{"admin as default role", map[string]string{"webui": `{"defaultUserRole":"admin"}`, "models": oneModel}, "webui.defaultUserRole: \"admin\" is not allowed"},
		{"argo app without repo", map[string]string{"platform": `{"argocd":{"apps":[{"name":"llm","path":"manifests"}]}}`, "models": oneModel}, "platform.argocd.apps[0].repoURL: is required"},
		{"edge without hosts", map[string]string{"edge": `{"hosts":[]}`, "models": oneModel}, "edge.hosts: is empty"},
	}
	require.GreaterOrEqual(t, len(cases), 20)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAndValidate(tc.raw)
			require.Error(t, err)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce, "errors come as one ConfigError")
			assert.Contains(t, err.Error(), tc.key)
		})
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, err := parseAndValidate(map[string]string{
		"cloud":  "gke",
		"gke":    `{}`,
		"models": `[{"modelName":"a"},{"huggingfaceId":"x","modelName":"b","replicas":0,"pvcSize":"big"}]`,
	})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	msg := err.Error()
	for _, key := range []string{"gke.project", "gke.region", "models[0].huggingfaceId", "models[1].replicas", "models[1].pvcSize"} {
		assert.Contains(t, msg, key+":")
	}
	assert.Len(t, ce.Problems, 5, msg)
}

func TestTutorialModelListPastesIn(t *testing.T) {
	// The original tutorial's values.yaml model list, as YAML, unchanged.
	const values = `
- huggingfaceId: "google/gemma-3-27b-it"
  modelName: "gemma-3-27b-it"
  gpuRequestCount: 2
  replicas: 1
  pvcSize: "40Gi"
- huggingfaceId: "Qwen/Qwen3-VL-30B-A3B-Instruct"
  modelName: "qwen3-vl-30b"
  gpuRequestCount: 2
  replicas: 1
  pvcSize: "45Gi"
`
	var list any
	require.NoError(t, yaml.Unmarshal([]byte(values), &list))
	raw, err := json.Marshal(list)
	require.NoError(t, err)
	cfg, err := parseAndValidate(map[string]string{"models": string(raw)})
	require.NoError(t, err)
	require.Len(t, cfg.Models, 2)
	assert.Equal(t, "qwen3-vl-30b", cfg.Models[1].KubeName)
	assert.Equal(t, "45Gi", cfg.Models[1].PVCSize)
}

// TestPulumiYAMLDefaultsMatchGo keeps Pulumi.yaml's documented defaults
// equal to Defaults(): the CLI hands Pulumi.yaml's default to the program
// when a stack omits a key, and mocks hand nothing, so both must agree.
func TestPulumiYAMLDefaultsMatchGo(t *testing.T) {
	data, err := os.ReadFile("../../Pulumi.yaml")
	require.NoError(t, err)
	var project struct {
		Config map[string]struct {
			Type        string `yaml:"type"`
			Default     any    `yaml:"default"`
			Description string `yaml:"description"`
		} `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(data, &project))

	defaults, err := Parse(map[string]string{})
	require.NoError(t, err)
	want := map[string]any{}
	raw, err := json.Marshal(defaults)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &want))

	for _, key := range append(configKeys(), keyHFToken, keyGatewayAPIKeys, keyWebUISecretKey) {
		decl, ok := project.Config[key]
		if !assert.True(t, ok, "Pulumi.yaml does not declare %s", key) {
			continue
		}
		assert.NotEmpty(t, decl.Type, "%s: type", key)
		assert.NotEmpty(t, decl.Description, "%s: description", key)
		if key == "models" {
			assert.Nil(t, decl.Default, "models is required: no default")
			continue
		}
		if key == keyHFToken || key == keyGatewayAPIKeys || key == keyWebUISecretKey {
			// Optional secrets default to empty (unset): a key without a
			// default is required by the CLI.
			assert.NotNil(t, decl.Default, "%s needs a default or the CLI requires it", key)
			assert.Empty(t, decl.Default, "%s defaults to empty", key)
			assert.Contains(t, decl.Description, "SECRET.")
			continue
		}
		require.NotNil(t, decl.Default, "%s: default", key)
		got, err := json.Marshal(decl.Default)
		require.NoError(t, err)
		wantJSON, err := json.Marshal(want[key])
		require.NoError(t, err)
		assert.JSONEq(t, string(wantJSON), string(got), "Pulumi.yaml default of %s differs from Defaults()", key)
	}
	assert.Len(t, project.Config, len(configKeys())+3, "Pulumi.yaml declares a key the program does not read")
}

// FuzzParseValidate: whatever the config text, Parse and Validate return
// an error or a config, never a panic.
func FuzzParseValidate(f *testing.F) {
	f.Add("existing", oneModel, `{"replicas":2}`, `{"project":"p","region":"r"}`)
	f.Add("gke", `[{"huggingfaceId":"a","modelName":"qwen3-0.6b","pvcSize":"1e3"}]`, `{"maxBodySize":"1Ei"}`, `{"gpuPool":{"maxNodes":-1}}`)
	f.Add("eks", `[{"modelName":"\u0000"},null,1,"x"]`, `null`, `[]`)
	f.Fuzz(func(t *testing.T, cloud, models, gateway, gke string) {
		raw := map[string]string{"cloud": cloud, "models": models, "gateway": gateway, "gke": gke, "eks": gke}
		cfg, err := Parse(raw)
		if err == nil {
			_ = Validate(&cfg)
		}
	})
}
