package edge

import (
	"fmt"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/kube"
)

// The namespace's fence: NetworkPolicies that say who may talk to whom, and the one exception
// to STRICT mutual TLS, the metrics ports.

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
