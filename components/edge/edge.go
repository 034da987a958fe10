// Package edge exposes the API and the UI on one address through the Istio
// ingress gateway, and fences the application namespace: STRICT mutual TLS
// inside the mesh and NetworkPolicies that say who may talk to whom.
package edge

import (
	"fmt"
	"strings"
	"sync"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/argcheck"
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
	// UITimeout bounds UI requests; the API has none (streams run long).
	UITimeoutSeconds int `pulumi:"uiTimeoutSeconds"`
	// IngressAddress is the ingress load balancer's address ("" while
	// unknown); it names the platform when every host is a wildcard.
	IngressAddress pulumi.StringInput `pulumi:"ingressAddress,optional"`
}

// Edge is the public entry point.
type Edge struct {
	pulumi.ResourceState
	// APIBaseURL and WebUIURL are the public URLs (WebUIURL is "" without UI).
	APIBaseURL pulumi.StringOutput `pulumi:"apiBaseUrl"`
	WebUIURL   pulumi.StringOutput `pulumi:"webUiUrl"`
}

// Istio networking.istio.io/v1 specs: just the fields we set.
type (
	GatewaySpec struct {
		Selector map[string]string `json:"selector"`
		Servers  []Server          `json:"servers"`
	}
	Server struct {
		Port  ServerPort `json:"port"`
		Hosts []string   `json:"hosts"`
		TLS   *ServerTLS `json:"tls,omitempty"`
	}
	ServerPort struct {
		Number   int    `json:"number"`
		Name     string `json:"name"`
		Protocol string `json:"protocol"`
	}
	ServerTLS struct {
		HTTPSRedirect  bool   `json:"httpsRedirect,omitempty"`
		Mode           string `json:"mode,omitempty"`
		CredentialName string `json:"credentialName,omitempty"`
	}
	VirtualServiceSpec struct {
		Hosts    []string    `json:"hosts"`
		Gateways []string    `json:"gateways"`
		HTTP     []HTTPRoute `json:"http"`
	}
	HTTPRoute struct {
		Name    string             `json:"name"`
		Match   []HTTPMatch        `json:"match"`
		Route   []RouteDestination `json:"route"`
		Timeout string             `json:"timeout,omitempty"` // "" = no timeout; Istio refuses "0s"
		Retries *Retries           `json:"retries,omitempty"`
	}
	HTTPMatch struct {
		URI StringMatch `json:"uri"`
	}
	StringMatch struct {
		Prefix string `json:"prefix,omitempty"`
		Exact  string `json:"exact,omitempty"`
	}
	RouteDestination struct {
		Destination Destination `json:"destination"`
	}
	Destination struct {
		Host string `json:"host"`
		Port struct {
			Number int `json:"number"`
		} `json:"port"`
	}
	Retries struct {
		Attempts int    `json:"attempts"`
		RetryOn  string `json:"retryOn,omitempty"`
	}
	PeerAuthenticationSpec struct {
		MTLS struct {
			Mode string `json:"mode"`
		} `json:"mtls"`
	}
)

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
	if err := ctx.RegisterComponentResource(Type, name, e, withFormerType(opts)...); err != nil {
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

func gatewaySpec(args Args) GatewaySpec {
	hosts := args.Config.Hosts
	http := Server{Port: ServerPort{Number: 80, Name: "http", Protocol: "HTTP"}, Hosts: hosts}
	if args.Config.TLS.CredentialName == "" {
		return GatewaySpec{Selector: args.IngressSelector, Servers: []Server{http}}
	}
	http.TLS = &ServerTLS{HTTPSRedirect: true}
	https := Server{
		Port:  ServerPort{Number: 443, Name: "https", Protocol: "HTTPS"},
		Hosts: hosts,
		// The credential is a kubernetes.io/tls Secret in the ingress
		// gateway's namespace.
		TLS: &ServerTLS{Mode: "SIMPLE", CredentialName: args.Config.TLS.CredentialName},
	}
	return GatewaySpec{Selector: args.IngressSelector, Servers: []Server{https, http}}
}

func destination(b Backend) []RouteDestination {
	var d Destination
	d.Host, d.Port.Number = b.Host, b.Port
	return []RouteDestination{{Destination: d}}
}

func virtualServiceSpec(args Args) VirtualServiceSpec {
	routes := []HTTPRoute{{
		Name:  "api",
		Match: []HTTPMatch{{URI: StringMatch{Prefix: "/v1/"}}, {URI: StringMatch{Exact: "/v1"}}},
		Route: destination(args.Gateway),
		// No Timeout: leaving it out is what disables Istio's route timeout,
		// so a generation streams for as long as it takes (the gateway's own
		// timeouts still apply). "0s" does not mean "none" here: the API
		// server refuses it (the CRD's rule wants at least 1ms).
		// Generations are not idempotent, so they are never retried.
		Retries: &Retries{Attempts: 0},
	}}
	if args.WebUI != nil {
		routes = append(routes, HTTPRoute{
			Name:    "ui",
			Match:   []HTTPMatch{{URI: StringMatch{Prefix: "/"}}},
			Route:   destination(*args.WebUI),
			Timeout: fmt.Sprintf("%ds", args.UITimeoutSeconds),
			Retries: &Retries{Attempts: 2, RetryOn: "connect-failure,refused-stream,unavailable"},
		})
	}
	return VirtualServiceSpec{Hosts: args.Config.Hosts, Gateways: []string{Name}, HTTP: routes}
}

// networkPolicies: models accept only the gateway (and metrics scrapers in
// the configured namespaces), the gateway only the ingress gateway and Open
// WebUI, Open WebUI only the ingress gateway.
func networkPolicies(ctx *pulumi.Context, name string, args Args, labels map[string]string, parent pulumi.ResourceOption) error {
	ingress := peer(args.IngressSelector, args.IngressNamespace)
	gatewayPeers := []networkingv1.NetworkPolicyPeerInput{ingress}
	if args.WebUI != nil {
		gatewayPeers = append(gatewayPeers, peer(args.WebUI.Pods, ""))
	}
	modelPeers := []networkingv1.NetworkPolicyPeerInput{peer(args.Gateway.Pods, "")}
	for _, ns := range args.Config.MetricsNamespaces {
		modelPeers = append(modelPeers, peer(nil, ns))
	}
	policies := []struct {
		suffix string
		pods   map[string]string
		port   int
		from   []networkingv1.NetworkPolicyPeerInput
	}{
		{"models", args.Models, args.ModelPort, modelPeers},
		{"gateway", args.Gateway.Pods, args.Gateway.TargetPort, gatewayPeers},
	}
	if args.WebUI != nil {
		policies = append(policies, struct {
			suffix string
			pods   map[string]string
			port   int
			from   []networkingv1.NetworkPolicyPeerInput
		}{"webui", args.WebUI.Pods, args.WebUI.TargetPort, []networkingv1.NetworkPolicyPeerInput{ingress}})
	}
	for _, p := range policies {
		_, err := networkingv1.NewNetworkPolicy(ctx, name+"-"+p.suffix, &networkingv1.NetworkPolicyArgs{
			Metadata: kube.Meta("allow-"+p.suffix, args.Namespace, labels),
			Spec: &networkingv1.NetworkPolicySpecArgs{
				PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(p.pods)},
				PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
				Ingress: networkingv1.NetworkPolicyIngressRuleArray{&networkingv1.NetworkPolicyIngressRuleArgs{
					From: networkingv1.NetworkPolicyPeerArray(p.from),
					Ports: networkingv1.NetworkPolicyPortArray{
						&networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(p.port), Protocol: pulumi.String("TCP")},
						// Istio's sidecar serves health checks that the
						// kubelet's rewritten probes and scrapers use.
						&networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(15020), Protocol: pulumi.String("TCP")},
					},
				}},
			},
		}, parent)
		if err != nil {
			return err
		}
	}
	return nil
}

// peer selects pods by labels in a namespace ("" = the policy's own), or a
// whole namespace when pods is nil.
func peer(pods map[string]string, namespace string) networkingv1.NetworkPolicyPeerInput {
	p := &networkingv1.NetworkPolicyPeerArgs{}
	if pods != nil {
		p.PodSelector = &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(pods)}
	}
	if namespace != "" {
		p.NamespaceSelector = &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
			"kubernetes.io/metadata.name": pulumi.String(namespace),
		}}
	}
	return p
}

// formerType is the type token before llm-platform:index:*. The alias keeps the URNs of
// stacks deployed with it (and of every child, whose URNs include it): no replacement.
const formerType = "llm-platform:edge:Edge"

func withFormerType(opts []pulumi.ResourceOption) []pulumi.ResourceOption {
	return append(opts[:len(opts):len(opts)], pulumi.Aliases([]pulumi.Alias{{Type: pulumi.String(formerType)}}))
}
