// Package edge exposes the API and the UI on one address through the Istio
// ingress gateway, and fences the application namespace: STRICT mutual TLS
// inside the mesh and NetworkPolicies that say who may talk to whom
// (fence.go). The Istio objects' specs and the routes are in routes.go.
package edge

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/argcheck"
	"github.com/llm-platform/llm-platform/internal/formertype"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// perNamespace records the Edge of each namespace, per program (Pulumi context).
var perNamespace sync.Map // namespaceKey -> component name

type namespaceKey struct {
	ctx       *pulumi.Context
	namespace string
}

// Type is the Edge component's type token.
const Type = "llm-platform:index:Edge"

// Name is the Istio Gateway's and VirtualService's name.
const Name = "llm-platform"

// Backend is a Service the edge routes to and the pods behind it.
type Backend struct {
	Host string `pulumi:"host"` // cluster DNS name of the Service
	Port int    `pulumi:"port"` // Service port
	// TargetPort is the pods' port, for NetworkPolicies.
	TargetPort int `pulumi:"targetPort"`
	// Pods selects the backend's pods.
	Pods map[string]string `pulumi:"pods"`
	// MetricsPort, when set, is the pods' metrics port: only Config.MetricsNamespaces may
	// reach it (not the ingress gateway, not Open WebUI).
	MetricsPort int `pulumi:"metricsPort,optional"`
}

// PodService is a headless Service whose pods are called by address.
type PodService struct {
	// Host is the Service's cluster DNS name.
	Host string `pulumi:"host"`
	// Instance is the app.kubernetes.io/instance of what the Service belongs to (the model):
	// the rule carries it, as an object of that model.
	Instance string `pulumi:"instance"`
}

// Args are the edge's inputs.
type Args struct {
	Config    Config `pulumi:"config"`
	Namespace string `pulumi:"namespace"`
	// IngressSelector selects the ingress gateway pods; IngressNamespace is
	// where they run.
	IngressSelector  map[string]string `pulumi:"ingressSelector"`
	IngressNamespace string            `pulumi:"ingressNamespace"`
	Gateway          Backend           `pulumi:"gateway"`
	// WebUI is nil when the UI is disabled: no "/" route then.
	WebUI *Backend `pulumi:"webui,optional"`
	// Models selects every model pod; ModelPort is vLLM's port.
	Models    map[string]string `pulumi:"models"`
	ModelPort int               `pulumi:"modelPort"`
	// PodServices are headless Services whose pods are called by address (the models'
	// replicas, which the gateway picks itself). With StrictMTLS each gets a DestinationRule
	// requiring Istio mutual TLS: a headless Service's traffic goes through an ORIGINAL_DST
	// cluster, where Istio's automatic mTLS has not always applied (istio/istio #19703,
	// #21964), so it is declared rather than left to detection.
	PodServices []PodService `pulumi:"podServices,optional"`
	// UITimeout bounds UI requests; the API has none (streams run long).
	UITimeoutSeconds int `pulumi:"uiTimeoutSeconds"`
	// IngressAddress is the ingress load balancer's address ("" while
	// unknown); it names the platform when every host is a wildcard.
	IngressAddress pulumi.StringInput `pulumi:"ingressAddress,optional"`
	// PlaintextMetrics, with StrictMTLS, lets a Prometheus outside the mesh scrape: the
	// model pods' ModelPort and the gateway's MetricsPort also accept plain HTTP (port-level
	// PERMISSIVE). The NetworkPolicies still admit only the gateway and Config.MetricsNamespaces
	// to those ports.
	PlaintextMetrics bool `pulumi:"plaintextMetrics,optional"`
}

// Edge is the public entry point.
type Edge struct {
	pulumi.ResourceState
	// APIBaseURL and WebUIURL are the public URLs (WebUIURL is "" without UI).
	APIBaseURL pulumi.StringOutput `pulumi:"apiBaseUrl"`
	WebUIURL   pulumi.StringOutput `pulumi:"webUiUrl"`
}

// New declares the Gateway, VirtualService, PeerAuthentication and policies.
//
// An Edge is one per namespace: its mutual-TLS policy and NetworkPolicies govern the whole
// namespace and its objects have fixed names (the Istio Gateway and VirtualService
// "llm-platform", the policy "default", the NetworkPolicies "allow-*"). A second Edge in the
// same namespace fails; put a second platform in a namespace of its own.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Edge, error) {
	if err := argcheck.Required("Edge", name, args); err != nil {
		return nil, err
	}
	if first, loaded := perNamespace.LoadOrStore(namespaceKey{ctx, args.Namespace}, name); loaded {
		return nil, fmt.Errorf("edge %q: namespace %q already has edge %q; an edge governs its whole namespace, so give each its own namespace", name, args.Namespace, first)
	}
	e := &Edge{}
	if err := ctx.RegisterComponentResource(Type, name, e, formertype.Aliased(opts, formerType)...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(e)
	cfg := args.Config
	tls := cfg.TLS.CredentialName != ""
	labels := kube.Labels("llm-platform-edge", Name, "edge")

	if _, err := kube.NewCustomResource(ctx, name, "networking.istio.io/v1", "Gateway",
		kube.Meta(Name, args.Namespace, labels), gatewaySpec(args), parent); err != nil {
		return nil, err
	}
	if _, err := kube.NewCustomResource(ctx, name, "networking.istio.io/v1", "VirtualService",
		kube.Meta(Name, args.Namespace, labels), virtualServiceSpec(args), parent); err != nil {
		return nil, err
	}
	if cfg.StrictMTLS {
		var pa PeerAuthenticationSpec
		pa.MTLS.Mode = "STRICT"
		if _, err := kube.NewCustomResource(ctx, name, "security.istio.io/v1", "PeerAuthentication",
			kube.Meta("default", args.Namespace, labels), pa, parent); err != nil {
			return nil, err
		}
		if args.PlaintextMetrics {
			if err := plaintextMetrics(ctx, name, args, labels, parent); err != nil {
				return nil, err
			}
		}
		for _, ps := range args.PodServices {
			var dr DestinationRuleSpec
			dr.Host = ps.Host
			dr.TrafficPolicy.TLS.Mode = "ISTIO_MUTUAL"
			svc, _, _ := strings.Cut(ps.Host, ".")
			if _, err := kube.NewCustomResource(ctx, name+"-"+svc, "networking.istio.io/v1", "DestinationRule",
				kube.Meta(svc, args.Namespace, kube.Labels("llm-platform-edge", ps.Instance, "edge")), dr, parent); err != nil {
				return nil, err
			}
		}
	}
	if cfg.NetworkPolicies {
		if err := networkPolicies(ctx, name, args, labels, parent); err != nil {
			return nil, err
		}
	}

	scheme := "http"
	if tls {
		scheme = "https"
	}
	address := args.IngressAddress
	if address == nil {
		address = pulumi.String("")
	}
	host := address.ToStringOutput().ApplyT(func(lb string) string { return publicHost(cfg.Hosts, lb) }).(pulumi.StringOutput)
	e.APIBaseURL = pulumi.Sprintf("%s://%s/v1", scheme, host)
	e.WebUIURL = pulumi.String("").ToStringOutput()
	if args.WebUI != nil {
		e.WebUIURL = pulumi.Sprintf("%s://%s/", scheme, host)
	}
	return e, ctx.RegisterResourceOutputs(e, pulumi.Map{"apiBaseUrl": e.APIBaseURL, "webUiUrl": e.WebUIURL})
}

// ExternalAddressHint stands in for the host when every configured host is a
// wildcard and the load balancer has no address yet.
const ExternalAddressHint = "<istio-ingressgateway external address>"

// publicHost is the first configured DNS name, else the load balancer's
// address, else the hint.
func publicHost(hosts []string, lbAddress string) string {
	for _, h := range hosts {
		if !strings.Contains(h, "*") {
			return h
		}
	}
	if lbAddress != "" {
		return lbAddress
	}
	return ExternalAddressHint
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:edge:Edge"
