package stacks

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// chartEndpoint is an admission webhook or APIService a chart creates, and the port its pods
// listen on: the chart value that sets its Service's targetPort ("" when the chart fixes it) and
// that value's default.
type chartEndpoint struct {
	object string
	value  string
	port   int
}

// chartEndpoints are every webhook and APIService of every chart a GKE stack can install, read
// from the charts' templates at the pinned versions (the version is part of the entry: a bump
// fails the test below until someone reads the new templates):
//   - base, istiod (istio/istio manifests/charts, 1.30.3's templates; the 1.30 CRDs and charts
//     are unchanged in 1.30.x): base's defaultrevision-validatingwebhookconfiguration.yaml and
//     istiod's mutatingwebhook.yaml and validatingwebhookconfiguration.yaml call Service istiod,
//     port 443, whose targetPort is 15017 (istio-discovery templates/service.yaml); no value
//     moves it. revision-tags-mwc.yaml needs revisionTags, which we do not set. cni and gateway
//     create none.
//   - argo-cd: none (templates read at 10.1.1, the newest argo-helm release stored here).
//   - kube-prometheus-stack 88.5.3: templates/prometheus-operator/admission-webhooks/
//     {mutating,validating}WebhookConfiguration.yaml call the operator's Service, targetPort
//     https, the operator container's port prometheusOperator.tls.internalPort (10250).
//   - keda 2.20.2: templates/metrics-server/apiservice.yaml (Service keda-operator-metrics-
//     apiserver, targetPort service.portHttpsTarget, 6443) and webhooks/validatingconfiguration.yaml
//     (Service keda-admission-webhooks, targetPort webhooks.port | default 9443).
var chartEndpoints = map[string]struct {
	version   string
	endpoints []chartEndpoint
}{
	"base":    {versions.IstioBase.Version, []chartEndpoint{{"ValidatingWebhookConfiguration istiod-default-validator", "", 15017}}},
	"istiod":  {versions.Istiod.Version, []chartEndpoint{{"MutatingWebhookConfiguration istio-sidecar-injector", "", 15017}, {"ValidatingWebhookConfiguration istio-validator-istio-system", "", 15017}}},
	"cni":     {"1.30.4", nil},
	"gateway": {"1.30.4", nil},
	"argo-cd": {"10.9.0", nil},
	"kube-prometheus-stack": {"88.5.3", []chartEndpoint{
		{"MutatingWebhookConfiguration and ValidatingWebhookConfiguration kube-prometheus-stack-admission", "prometheusOperator.tls.internalPort", 10250},
	}},
	"keda": {"2.20.2", []chartEndpoint{
		{"APIService v1beta1.external.metrics.k8s.io", "service.portHttpsTarget", 6443},
		{"ValidatingWebhookConfiguration keda-admission", "webhooks.port", 9443},
	}},
}

// valueAt reads a dotted path from a release's values; ok is false when it is not set.
func valueAt(values map[string]any, path string) (any, bool) {
	var cur any = values
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// firewallPorts are the ports the created cluster's control-plane firewall opens (none when
// there is no such rule).
func firewallPorts(t *testing.T, m *pulumimock.Mocks) []int {
	t.Helper()
	rules := m.ByType("gcp:compute/firewall:Firewall")
	if len(rules) == 0 {
		return nil
	}
	require.Len(t, rules, 1)
	fw := pulumimock.View[struct {
		Allows []struct {
			Ports []string `json:"ports"`
		} `json:"allows"`
	}](t, rules[0])
	var out []int
	for _, a := range fw.Allows {
		for _, p := range a.Ports {
			n, err := strconv.Atoi(p)
			require.NoError(t, err, "a single port, not a range: %q", p)
			out = append(out, n)
		}
	}
	return out
}

// endpoint is one webhook or APIService of a declared release, with the port it listens on.
type endpoint struct {
	chart, object string
	port          int
}

// endpoints lists every webhook and APIService the stack's charts create, from the catalogue
// above and the values the releases declare.
func endpoints(t *testing.T, m *pulumimock.Mocks) []endpoint {
	t.Helper()
	var out []endpoint
	for _, r := range m.ByType(helmReleaseType) {
		rel := pulumimock.View[struct {
			Chart   string         `json:"chart"`
			Version string         `json:"version"`
			Values  map[string]any `json:"values"`
		}](t, r)
		known, ok := chartEndpoints[rel.Chart]
		require.True(t, ok, "chart %s: read its templates for webhooks and APIServices and add it to chartEndpoints", rel.Chart)
		require.Equal(t, known.version, rel.Version, "chart %s was bumped: re-read its templates for webhooks and APIServices", rel.Chart)
		for _, e := range known.endpoints {
			port := e.port
			if v, set := valueAt(rel.Values, e.value); e.value != "" && set {
				n, err := strconv.Atoi(fmt.Sprint(v))
				require.NoError(t, err, "%s %s", rel.Chart, e.value)
				port = n
			}
			out = append(out, endpoint{rel.Chart, e.object, port})
		}
	}
	return out
}

// unreachable are the endpoints whose port the control plane cannot reach: neither GKE's own
// rule (443, 10250) nor the created cluster's firewall opens it.
func unreachable(t *testing.T, m *pulumimock.Mocks) []string {
	t.Helper()
	open := append(slices.Clone(gke.GKEOpenPorts), firewallPorts(t, m)...)
	var out []string
	for _, e := range endpoints(t, m) {
		if !slices.Contains(open, e.port) {
			out = append(out, fmt.Sprintf("%s's %s on %d", e.chart, e.object, e.port))
		}
	}
	return out
}

// TestGKEControlPlaneReachesEveryWebhookAndAPIService: a created private GKE cluster with every
// add-on the stack installs there (Istio, Argo CD, kube-prometheus-stack, KEDA) lets the control
// plane reach every webhook and aggregated API those charts create, and opens nothing else.
func TestGKEControlPlaneReachesEveryWebhookAndAPIService(t *testing.T) {
	all := gkeConfig(`{"name":"llm-gke"}`)
	all["observability"] = `{"enabled":true}`
	all["models"] = `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","autoscaling":{"enabled":true,"minReplicas":0}}]`
	m, _ := runCloud(t, all)
	releases := map[string]bool{}
	for _, r := range m.ByType(helmReleaseType) {
		releases[pulumimock.View[struct{ Chart string }](t, r).Chart] = true
	}
	assert.ElementsMatch(t, []string{"base", "cni", "istiod", "gateway", "argo-cd", "kube-prometheus-stack", "keda"}, slices.Collect(maps.Keys(releases)))
	assert.Empty(t, unreachable(t, m))
	assert.ElementsMatch(t, []int{6443, 9443, 15017}, firewallPorts(t, m), "what GKE does not open")
	for _, p := range firewallPorts(t, m) {
		assert.True(t, slices.ContainsFunc(endpoints(t, m), func(e endpoint) bool { return e.port == p }), "port %d is opened for nothing", p)
	}

	t.Run("without autoscaling, no KEDA ports", func(t *testing.T) {
		cfg := gkeConfig(`{"name":"llm-gke"}`)
		cfg["observability"] = `{"enabled":true}`
		m, _ := runCloud(t, cfg)
		assert.Empty(t, unreachable(t, m))
		assert.Equal(t, []int{15017}, firewallPorts(t, m))
	})
	t.Run("without Istio or KEDA, no rule", func(t *testing.T) {
		cfg := gkeConfig(`{"name":"llm-gke"}`)
		cfg["platform"] = `{"istio":{"enabled":false}}`
		cfg["edge"] = `{"enabled":false}`
		cfg["observability"] = `{"enabled":true}`
		m, _ := runCloud(t, cfg)
		assert.Empty(t, unreachable(t, m))
		assert.Empty(t, firewallPorts(t, m), "kube-prometheus-stack's webhook port is one GKE opens")
	})
}

// TestChartEndpointCatalogueCatchesAnUnopenedPort proves the check above can fail: a KEDA whose
// webhooks listen elsewhere than the firewall opens is reported.
func TestChartEndpointCatalogueCatchesAnUnopenedPort(t *testing.T) {
	cfg := gkeConfig(`{"name":"llm-gke"}`)
	cfg["observability"] = `{"enabled":true}`
	cfg["models"] = `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b","autoscaling":{"enabled":true}}]`
	m, _ := runCloud(t, cfg)
	saved := chartEndpoints["keda"]
	t.Cleanup(func() { chartEndpoints["keda"] = saved })
	chartEndpoints["keda"] = struct {
		version   string
		endpoints []chartEndpoint
	}{saved.version, append(slices.Clone(saved.endpoints), chartEndpoint{"a webhook moved by a chart bump", "", 8443})}
	assert.Equal(t, []string{"keda's a webhook moved by a chart bump on 8443"}, unreachable(t, m))
}
