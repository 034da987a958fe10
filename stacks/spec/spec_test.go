package spec

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/llm-platform/llm-platform/components/model"
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
	assert.Equal(t, "qwen3-0-6b", KubeName(m))
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
	assert.Equal(t, "qwen3-vl-30b", KubeName(cfg.Models[1]))
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

	for _, key := range append(configKeys(), secretKeys...) {
		decl, ok := project.Config[key]
		if !assert.True(t, ok, "Pulumi.yaml does not declare %s", key) {
			continue
		}
		assert.NotEmpty(t, decl.Type, "%s: type", key)
		assert.NotEmpty(t, decl.Description, "%s: description", key)
		if key == "models" {
			assert.Nil(t, decl.Default, "models is required: no default")
			checkModelDefaults(t, decl.Description)
			continue
		}
		if slices.Contains(secretKeys, key) {
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
	assert.Len(t, project.Config, len(configKeys())+len(secretKeys), "Pulumi.yaml declares a key the program does not read")
}

// FuzzParseValidate: whatever the config text, Parse and Validate return
// an error or a config, never a panic.
func FuzzParseValidate(f *testing.F) {
	f.Add("existing", oneModel, `{"replicas":2}`, `{"project":"p","region":"r"}`)
	f.Add("gke", `[{"huggingfaceId":"a","modelName":"qwen3-0.6b","pvcSize":"1e3"}]`, `{"maxBodySize":"1Ei"}`, `{"gpuPool":{"maxNodes":-1}}`)
	f.Add("eks", `[{"modelName":"\u0000"},null,1,"x"]`, `null`, `[]`)
	f.Fuzz(func(t *testing.T, cloud, models, gateway, gke string) {
		raw := map[string]string{"cloud": cloud, "models": models, "gateway": gateway, "gke": gke, "eks": gke,
			"observability": `{"enabled":true,"thresholds":` + gateway + `}`}
		cfg, err := Parse(raw)
		if err == nil {
			_ = Validate(&cfg)
		}
	})
}

func TestUnknownTopLevelKeys(t *testing.T) {
	err := UnknownTopLevelKeys("llm-platform", []string{
		"llm-platform:gateway", "llm-platform:hfToken", "llm-platform:render",
		"aws:region", "kubernetes:context", "other-project:gatway",
	})
	require.NoError(t, err, "known keys and other namespaces pass")

	err = UnknownTopLevelKeys("llm-platform", []string{"llm-platform:Gateway", "llm-platform:webUI", "llm-platform:zzzzzz"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Gateway: unknown key; did you mean "gateway"?`)
	assert.Contains(t, err.Error(), `webUI: unknown key; did you mean "webui"?`)
	assert.Contains(t, err.Error(), "zzzzzz: unknown key; check its spelling against Pulumi.yaml")
}

// TestRoutingSettings: a stack sets only what differs; the other routing keys keep their
// defaults.
func TestRoutingSettings(t *testing.T) {
	cfg, err := Parse(map[string]string{"models": oneModel, "gateway": `{"routing":{"strategy":"least-load","sessionHeader":"X-Conversation"}}`})
	require.NoError(t, err)
	require.NoError(t, Validate(&cfg))
	want := Defaults().Gateway.Routing
	want.Strategy, want.SessionHeader = "least-load", "X-Conversation"
	assert.Equal(t, want, cfg.Gateway.Routing)
	assert.Equal(t, "prefix", Defaults().Gateway.Routing.Strategy, "prefix is the default strategy")
	assert.Equal(t, "x-session-id", Defaults().Gateway.Routing.SessionHeader)
}

// checkModelDefaults keeps the defaults Pulumi.yaml's models description documents for a model
// entry ("key (default X" or "key ({...}") equal to DefaultModel() and the per-GPU sizes: models
// has no default the CLI could hand over, so only the prose says them.
func checkModelDefaults(t *testing.T, doc string) {
	t.Helper()
	raw, err := json.Marshal(DefaultModel())
	require.NoError(t, err)
	var want map[string]any
	require.NoError(t, json.Unmarshal(raw, &want))
	derived := []string{"cpu", "memory", "shmSize"} // they scale with the GPU count: below
	for _, key := range slices.Sorted(maps.Keys(want)) {
		if slices.Contains(derived, key) || key == "huggingfaceId" || key == "modelName" {
			continue
		}
		if want[key] == nil {
			want[key] = []any{} // a nil list is the empty list
		}
		documented, ok := documentedDefault(doc, key)
		if !assert.True(t, ok, "Pulumi.yaml's models description documents no default for %s", key) {
			continue
		}
		got, err := json.Marshal(documented)
		require.NoError(t, err)
		wantJSON, err := json.Marshal(want[key])
		require.NoError(t, err)
		assert.JSONEq(t, string(wantJSON), string(got), "Pulumi.yaml's documented default of models[].%s differs from DefaultModel()", key)
	}
	assert.Contains(t, doc, fmt.Sprintf("cpu / memory (defaults %d cores and %dGi per GPU; %s and %s for CPU models)", cpuPerGPU, memGiPerGPU, cpuModelCPU, cpuModelMem))
	assert.Contains(t, doc, fmt.Sprintf("shmSize (default %dGi per GPU, %s for CPU models", shmGiPerGPU, cpuModelShm))
}

// documentedDefault reads a model key's default from the description: "key ({...}" (an object
// in YAML flow style) or "key (... default X" (a scalar or [], up to ',', ';', ':' or ')').
func documentedDefault(doc, key string) (any, bool) {
	q := regexp.QuoteMeta(key)
	text := ""
	if m := regexp.MustCompile(`\b` + q + ` \((\{[^}]*\})`).FindStringSubmatch(doc); m != nil {
		text = m[1]
	} else if m := regexp.MustCompile(`\b` + q + ` \((?:\[[^\]]*\], )?default ("[^"]*"|[^,;:)\s]+)`).FindStringSubmatch(doc); m != nil {
		text = m[1]
	} else {
		return nil, false
	}
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		return nil, false
	}
	return v, true
}

// TestDrainZeroIsTheDefault: drainSeconds 0 means the default, in the stack as in the model
// component (an unset optional input is 0 there), so both give the pods the same grace.
func TestDrainZeroIsTheDefault(t *testing.T) {
	cfg, err := parseAndValidate(map[string]string{"models": `[{"huggingfaceId":"a/b","modelName":"x","drainSeconds":0}]`})
	require.NoError(t, err)
	assert.Equal(t, model.Drain(DefaultModel()), model.Drain(cfg.Models[0]), "0: the default %d s", model.DefaultDrainSeconds)
}

// TestEmptySettingsAreNotSettings: an empty map or list, or null, written for a setting that is
// off sets nothing, so it is not refused as a setting that would do nothing.
func TestEmptySettingsAreNotSettings(t *testing.T) {
	_, err := parseAndValidate(map[string]string{
		"cloud": "eks", "eks": `{"region":"us-west-2"}`, "models": oneModel,
		"existing":      `{"nodeSelector":{}}`,
		"observability": `{"enabled":false,"thresholds":{"ttftP95SecondsByModel":null}}`,
	})
	require.NoError(t, err)
}

// TestRedisPasswordOnlyWithAnExternalRedis: the secret is read only for an external Redis of
// the tenants' limits; set without one it would do nothing.
func TestRedisPasswordOnlyWithAnExternalRedis(t *testing.T) {
	cfg, err := parseAndValidate(map[string]string{"models": oneModel})
	require.NoError(t, err)
	errs := checkTenantKeys(cfg, Secrets{HasGatewayRedisPassword: true})
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "gatewayRedisPassword: is set, but only an external Redis")
	assert.Empty(t, checkTenantKeys(cfg, Secrets{}))

	// A managed Redis's password is the instance's own.
	cfg, err = parseAndValidate(map[string]string{"cloud": "gke", "gke": `{"project":"p","region":"us-central1"}`, "models": oneModel,
		"tenancy": `{"tenants":[{"name":"default","limits":{"requestsPerMinute":60}}],"redis":{"kind":"managed"}}`})
	require.NoError(t, err)
	errs = checkTenantKeys(cfg, Secrets{HasGatewayRedisPassword: true, NumAPIKeys: 1})
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "gatewayRedisPassword: is set, but tenancy.redis.kind is managed: the gateway gets the instance's own password")
	assert.Empty(t, checkTenantKeys(cfg, Secrets{NumAPIKeys: 1}))
}
