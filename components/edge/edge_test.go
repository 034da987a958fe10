package edge_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// TestPublicURLs: a DNS name from edge.hosts wins; with only wildcard hosts
// the ingress load balancer's address names the platform, and a hint
// stands in until the cloud assigns one.
func TestPublicURLs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		hosts     []string
		tls       string
		address   string
		api, ui   string
		disableUI bool
	}{
		{"dns name", []string{"*.example.com", "llm.example.com"}, "", "34.1.2.3", "http://llm.example.com/v1", "http://llm.example.com/", false},
		{"dns name with TLS", []string{"llm.example.com"}, "llm-tls", "", "https://llm.example.com/v1", "https://llm.example.com/", false},
		{"wildcard, load balancer ready", []string{"*"}, "", "a1b2.elb.amazonaws.com", "http://a1b2.elb.amazonaws.com/v1", "http://a1b2.elb.amazonaws.com/", false},
		{"wildcard, no address yet", []string{"*"}, "", "", "http://" + edge.ExternalAddressHint + "/v1", "http://" + edge.ExternalAddressHint + "/", false},
		{"no UI", []string{"llm.example.com"}, "", "", "http://llm.example.com/v1", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := spec.Defaults().Edge
			cfg.Hosts, cfg.TLS.CredentialName = tc.hosts, tc.tls
			var e *edge.Edge
			_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
				args := edge.Args{
					Config: cfg, Namespace: "llm",
					IngressSelector: map[string]string{"istio": "ingressgateway"}, IngressNamespace: "istio-ingress",
					Gateway: edge.Backend{Host: "llm-gateway.llm.svc.cluster.local", Port: 80, TargetPort: 8080, Pods: map[string]string{"app": "gw"}},
					Models:  map[string]string{"app": "vllm"}, ModelPort: 8000, UITimeoutSeconds: 300,
					IngressAddress: pulumi.String(tc.address),
				}
				if !tc.disableUI {
					args.WebUI = &edge.Backend{Host: "open-webui.llm.svc.cluster.local", Port: 80, TargetPort: 8080, Pods: map[string]string{"app": "ui"}}
				}
				var err error
				e, err = edge.New(ctx, "edge", args)
				return err
			})
			require.NoError(t, err)
			api, _ := pulumimock.Await(t, e.APIBaseURL)
			ui, _ := pulumimock.Await(t, e.WebUIURL)
			assert.Equal(t, tc.api, api)
			assert.Equal(t, tc.ui, ui)
		})
	}
}

// TestAPIRouteHasNoTimeoutField: the /v1 route declares no timeout at all,
// which is how Istio says "none" (its CRD refuses "0s"); the UI route keeps
// its explicit one.
func TestAPIRouteHasNoTimeoutField(t *testing.T) {
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := edge.New(ctx, "edge", edge.Args{
			Config: spec.Defaults().Edge, Namespace: "llm",
			IngressSelector: map[string]string{"istio": "ingressgateway"}, IngressNamespace: "istio-ingress",
			Gateway: edge.Backend{Host: "llm-gateway.llm.svc.cluster.local", Port: 80, TargetPort: 8080, Pods: map[string]string{"app": "gw"}},
			WebUI:   &edge.Backend{Host: "open-webui.llm.svc.cluster.local", Port: 80, TargetPort: 8080, Pods: map[string]string{"app": "ui"}},
			Models:  map[string]string{"app": "vllm"}, ModelPort: 8000, UITimeoutSeconds: 300,
		})
		return err
	})
	require.NoError(t, err)
	vs := pulumimock.Plain(m.Find(t, "kubernetes:networking.istio.io/v1:VirtualService", "edge").Inputs)
	routes := vs["spec"].(map[string]any)["http"].([]any)
	require.Len(t, routes, 2)
	api, ui := routes[0].(map[string]any), routes[1].(map[string]any)
	require.Equal(t, "api", api["name"])
	assert.NotContains(t, api, "timeout", "no timeout field: leaving it out disables the route timeout")
	assert.Equal(t, "300s", ui["timeout"])
}

// TestOneEdgePerNamespace: an edge governs its whole namespace (mutual TLS, NetworkPolicies,
// fixed object names), so a second one in the same namespace fails clearly; another namespace
// is fine.
func TestOneEdgePerNamespace(t *testing.T) {
	args := func(ns string) edge.Args {
		return edge.Args{
			Config: spec.Defaults().Edge, Namespace: ns,
			IngressSelector: map[string]string{"istio": "ingressgateway"}, IngressNamespace: "istio-ingress",
			Gateway: edge.Backend{Host: "gw." + ns + ".svc.cluster.local", Port: 80, TargetPort: 8080, Pods: map[string]string{"app": "gw"}},
			Models:  map[string]string{"app": "vllm"}, ModelPort: 8000, UITimeoutSeconds: 300,
		}
	}
	_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		if _, err := edge.New(ctx, "edge-a", args("team-a")); err != nil {
			return err
		}
		if _, err := edge.New(ctx, "edge-b", args("team-b")); err != nil {
			return err
		}
		_, err := edge.New(ctx, "edge-a2", args("team-a"))
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `edge "edge-a2": namespace "team-a" already has edge "edge-a"`)
}
