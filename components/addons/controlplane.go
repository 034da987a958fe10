package addons

// What the Kubernetes API server itself calls on the add-ons' pods: admission webhooks and
// aggregated APIs. Where a firewall stands between the control plane and the nodes (a GKE
// private cluster opens only 443 and 10250), each of these ports must be let through, or pod
// creation (istiod), ScaledObject writes and the models' HPAs (KEDA) fail.

// Endpoint is one webhook or aggregated API an add-on's chart creates, with the port its pods
// listen on (the Service's targetPort, which is what the control plane connects to).
type Endpoint struct {
	// Release is the Helm release that creates it; Object the APIService or webhook
	// configuration, as its chart names it.
	Release string
	Object  string
	Port    int
}

// IstiodWebhookPort is istiod's webhook port: the istiod Service maps 443 to it for the sidecar
// injector and config validation.
const IstiodWebhookPort = 15017

// PrometheusOperatorWebhookPort is where kube-prometheus-stack's operator serves the
// PrometheusRule and AlertmanagerConfig admission webhooks (prometheusOperator.tls.internalPort,
// 10250 by default at 88.5.3 "to work out-of-the-box in GKE private clusters").
const PrometheusOperatorWebhookPort = 10250

// ControlPlaneEndpoints are the webhooks and aggregated APIs of the add-ons args installs that a
// GKE cluster can get (Istio, kube-prometheus-stack, KEDA). The EKS-only add-ons
// (metrics-server's APIService, the AWS Load Balancer Controller's webhooks) are left out: an EKS
// control plane reaches its managed nodes through the cluster security group, which has no such
// port limit. Argo CD, the Istio gateway and CNI charts create neither webhooks nor APIServices.
func ControlPlaneEndpoints(args Args) []Endpoint {
	var out []Endpoint
	if args.Istio.Enabled {
		out = append(out,
			Endpoint{"istio-base", "ValidatingWebhookConfiguration istiod-default-validator", IstiodWebhookPort},
			Endpoint{"istiod", "MutatingWebhookConfiguration istio-sidecar-injector", IstiodWebhookPort},
			Endpoint{"istiod", "ValidatingWebhookConfiguration istio-validator-" + IstioNamespace, IstiodWebhookPort})
	}
	if args.Monitoring != nil {
		out = append(out, Endpoint{MonitoringRelease, "Mutating and ValidatingWebhookConfiguration " + MonitoringRelease + "-admission", PrometheusOperatorWebhookPort})
	}
	if args.KEDA {
		out = append(out,
			Endpoint{"keda", "APIService v1beta1.external.metrics.k8s.io", KEDAMetricsAPIPort},
			Endpoint{"keda", "ValidatingWebhookConfiguration keda-admission", KEDAWebhookPort})
	}
	return out
}
