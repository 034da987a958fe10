package model

import (
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The model pod under Istio's sidecar injection (the app namespace gets it with strict mutual
// TLS).
//
// Istio injects the proxy as a native sidecar (an init container that keeps running) only when
// every node's kubelet is 1.33 or newer (pkg/kube/inject/webhook.go, DetectNativeSidecar, in
// 1.30); with one older node every pod gets a classic sidecar, which starts after all init
// containers. The traffic redirection, though, is in place before any init container runs (set
// up by the CNI agent, or by istio-init, the first init container): fetch-loras, which copies
// adapters from S3 or Cloud Storage, would send its requests to a proxy that does not exist yet,
// and the pod would never start.
//
// The pod's object-store and credential traffic therefore bypasses the proxy, on every node
// version: outbound port 443 (S3, Cloud Storage, STS for IRSA) and the metadata addresses that
// hand out credentials (169.254.169.254: GKE's Workload Identity metadata server and EC2's
// instance metadata; 169.254.170.23: EKS Pod Identity's agent). That traffic leaves the mesh
// anyway (nothing in it is a mesh service; Istio's default ALLOW_ANY passes it through), so the
// mesh loses nothing it enforced. The alternative, refusing the config on clusters with nodes
// older than 1.33, would need the nodes' versions before the cluster exists and would refuse
// clusters on which the pod works. Not covered: a preinstalled Istio with DNS capture
// (ISTIO_META_DNS_CAPTURE), whose DNS redirection these annotations do not lift.
const (
	IstioExcludeOutboundPorts    = "traffic.sidecar.istio.io/excludeOutboundPorts"
	IstioExcludeOutboundIPRanges = "traffic.sidecar.istio.io/excludeOutboundIPRanges"
)

// ObjectStorePort is the port of the object stores' and the cloud STS endpoints' HTTPS.
const ObjectStorePort = 443

// CredentialEndpoints are the link-local addresses credentials come from: GKE's metadata server
// (and EC2's instance metadata), and EKS Pod Identity's agent.
var CredentialEndpoints = []string{"169.254.169.254/32", "169.254.170.23/32"}

// podAnnotations are the model pod's annotations: Prometheus' scrape hints, the sidecar's
// drain settings and, when an init container needs the network, the mesh bypass above.
func podAnnotations(args Args) pulumi.StringMap {
	s := args.Spec
	a := pulumi.StringMap{
		"prometheus.io/scrape": pulumi.String("true"),
		"prometheus.io/port":   pulumi.String(strconv.Itoa(Port)),
		"prometheus.io/path":   pulumi.String("/metrics"),
		// Istio's sidecar outlives the drain (drain.go).
		IstioProxyConfigAnnotation: pulumi.String(Drain(s).istioAnnotation()),
	}
	if fetchLoRAsContainer(args) != nil {
		a[IstioExcludeOutboundPorts] = pulumi.String(strconv.Itoa(ObjectStorePort))
		a[IstioExcludeOutboundIPRanges] = pulumi.String(strings.Join(CredentialEndpoints, ","))
	}
	return a
}
