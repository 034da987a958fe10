package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// These tests run one bad value through both entry points: the stack config (spec.Parse and
// spec.Validate, the stack program's first step) and the component package (the inputs the
// package checks against the Args' types, then the component's constructor, as construct calls
// it). Both must refuse it under their own key path with the same message: one rule, one owner.

// ruleCase is one bad value: the object merged into a complete entry, and the key (below the
// entry) the error must name.
type ruleCase struct {
	name, bad, key string
}

// modelEntry is a complete Model spec (every input the package requires) and a valid stack
// model entry.
const modelEntry = `{"huggingfaceId":"Qwen/Qwen3-0.6B","modelName":"qwen3-0.6b","gpuRequestCount":0,"replicas":1,
	"pvcSize":"10Gi","dtype":"auto","cpu":"2","memory":"8Gi","shmSize":"1Gi","startupTimeoutSeconds":3600}`

var modelRuleCases = []ruleCase{
	{"no weights at all", `{"huggingfaceId":""}`, "huggingfaceId"},
	{"weights not in object storage", `{"gpuRequestCount":1,"weights":{"uri":"hf://Qwen/Qwen3-8B","serviceAccount":"reader"}}`, "weights.uri"},
	{"weights streamed on a CPU model", `{"weights":{"uri":"s3://acme-models/m","serviceAccount":"reader"}}`, "weights.uri"},
	{"load format with streamed weights", `{"gpuRequestCount":1,"weights":{"uri":"s3://acme-models/m","serviceAccount":"reader"},"extraArgs":["--load_format=auto"]}`, "extraArgs[0]"},
	{"reader account without object storage", `{"weights":{"serviceAccount":"reader"}}`, "weights.serviceAccount"},
	{"reader account not a name", `{"gpuRequestCount":1,"weights":{"uri":"s3://acme-models/m","serviceAccount":"My Reader"}}`, "weights.serviceAccount"},
	{"drain too short", `{"drainSeconds":5}`, "drainSeconds"},
	{"drain of a day", `{"drainSeconds":86400}`, "drainSeconds"},
	{"adapter over http", `{"loras":[{"name":"sql","source":"http://example.com/sql"}]}`, "loras[0].source"},
	{"adapter as a whole bucket", `{"gpuRequestCount":1,"loras":[{"name":"sql","source":"gs://my-bucket"}]}`, "loras[0].source"},
	{"object-store adapter on a CPU model", `{"loras":[{"name":"sql","source":"s3://bucket/sql"}]}`, "loras[0].source"},
	{"adapter named like its base", `{"loras":[{"name":"qwen3-0.6b","source":"org/sql"}]}`, "loras[0].name"},
	{"two adapters with one name", `{"loras":[{"name":"sql","source":"org/a"},{"name":"sql","source":"org/b"}]}`, "loras[1].name"},
	{"adapter name with a space", `{"loras":[{"name":"my lora","source":"org/sql"}]}`, "loras[0].name"},
	{"rank vLLM refuses", `{"maxLoraRank":12,"loras":[{"name":"sql","source":"org/sql"}]}`, "maxLoraRank"},
	{"negative maxLoras", `{"maxLoras":-1,"loras":[{"name":"sql","source":"org/sql"}]}`, "maxLoras"},
	{"maxLoras without adapters", `{"maxLoras":4}`, "maxLoras"},
	{"autoscaling bounds while off", `{"autoscaling":{"minReplicas":0,"maxReplicas":4}}`, "autoscaling"},
	{"autoscaling min above max", `{"autoscaling":{"enabled":true,"minReplicas":3,"maxReplicas":2,"targetQueuePerReplica":4,"idleMinutes":30,"cooldownSeconds":300}}`, "autoscaling.minReplicas"},
	{"autoscaling without a queue target", `{"autoscaling":{"enabled":true,"minReplicas":0,"maxReplicas":2,"targetQueuePerReplica":0,"idleMinutes":30}}`, "autoscaling.targetQueuePerReplica"},
	{"memory not a quantity", `{"memory":"lots"}`, "memory"},
	{"cache too small", `{"pvcSize":"500Mi"}`, "pvcSize"},
	{"negative GPUs", `{"gpuRequestCount":-1}`, "gpuRequestCount"},
	{"zero replicas", `{"replicas":0}`, "replicas"},
	{"negative context", `{"maxModelLen":-1}`, "maxModelLen"},
	{"GPU memory above 1", `{"gpuRequestCount":1,"gpuMemoryUtilization":1.5}`, "gpuMemoryUtilization"},
	{"GPU memory below 0", `{"gpuRequestCount":1,"gpuMemoryUtilization":-0.1}`, "gpuMemoryUtilization"},
	{"unknown dtype", `{"dtype":"int3"}`, "dtype"},
	{"served name with a control character", `{"modelName":"qwen\u0007"}`, "modelName"},
	{"startup too short", `{"startupTimeoutSeconds":10}`, "startupTimeoutSeconds"},
	{"managed flag", `{"extraArgs":["--enforce-eager","--max_loras=4"]}`, "extraArgs[1]"},
}

var gatewayRuleCases = []ruleCase{
	{"unknown strategy", `{"routing":{"strategy":"random"}}`, "routing.strategy"},
	{"session header with an underscore", `{"routing":{"sessionHeader":"x_session"}}`, "routing.sessionHeader"},
	{"block size not a multiple of 4", `{"routing":{"blockSize":130}}`, "routing.blockSize"},
	{"min prefix above max", `{"routing":{"minPrefixBlocks":10,"maxPrefixBlocks":4}}`, "routing.minPrefixBlocks"},
	{"load factor below 1", `{"routing":{"loadFactor":0.5}}`, "routing.loadFactor"},
	{"index too large", `{"routing":{"indexEntries":2000000}}`, "routing.indexEntries"},
	{"weight with round-robin", `{"routing":{"strategy":"round-robin","weights":{"prefix":2}}}`, "routing.weights.prefix"},
	{"session header with round-robin", `{"routing":{"strategy":"round-robin","sessionHeader":"x-conversation"}}`, "routing.sessionHeader"},
	{"streams above the port range", `{"maxStreamsPerPod":50000}`, "maxStreamsPerPod"},
	{"hold share above half", `{"holdShare":0.9}`, "holdShare"},
	{"cold start too long", `{"coldStartTimeout":"5h"}`, "coldStartTimeout"},
	{"body limit too small", `{"maxBodySize":"10Ki"}`, "maxBodySize"},
	{"max replicas below replicas", `{"replicas":4,"maxReplicas":3}`, "maxReplicas"},
	{"zero timeout", `{"timeoutSeconds":0}`, "timeoutSeconds"},
}

func TestModelRulesAreTheSameInTheStackAndThePackage(t *testing.T) {
	for _, tc := range modelRuleCases {
		t.Run(tc.name, func(t *testing.T) {
			entry := merged(t, modelEntry, tc.bad)
			stack := stackMessage(t, map[string]string{"models": "[" + entry + "]"}, "models[0].", tc.key)
			pkg := packageModelMessage(t, entry, tc.key)
			assert.Equal(t, stack, pkg, "models[0].%s (stack) and spec.%s (package) differ", tc.key, tc.key)
		})
	}
}

func TestGatewayRulesAreTheSameInTheStackAndThePackage(t *testing.T) {
	base, err := json.Marshal(spec.Defaults().Gateway)
	require.NoError(t, err)
	for _, tc := range gatewayRuleCases {
		t.Run(tc.name, func(t *testing.T) {
			config := merged(t, string(base), tc.bad)
			stack := stackMessage(t, map[string]string{"models": "[" + modelEntry + "]", "gateway": config}, "gateway.", tc.key)
			pkg := packageGatewayMessage(t, config, tc.key)
			assert.Equal(t, stack, pkg, "gateway.%s (stack) and config.%s (package) differ", tc.key, tc.key)
		})
	}
}

// stackMessage is the message the stack config gives for key, below prefix.
func stackMessage(t *testing.T, raw map[string]string, prefix, key string) string {
	t.Helper()
	cfg, err := spec.Parse(raw)
	require.NoError(t, err)
	err = spec.Validate(&cfg)
	require.Error(t, err, "the stack accepts it")
	return messageOf(t, err, "", prefix, key)
}

// packageModelMessage is the message the package gives for key: the spec object passes the
// package's type checks (construct's decode), and model.New refuses it.
func packageModelMessage(t *testing.T, entry, key string) string {
	t.Helper()
	var s model.Spec
	decodeInput(t, entry, "spec", &s)
	err := constructErr(t, func(ctx *pulumi.Context) error {
		_, err := model.New(ctx, "qwen", model.Args{
			Name: "qwen3-0-6b", Namespace: "llm", Spec: s,
			Image: pulumi.String("vllm/vllm-openai:test"), CPUImage: pulumi.String("vllm-cpu:test"),
		})
		return err
	})
	return messageOf(t, err, `Model "qwen": `, "spec.", key)
}

// packageGatewayMessage: as packageModelMessage, for the gateway's config input.
func packageGatewayMessage(t *testing.T, config, key string) string {
	t.Helper()
	var c gateway.Config
	decodeInput(t, config, "config", &c)
	err := constructErr(t, func(ctx *pulumi.Context) error {
		_, err := gateway.New(ctx, "gateway", gateway.Args{
			Config: c, Namespace: "llm",
			Routes: []nginx.Route{{Name: "qwen3-0.6b", Upstream: "qwen3-0-6b.llm.svc.cluster.local:8000",
				Endpoints: "qwen3-0-6b-headless.llm.svc.cluster.local:8000"}},
		})
		return err
	})
	return messageOf(t, err, `Gateway "gateway": `, "config.", key)
}

// decodeInput checks an input object as the package does (checkObject: types, required and
// unknown keys) and decodes it into out, whose json names are its input names.
func decodeInput(t *testing.T, text, path string, out any) {
	t.Helper()
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &raw))
	var problems []string
	checkObject(raw, reflect.TypeOf(out).Elem(), path,
		func(p, format string, a ...any) { problems = append(problems, p+": "+fmt.Sprintf(format, a...)) },
		func(p string) { problems = append(problems, p+": is required") })
	require.Empty(t, problems, "the package takes the input's shape")
	require.NoError(t, json.Unmarshal([]byte(text), out))
}

func constructErr(t *testing.T, program pulumi.RunFunc) error {
	t.Helper()
	var newErr error
	_, _ = pulumimock.Run(t, func(ctx *pulumi.Context) error {
		newErr = program(ctx)
		return newErr
	})
	require.Error(t, newErr, "the package accepts it")
	return newErr
}

// messageOf is the text after "<who><prefix><key>: " on the first line of err that names key,
// with the keys it names written below "<entry>." rather than prefix (each entry point names
// the other settings by its own paths).
func messageOf(t *testing.T, err error, who, prefix, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)` + regexp.QuoteMeta(who+prefix+key) + `: (.*)$`).FindStringSubmatch(err.Error())
	require.NotNil(t, m, "no problem names %s in:\n%v", prefix+key, err)
	// A key path starts a word ("docs/gateway.md" names a file, not a key).
	return regexp.MustCompile(`(^|[\s(])`+regexp.QuoteMeta(prefix)).ReplaceAllString(m[1], "${1}<entry>.")
}

// merged is base with bad's keys set (objects merged key by key), as JSON.
func merged(t *testing.T, base, bad string) string {
	t.Helper()
	var b, o map[string]any
	require.NoError(t, json.Unmarshal([]byte(base), &b))
	require.NoError(t, json.Unmarshal([]byte(bad), &o))
	mergeInto(b, o)
	out, err := json.Marshal(b)
	require.NoError(t, err)
	return string(out)
}

func mergeInto(dst, src map[string]any) {
	for k, v := range maps.All(src) {
		if sub, ok := v.(map[string]any); ok {
			if d, ok := dst[k].(map[string]any); ok {
				mergeInto(d, sub)
				continue
			}
		}
		dst[k] = v
	}
}

// TestGatewayRoutingTakesOnlyWhatDiffers: a package user may set one routing setting (here
// round-robin, which refuses a session header or load factor other than the defaults): every
// routing key is optional and the rest take the defaults, as in the stack config.
func TestGatewayRoutingTakesOnlyWhatDiffers(t *testing.T) {
	var config map[string]any
	base, err := json.Marshal(spec.Defaults().Gateway)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(base, &config))
	config["routing"] = map[string]any{"strategy": "round-robin"}
	text, err := json.Marshal(config)
	require.NoError(t, err)
	var c gateway.Config
	decodeInput(t, string(text), "config", &c)
	var g *gateway.Gateway
	_, err = pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		g, err = gateway.New(ctx, "gateway", gateway.Args{
			Config: c, Namespace: "llm",
			Routes: []nginx.Route{{Name: "qwen3-0.6b", Upstream: "qwen3-0-6b.llm.svc.cluster.local:8000",
				Endpoints: "qwen3-0-6b-headless.llm.svc.cluster.local:8000"}},
		})
		return err
	})
	require.NoError(t, err)
	require.NotNil(t, g)
}
