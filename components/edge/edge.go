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
		// Selector limits a workload's policy to its pods (nil: the whole namespace).
		Selector *WorkloadSelector `json:"selector,omitempty"`
		MTLS     struct {
			Mode string `json:"mode"`
		} `json:"mtls"`
		// PortLevelMTLS overrides the mode per container port (needs a Selector).
		PortLevelMTLS map[string]MTLSMode `json:"portLevelMtls,omitempty"`
	}
	WorkloadSelector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	}
	MTLSMode struct {
		Mode string `json:"mode"`
	}
	// DestinationRuleSpec is the part of an Istio DestinationRule the edge sets: the client
	// side's TLS mode for one host.
	DestinationRuleSpec struct {
		Host          string `json:"host"`
		TrafficPolicy struct {
			TLS struct {
				Mode string `json:"mode"`
			} `json:"tls"`
		} `json:"trafficPolicy"`
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
// WebUI (and, on its metrics port alone, the scrapers), Open WebUI only the
// ingress gateway.
func networkPolicies(ctx *pulumi.Context, name string, args Args, labels map[string]string, parent pulumi.ResourceOption) error {
	ingress := peer(args.IngressSelector, args.IngressNamespace)
	gatewayPeers := []networkingv1.NetworkPolicyPeerInput{ingress}
	if args.WebUI != nil {
		gatewayPeers = append(gatewayPeers, peer(args.WebUI.Pods, ""))
	}
	modelPeers := []networkingv1.NetworkPolicyPeerInput{peer(args.Gateway.Pods, "")}
	var scrapers []networkingv1.NetworkPolicyPeerInput
	for _, ns := range args.Config.MetricsNamespaces {
		scrapers = append(scrapers, peer(nil, ns))
	}
	modelPeers = append(modelPeers, scrapers...)
	type policy struct {
		suffix string
		pods   map[string]string
		port   int
		from   []networkingv1.NetworkPolicyPeerInput
		// metricsPort, when set, is admitted from the metrics namespaces only.
		metricsPort int
	}
	policies := []policy{
		{suffix: "models", pods: args.Models, port: args.ModelPort, from: modelPeers},
		{suffix: "gateway", pods: args.Gateway.Pods, port: args.Gateway.TargetPort, from: gatewayPeers, metricsPort: args.Gateway.MetricsPort},
	}
	if args.WebUI != nil {
		policies = append(policies, policy{suffix: "webui", pods: args.WebUI.Pods, port: args.WebUI.TargetPort, from: []networkingv1.NetworkPolicyPeerInput{ingress}})
	}
	for _, p := range policies {
		rules := networkingv1.NetworkPolicyIngressRuleArray{&networkingv1.NetworkPolicyIngressRuleArgs{
			From: networkingv1.NetworkPolicyPeerArray(p.from),
			Ports: networkingv1.NetworkPolicyPortArray{
				&networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(p.port), Protocol: pulumi.String("TCP")},
				// Istio's sidecar serves health checks that the
				// kubelet's rewritten probes and scrapers use.
				&networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(15020), Protocol: pulumi.String("TCP")},
			},
		}}
		if p.metricsPort != 0 && len(scrapers) > 0 {
			rules = append(rules, &networkingv1.NetworkPolicyIngressRuleArgs{
				From:  networkingv1.NetworkPolicyPeerArray(scrapers),
				Ports: networkingv1.NetworkPolicyPortArray{&networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(p.metricsPort), Protocol: pulumi.String("TCP")}},
			})
		}
		_, err := networkingv1.NewNetworkPolicy(ctx, name+"-"+p.suffix, &networkingv1.NetworkPolicyArgs{
			Metadata: kube.Meta("allow-"+p.suffix, args.Namespace, labels),
			Spec: &networkingv1.NetworkPolicySpecArgs{
				PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(p.pods)},
				PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
				Ingress:     rules,
			},
		}, parent)
		if err != nil {
			return err
		}
	}
	return nil
}

// plaintextMetrics relaxes STRICT mutual TLS on the metrics ports only, per workload: the
// model pods' port (vLLM serves /metrics on its API port) and the gateway's metrics port.
func plaintextMetrics(ctx *pulumi.Context, name string, args Args, labels map[string]string, parent pulumi.ResourceOption) error {
	for _, w := range []struct {
		suffix string
		pods   map[string]string
		port   int
	}{{"models", args.Models, args.ModelPort}, {"gateway", args.Gateway.Pods, args.Gateway.MetricsPort}} {
		if w.port == 0 || len(w.pods) == 0 {
			continue
		}
		var pa PeerAuthenticationSpec
		pa.Selector = &WorkloadSelector{MatchLabels: w.pods}
		pa.MTLS.Mode = "STRICT"
		pa.PortLevelMTLS = map[string]MTLSMode{fmt.Sprint(w.port): {Mode: "PERMISSIVE"}}
		if _, err := kube.NewCustomResource(ctx, name+"-metrics-"+w.suffix, "security.istio.io/v1", "PeerAuthentication",
			kube.Meta("metrics-"+w.suffix, args.Namespace, labels), pa, parent); err != nil {
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
