package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/internal/harness"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

var routes = []nginx.Route{
	{Name: "qwen3-0.6b", Upstream: "qwen3-0-6b.llm.svc.cluster.local:8000"},
	{Name: "gemma-3-27b-it", Upstream: "gemma-3-27b-it.llm.svc.cluster.local:8000"},
}

func deploy(t *testing.T, rs []nginx.Route, keys pulumi.StringInput) (*harness.Mocks, *gateway.Gateway) {
	t.Helper()
	var g *gateway.Gateway
	m, err := harness.Run(t, nil, nil, func(ctx *pulumi.Context) error {
		var err error
		g, err = gateway.New(ctx, "gateway", gateway.Args{
			Config: spec.Defaults().Gateway, Namespace: "llm", Routes: rs, APIKeys: keys,
		})
		return err
	})
	require.NoError(t, err)
	return m, g
}

func TestGatewayWorkload(t *testing.T) {
	m, g := deploy(t, routes, nil)
	cm := harness.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
	require.Contains(t, cm.Data, nginx.ConfigFile)
	require.Contains(t, cm.Data, nginx.LuaFile)
	conf := cm.Data[nginx.ConfigFile]
	assert.Contains(t, conf, "qwen3-0-6b.llm.svc.cluster.local:8000", "one upstream per model")
	assert.Contains(t, conf, "gemma-3-27b-it.llm.svc.cluster.local:8000")
	assert.Contains(t, conf, "proxy_buffering off")
	assert.Contains(t, conf, "client_max_body_size 16777216", "maxBodySize 16Mi in bytes")
	assert.NotContains(t, conf, "\nload_module ", "OpenResty has the Lua module built in")

	dep := harness.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
	assert.Equal(t, int32(2), *dep.Spec.Replicas, "2 replicas by default")
	assert.Equal(t, nginx.Checksum(cm.Data), dep.Spec.Template.Annotations[gateway.ChecksumAnnotation])
	pod := dep.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	assert.Equal(t, spec.Defaults().Gateway.Image, c.Image)
	assert.Equal(t, nginx.ProductionCommand("/etc/llm-gateway"), c.Command)
	assert.Equal(t, "/healthz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.False(t, c.Resources.Requests.Cpu().IsZero())
	assert.False(t, c.Resources.Limits.Memory().IsZero())
	// The ConfigMap is a directory mount (no subPath): updates reach the pod.
	for _, vm := range c.VolumeMounts {
		assert.Empty(t, vm.SubPath)
	}
	assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "config", MountPath: "/etc/llm-gateway", ReadOnly: true})
	for _, e := range c.Env {
		assert.NotEqual(t, "GATEWAY_API_KEYS", e.Name, "no keys configured")
	}

	svc := harness.Decode[corev1.Service](t, m, "kubernetes:core/v1:Service", "gateway")
	assert.Equal(t, "llm-gateway", svc.Name)
	assert.Equal(t, int32(gateway.Port), svc.Spec.Ports[0].Port)
	assert.Equal(t, dep.Spec.Selector.MatchLabels, svc.Spec.Selector)
	budget := harness.Decode[policyv1.PodDisruptionBudget](t, m, "kubernetes:policy/v1:PodDisruptionBudget", "gateway")
	assert.Equal(t, 1, budget.Spec.MinAvailable.IntValue())
	assert.Equal(t, "http://llm-gateway.llm.svc.cluster.local/v1", g.URL)
}

// TestModelChangeRollsThePods: any change of the model list changes the
// pod template's checksum, so the Deployment rolls.
func TestModelChangeRollsThePods(t *testing.T) {
	checksum := func(rs []nginx.Route) string {
		m, _ := deploy(t, rs, nil)
		dep := harness.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
		return dep.Spec.Template.Annotations[gateway.ChecksumAnnotation]
	}
	before := checksum(routes)
	assert.Equal(t, before, checksum(routes), "stable for the same models")
	assert.NotEqual(t, before, checksum(routes[:1]), "a removed model rolls the gateway")
	assert.NotEqual(t, before, checksum([]nginx.Route{routes[1], routes[0]}), "a new default model rolls the gateway")
}

func TestAPIKeysComeFromASecret(t *testing.T) {
	const keys = "sk-first-111,sk-second-222"
	m, g := deploy(t, routes, pulumi.ToSecret(pulumi.String(keys)).(pulumi.StringOutput))
	require.NotNil(t, g.KeysSecret)
	secret := m.Find(t, "kubernetes:core/v1:Secret", "gateway-keys")
	assert.Equal(t, []string{"stringData"}, harness.SecretPaths(secret.Inputs))
	data := harness.Plain(secret.Inputs)["stringData"].(map[string]any)
	assert.Equal(t, keys, data["keys"])
	assert.Equal(t, "sk-first-111", data[gateway.ClientKeyKey], "in-cluster clients use the first key")

	dep := harness.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "gateway")
	var found bool
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "GATEWAY_API_KEYS" {
			found = true
			assert.Empty(t, e.Value)
			assert.Equal(t, "llm-gateway-keys", e.ValueFrom.SecretKeyRef.Name)
			assert.Equal(t, "keys", e.ValueFrom.SecretKeyRef.Key)
		}
	}
	assert.True(t, found)
	cm := harness.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "gateway")
	raw, _ := json.Marshal(cm)
	assert.NotContains(t, string(raw), "sk-first-111", "keys never reach the ConfigMap")
	assert.True(t, strings.Contains(cm.Data[nginx.ConfigFile], "env GATEWAY_API_KEYS"), "nginx passes the variable to Lua")
}
