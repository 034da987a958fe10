// Package components_test uses the components as a library, the way a user's own Pulumi
// program would: no stack config, only each component's typed Args.
package components_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

const namespace = "team-a"

func modelSpec(hf, served string) model.Spec {
	return model.Spec{
		HuggingfaceID: hf, ModelName: served, Replicas: 2, PVCSize: "20Gi", Dtype: "auto",
		CPU: "2", Memory: "8Gi", ShmSize: "1Gi", StartupTimeoutSeconds: 600,
	}
}

// TestTwoModelsAndTwoGatewaysInOneNamespace declares two models and two gateways side by
// side in one namespace and checks that no Kubernetes object and no Pulumi resource collide.
func TestTwoModelsAndTwoGatewaysInOneNamespace(t *testing.T) {
	var models []*model.Model
	var gateways []*gateway.Gateway
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		for _, s := range []struct{ name, hf, served string }{
			{"chat", "Qwen/Qwen3-0.6B", "qwen3-0.6b"},
			{"embed", "BAAI/bge-small-en-v1.5", "bge-small"},
		} {
			mod, err := model.New(ctx, s.name, model.Args{
				Spec: modelSpec(s.hf, s.served), Image: pulumi.String("vllm/vllm-openai:test"),
				CPUImage: pulumi.String("vllm-cpu:test"), Namespace: namespace,
			})
			if err != nil {
				return err
			}
			models = append(models, mod)
		}
		cfg := gateway.Config{
			Image: "openresty/openresty:test", Replicas: 2, MaxReplicas: 4,
			MaxBodySize: gateway.DefaultMaxBodySize, TimeoutSeconds: 600, MaxStreamsPerPod: 1000,
		}
		// Each gateway routes to one of the models.
		for i, name := range []string{"public-gateway", "internal-gateway"} {
			mod := models[i]
			gw, err := gateway.New(ctx, name, gateway.Args{
				Config: cfg, Namespace: namespace,
				Routes:    []nginx.Route{{Name: mod.ServedName, Upstream: mod.Upstream, Endpoints: mod.Endpoints}},
				Upstreams: []pulumi.Resource{mod.Service, mod.Headless},
				APIKeys:   pulumi.ToSecret(pulumi.String(fmt.Sprintf("key-%d", i))).(pulumi.StringOutput),
			})
			if err != nil {
				return err
			}
			gateways = append(gateways, gw)
		}
		return nil
	})
	require.NoError(t, err)

	// Every Kubernetes object has its own kind/namespace/name, and every resource its own URN.
	objects := map[string]string{}
	urns := map[string]bool{}
	kubeObjects := 0
	for _, r := range m.Resources() {
		assert.False(t, urns[r.URN], "two resources share the URN %s", r.URN)
		urns[r.URN] = true
		if !r.Custom || !strings.HasPrefix(r.Type, "kubernetes:") || r.Type == "kubernetes:index:Provider" {
			continue
		}
		kubeObjects++
		plain := pulumimock.Plain(r.Inputs)
		meta, _ := plain["metadata"].(map[string]any)
		require.NotNil(t, meta, "%s has metadata", r.URN)
		ns, _ := meta["namespace"].(string)
		name, _ := meta["name"].(string)
		require.NotEmpty(t, name, "%s names its object", r.URN)
		assert.Equal(t, namespace, ns, "%s is in the namespace", r.URN)
		key := r.Type + " " + ns + "/" + name
		assert.Empty(t, objects[key], "%s and %s both declare %s", objects[key], r.URN, key)
		objects[key] = r.URN
	}
	// 2 x (StatefulSet, Service, headless Service, budget) + 2 x (ConfigMap, Secret, Deployment,
	// HPA, Service, metrics Service, budget).
	assert.Equal(t, 22, kubeObjects)

	// Names, URLs and pod selectors derive from the component names.
	assert.Equal(t, "chat.team-a.svc.cluster.local:8000", models[0].Upstream)
	assert.Equal(t, "embed.team-a.svc.cluster.local:8000", models[1].Upstream)
	assert.Equal(t, "chat-headless.team-a.svc.cluster.local:8000", models[0].Endpoints)
	assert.NotEqual(t, models[0].Selector, models[1].Selector)
	assert.Equal(t, "http://public-gateway.team-a.svc.cluster.local/v1", gateways[0].PlainURL)
	assert.Equal(t, "http://internal-gateway.team-a.svc.cluster.local/v1", gateways[1].PlainURL)
	// The url outputs the package and other languages read (set after registering, which
	// replaces every pulumi-tagged field).
	gatewayURL, _ := pulumimock.Await(t, gateways[0].URL)
	assert.Equal(t, gateways[0].PlainURL, gatewayURL)
	modelURL, _ := pulumimock.Await(t, models[0].URL)
	assert.Equal(t, "http://chat.team-a.svc.cluster.local:8000/v1", modelURL)
	assert.NotEqual(t, gateways[0].Selector, gateways[1].Selector)
	assert.Equal(t, gateway.Selector("public-gateway"), gateways[0].Selector)
	assert.Equal(t, model.Selector("chat"), models[0].Selector)
	assert.Len(t, m.ByType(model.Type), 2)
	assert.Len(t, m.ByType(gateway.Type), 2)
}

// TestComponentsDoNotImportStacks: the components are a library any Pulumi program can use;
// only package stacks knows the stack config. Checks every non-test Go file under components/.
func TestComponentsDoNotImportStacks(t *testing.T) {
	const forbidden = "github.com/llm-platform/llm-platform/stacks"
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if p == forbidden || strings.HasPrefix(p, forbidden+"/") {
				t.Errorf("components/%s imports %s; components take their own typed Args, package stacks maps the config onto them", path, p)
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, files, 10, "walked the components tree")
}
