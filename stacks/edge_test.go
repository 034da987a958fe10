package stacks

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

const (
	istioGateway    = "kubernetes:networking.istio.io/v1:Gateway"
	virtualService  = "kubernetes:networking.istio.io/v1:VirtualService"
	peerAuth        = "kubernetes:security.istio.io/v1:PeerAuthentication"
	netpol          = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	destinationRule = "kubernetes:networking.istio.io/v1:DestinationRule"
	deployment      = "kubernetes:apps/v1:Deployment"
	twoModels       = `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"},{"huggingfaceId":"google/gemma-3-4b-it","modelName":"gemma-3-4b"}]`
)

func customResource[S any](t *testing.T, m *pulumimock.Mocks, typ, name string) pulumimock.CustomResource[S] {
	t.Helper()
	return pulumimock.Decode[pulumimock.CustomResource[S]](t, m, typ, name)
}

func envByName(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

func TestWebUI(t *testing.T) {
	m, _, err := run(t, map[string]string{"models": twoModels, "gatewayApiKeys": `["sk-one","sk-two"]`}, "gatewayApiKeys")
	require.NoError(t, err)
	dep := pulumimock.Decode[appsv1.Deployment](t, m, deployment, "webui")
	pod := dep.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	env := envByName(c)

	plain := map[string]string{
		"OPENAI_API_BASE_URL":      "http://llm-gateway.llm.svc.cluster.local/v1",
		"ENABLE_OLLAMA_API":        "False",
		"WEBUI_AUTH":               "True",
		"ENABLE_SIGNUP":            "False",
		"DEFAULT_USER_ROLE":        "pending",
		"ENABLE_PERSISTENT_CONFIG": "False",
		"DEFAULT_MODELS":           "qwen3-8b",
	}
	for name, want := range plain {
		assert.Equal(t, want, env[name].Value, name)
	}
	for name, ref := range map[string][2]string{
		"WEBUI_SECRET_KEY": {"open-webui", "webui-secret-key"},
		"OPENAI_API_KEY":   {"llm-gateway-client-key", "client"}, // its own tenant's generated key
	} {
		e := env[name]
		assert.Empty(t, e.Value, "%s is never a literal", name)
		require.NotNil(t, e.ValueFrom, name)
		require.NotNil(t, e.ValueFrom.SecretKeyRef, name)
		assert.Equal(t, ref[0], e.ValueFrom.SecretKeyRef.Name, name)
		assert.Equal(t, ref[1], e.ValueFrom.SecretKeyRef.Key, name)
	}

	assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/app/backend/data"})
	require.Len(t, pod.Volumes, 1)
	require.NotNil(t, pod.Volumes[0].PersistentVolumeClaim)
	assert.Equal(t, "open-webui-data", pod.Volumes[0].PersistentVolumeClaim.ClaimName)
	claim := pulumimock.Decode[corev1.PersistentVolumeClaim](t, m, "kubernetes:core/v1:PersistentVolumeClaim", "webui")
	assert.Equal(t, "10Gi", claim.Spec.Resources.Requests.Storage().String())
	assert.Equal(t, appsv1.RecreateDeploymentStrategyType, dep.Spec.Strategy.Type, "the RWO volume is released before the new pod starts")
	for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
		require.NotNil(t, p)
		assert.Equal(t, "/health", p.HTTPGet.Path)
	}
	assert.Equal(t, "20m", m.Find(t, deployment, "webui").CreateTimeout, "the first start may take the startup probe's 10 minutes")
	assert.Equal(t, "20m", m.Find(t, "kubernetes:core/v1:Service", "webui").CreateTimeout, "its endpoints wait for that start")
	claimRes := m.Find(t, "kubernetes:core/v1:PersistentVolumeClaim", "webui")
	assert.NotContains(t, m.Find(t, deployment, "webui").DependsOn, claimRes.URN, "a WaitForFirstConsumer claim binds only once the pod exists")
	assert.False(t, c.Resources.Requests.Memory().IsZero())
	assert.False(t, c.Resources.Limits.Memory().IsZero())

	// The generated session key is secret and survives later runs.
	secret := m.Find(t, "kubernetes:core/v1:Secret", "webui")
	assert.Equal(t, []string{"stringData"}, pulumimock.SecretPaths(secret.Inputs))
	assert.Equal(t, []string{"stringData", "data"}, secret.IgnoreChanges)
}

func TestWebUIConfiguredKeyIsApplied(t *testing.T) {
	m, _, err := run(t, map[string]string{"models": twoModels, "webuiSecretKey": "configured-key"}, "webuiSecretKey")
	require.NoError(t, err)
	secret := m.Find(t, "kubernetes:core/v1:Secret", "webui")
	assert.Empty(t, secret.IgnoreChanges, "a configured key rotates when changed")
	assert.Equal(t, "configured-key", pulumimock.Plain(secret.Inputs)["stringData"].(map[string]any)["webui-secret-key"])
	env := envByName(pulumimock.Decode[appsv1.Deployment](t, m, deployment, "webui").Spec.Template.Spec.Containers[0])
	_, hasKey := env["OPENAI_API_KEY"]
	assert.False(t, hasKey, "no gateway keys, no key for the UI")
}

func TestEdgeHTTPOnly(t *testing.T) {
	m, out, err := run(t, map[string]string{"models": twoModels})
	require.NoError(t, err)
	gw := customResource[edge.GatewaySpec](t, m, istioGateway, "edge")
	assert.Equal(t, "networking.istio.io/v1", gw.APIVersion)
	assert.Equal(t, map[string]string{"istio": "ingressgateway"}, gw.Spec.Selector, "matches the ingress gateway release's pods")
	require.Len(t, gw.Spec.Servers, 1)
	assert.Equal(t, edge.ServerPort{Number: 80, Name: "http", Protocol: "HTTP"}, gw.Spec.Servers[0].Port)
	assert.Equal(t, []string{"*"}, gw.Spec.Servers[0].Hosts)
	assert.Nil(t, gw.Spec.Servers[0].TLS)

	vs := customResource[edge.VirtualServiceSpec](t, m, virtualService, "edge")
	assert.Equal(t, []string{"llm-platform"}, vs.Spec.Gateways)
	require.Len(t, vs.Spec.HTTP, 2)
	api, ui := vs.Spec.HTTP[0], vs.Spec.HTTP[1]
	assert.Equal(t, "api", api.Name, "the /v1 route comes before the catch-all")
	assert.Equal(t, []edge.HTTPMatch{{URI: edge.StringMatch{Prefix: "/v1/"}}, {URI: edge.StringMatch{Exact: "/v1"}}}, api.Match)
	assert.Equal(t, "llm-gateway.llm.svc.cluster.local", api.Route[0].Destination.Host)
	assert.Equal(t, 80, api.Route[0].Destination.Port.Number)
	assert.Empty(t, api.Timeout, "no timeout field: no cut-off for long streams (Istio refuses 0s)")
	require.NotNil(t, api.Retries)
	assert.Equal(t, 0, api.Retries.Attempts, "generations are never retried")
	assert.Equal(t, "ui", ui.Name)
	assert.Equal(t, []edge.HTTPMatch{{URI: edge.StringMatch{Prefix: "/"}}}, ui.Match)
	assert.Equal(t, "open-webui.llm.svc.cluster.local", ui.Route[0].Destination.Host)
	assert.Equal(t, "300s", ui.Timeout)

	pa := customResource[edge.PeerAuthenticationSpec](t, m, peerAuth, "edge")
	assert.Equal(t, "STRICT", pa.Spec.MTLS.Mode)
	assert.Equal(t, "llm", pa.Metadata.Namespace)
	ns := pulumimock.Decode[corev1.Namespace](t, m, "kubernetes:core/v1:Namespace", "platform-app")
	assert.Equal(t, "enabled", ns.Labels["istio-injection"])

	assert.Equal(t, "http://"+edge.ExternalAddressHint+"/v1", await(t, out.APIBaseURL), "no load balancer address yet")
	assert.Equal(t, "http://"+edge.ExternalAddressHint+"/", await(t, out.WebUIURL))
}

func TestEdgeTLS(t *testing.T) {
	m, out, err := run(t, map[string]string{"models": twoModels,
		"edge": `{"hosts":["llm.example.com"],"tls":{"credentialName":"llm-tls"}}`})
	require.NoError(t, err)
	gw := customResource[edge.GatewaySpec](t, m, istioGateway, "edge")
	require.Len(t, gw.Spec.Servers, 2)
	https, http := gw.Spec.Servers[0], gw.Spec.Servers[1]
	assert.Equal(t, 443, https.Port.Number)
	assert.Equal(t, "HTTPS", https.Port.Protocol)
	assert.Equal(t, &edge.ServerTLS{Mode: "SIMPLE", CredentialName: "llm-tls"}, https.TLS)
	assert.Equal(t, []string{"llm.example.com"}, https.Hosts)
	assert.Equal(t, 80, http.Port.Number)
	assert.Equal(t, &edge.ServerTLS{HTTPSRedirect: true}, http.TLS, "plain HTTP redirects to HTTPS")

	vs := customResource[edge.VirtualServiceSpec](t, m, virtualService, "edge")
	assert.Equal(t, []string{"llm.example.com"}, vs.Spec.Hosts)
	assert.Equal(t, "https://llm.example.com/v1", await(t, out.APIBaseURL))
	assert.Equal(t, "https://llm.example.com/", await(t, out.WebUIURL))
}

func TestDisablingTheUIRemovesItAndItsRoute(t *testing.T) {
	m, out, err := run(t, map[string]string{"models": twoModels, "webui": `{"enabled":false}`})
	require.NoError(t, err)
	assert.Empty(t, m.ByType(webui.Type))
	assert.False(t, m.Has(deployment, "webui"))
	vs := customResource[edge.VirtualServiceSpec](t, m, virtualService, "edge")
	require.Len(t, vs.Spec.HTTP, 1)
	assert.Equal(t, "api", vs.Spec.HTTP[0].Name)
	assert.False(t, m.Has(netpol, "edge-webui"))
	assert.Empty(t, await(t, out.WebUIURL))
}

func TestNetworkPolicies(t *testing.T) {
	m, _, err := run(t, map[string]string{"models": twoModels})
	require.NoError(t, err)
	from := func(name string) []networkingv1.NetworkPolicyPeer {
		p := pulumimock.Decode[networkingv1.NetworkPolicy](t, m, netpol, name)
		assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, p.Spec.PolicyTypes)
		if name == "edge-gateway" {
			// A second rule: the metrics namespaces, to the metrics port alone.
			require.Len(t, p.Spec.Ingress, 2)
			metrics := p.Spec.Ingress[1]
			require.Len(t, metrics.Ports, 1)
			assert.Equal(t, int32(gateway.MetricsPort), metrics.Ports[0].Port.IntVal)
			require.Len(t, metrics.From, 1)
			assert.Equal(t, "monitoring", metrics.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
			assert.Nil(t, metrics.From[0].PodSelector)
			for _, port := range p.Spec.Ingress[0].Ports {
				assert.NotEqual(t, int32(gateway.MetricsPort), port.Port.IntVal, "the ingress gateway and Open WebUI never reach the metrics port")
			}
		} else {
			require.Len(t, p.Spec.Ingress, 1)
		}
		return p.Spec.Ingress[0].From
	}
	selects := func(name string) map[string]string {
		return pulumimock.Decode[networkingv1.NetworkPolicy](t, m, netpol, name).Spec.PodSelector.MatchLabels
	}
	podsOf := func(typ, name string) map[string]string {
		if typ == "sts" {
			return pulumimock.Decode[appsv1.StatefulSet](t, m, "kubernetes:apps/v1:StatefulSet", name).Spec.Template.Labels
		}
		return pulumimock.Decode[appsv1.Deployment](t, m, deployment, name).Spec.Template.Labels
	}
	matches := func(selector, labels map[string]string) bool {
		for k, v := range selector {
			if labels[k] != v {
				return false
			}
		}
		return len(selector) > 0
	}

	// Models accept the gateway (and the metrics namespace) only.
	assert.True(t, matches(selects("edge-models"), podsOf("sts", "qwen3-8b")))
	assert.True(t, matches(selects("edge-models"), podsOf("sts", "gemma-3-4b")))
	modelPeers := from("edge-models")
	require.Len(t, modelPeers, 2)
	assert.True(t, matches(modelPeers[0].PodSelector.MatchLabels, podsOf("deploy", "gateway")), "the gateway may call models")
	assert.False(t, matches(modelPeers[0].PodSelector.MatchLabels, podsOf("deploy", "webui")), "Open WebUI may not")
	assert.Equal(t, "monitoring", modelPeers[1].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
	assert.Nil(t, modelPeers[1].PodSelector)

	// The gateway accepts the ingress gateway and Open WebUI.
	assert.True(t, matches(selects("edge-gateway"), podsOf("deploy", "gateway")))
	gwPeers := from("edge-gateway")
	require.Len(t, gwPeers, 2)
	assert.Equal(t, map[string]string{"istio": "ingressgateway"}, gwPeers[0].PodSelector.MatchLabels)
	assert.Equal(t, "istio-ingress", gwPeers[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
	assert.True(t, matches(gwPeers[1].PodSelector.MatchLabels, podsOf("deploy", "webui")))

	// Open WebUI accepts only the ingress gateway.
	assert.True(t, matches(selects("edge-webui"), podsOf("deploy", "webui")))
	uiPeers := from("edge-webui")
	require.Len(t, uiPeers, 1)
	assert.Equal(t, map[string]string{"istio": "ingressgateway"}, uiPeers[0].PodSelector.MatchLabels)

	// The gateway calls the models' pods by address (their headless Services' A records) and
	// reads their /metrics on the same port: a policy selects pods, not Services, so the same
	// rule admits it. The allowed port is the one the headless Services point at.
	for _, name := range []string{"qwen3-8b", "gemma-3-4b"} {
		hl := pulumimock.Decode[corev1.Service](t, m, "kubernetes:core/v1:Service", name+"-headless")
		assert.True(t, matches(hl.Spec.Selector, podsOf("sts", name)) && matches(selects("edge-models"), podsOf("sts", name)),
			"%s's headless Service selects pods the policy governs", name)
		pol := pulumimock.Decode[networkingv1.NetworkPolicy](t, m, netpol, "edge-models")
		assert.Equal(t, "http", hl.Spec.Ports[0].TargetPort.String())
		sts := pulumimock.Decode[appsv1.StatefulSet](t, m, "kubernetes:apps/v1:StatefulSet", name)
		port := sts.Spec.Template.Spec.Containers[0].Ports[0]
		assert.Equal(t, "http", port.Name)
		assert.Equal(t, port.ContainerPort, pol.Spec.Ingress[0].Ports[0].Port.IntVal, "the policy admits the pods' http port")
	}

	t.Run("can be turned off", func(t *testing.T) {
		m, _, err := run(t, map[string]string{"models": twoModels, "edge": `{"networkPolicies":false,"strictMtls":false}`})
		require.NoError(t, err)
		assert.Empty(t, m.ByType(netpol))
		assert.Empty(t, m.ByType(peerAuth))
		assert.Empty(t, m.ByType(destinationRule), "no mesh, no mutual-TLS rules")
		ns := pulumimock.Decode[corev1.Namespace](t, m, "kubernetes:core/v1:Namespace", "platform-app")
		assert.NotContains(t, ns.Labels, "istio-injection")
	})
}

// TestHeadlessServicesGetMutualTLS: under STRICT mTLS the gateway's calls to pod addresses
// stay mutual TLS: one DestinationRule per model's headless Service says ISTIO_MUTUAL instead of
// leaving it to automatic detection, which ORIGINAL_DST clusters have not always had.
func TestHeadlessServicesGetMutualTLS(t *testing.T) {
	m, _, err := run(t, map[string]string{"models": twoModels})
	require.NoError(t, err)
	require.Len(t, m.ByType(destinationRule), 2)
	for _, name := range []string{"qwen3-8b", "gemma-3-4b"} {
		dr := customResource[edge.DestinationRuleSpec](t, m, destinationRule, "edge-"+name+"-headless")
		assert.Equal(t, name+"-headless.llm.svc.cluster.local", dr.Spec.Host)
		assert.Equal(t, "ISTIO_MUTUAL", dr.Spec.TrafficPolicy.TLS.Mode)
		assert.Equal(t, "llm", dr.Metadata.Namespace)
		assert.Equal(t, name+"-headless", dr.Metadata.Name)
		assert.Equal(t, name, dr.Metadata.Labels["app.kubernetes.io/instance"], "the rule goes with its model")
		assert.True(t, m.Has("kubernetes:core/v1:Service", name+"-headless"), "the rule's host is a declared Service")
	}
}

func await(t *testing.T, o pulumi.StringOutput) string {
	t.Helper()
	v, _ := pulumimock.Await(t, o)
	return v.(string)
}
