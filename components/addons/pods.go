package addons

import "github.com/llm-platform/llm-platform/internal/capacity"

// Resource requests of the add-ons' pods. The charts get these values, and the stack's
// capacity check counts them against the system pool.
const (
	istiodCPU, istiodMemory   = "250m", "512Mi"
	ingressCPU, ingressMemory = "200m", "256Mi"
	// IstiodReplicas is istiod's replica count (its autoscaler's minimum when autoscaling).
	IstiodReplicas = 2
)

var (
	IstiodRequests  = capacity.MustParse(istiodCPU, istiodMemory)
	IngressRequests = capacity.MustParse(ingressCPU, ingressMemory)
	// SidecarRequests are the Istio proxy's default requests (global.proxy.resources), added
	// to every pod in a namespace with sidecar injection.
	SidecarRequests = capacity.MustParse("100m", "128Mi")
	// MetricsServerRequests are the metrics-server chart's default requests.
	MetricsServerRequests = capacity.MustParse("100m", "200Mi")
)

// Argo CD's requests: the application controller, and the server, repo server and
// ApplicationSet controller ("small"). The chart's other pods (redis, dex, notifications)
// request nothing by default.
const (
	argoControllerCPU, argoControllerMemory = "250m", "512Mi"
	argoSmallCPU, argoSmallMemory           = "100m", "256Mi"
	// redisHAPods: redis-ha runs three redis servers and three HAProxies.
	redisHAPods = 6
)

// argoReplicas is the replica count of Argo CD's stateless parts.
func argoReplicas(ha bool) int {
	if ha {
		return 2
	}
	return 1
}

// SystemPods are the pods the enabled add-ons run on non-GPU nodes, with their requests, for
// the stack's capacity check. They are the values the charts are given above, counted once.
func SystemPods(args Args) []capacity.Pods {
	var pods []capacity.Pods
	if args.Istio.Enabled {
		pods = append(pods,
			capacity.Pods{Name: "istiod", Requests: IstiodRequests, Count: IstiodReplicas},
			capacity.Pods{Name: "the Istio ingress gateway", Requests: IngressRequests, Count: args.Istio.GatewayReplicas})
	}
	if args.ArgoCD.Enabled {
		small := capacity.MustParse(argoSmallCPU, argoSmallMemory)
		pods = append(pods,
			capacity.Pods{Name: "the Argo CD application controller", Requests: capacity.MustParse(argoControllerCPU, argoControllerMemory), Count: 1},
			capacity.Pods{Name: "Argo CD's server, repo server and ApplicationSet controller", Requests: small, Count: 3 * argoReplicas(args.ArgoCD.HA)})
		if args.ArgoCD.HA {
			pods = append(pods, capacity.Pods{Name: "Argo CD's redis-ha", Count: redisHAPods})
		}
	}
	if args.MetricsServer {
		pods = append(pods, capacity.Pods{Name: "metrics-server", Requests: MetricsServerRequests, Count: 1})
	}
	if args.KEDA {
		pods = append(pods, capacity.Pods{Name: "KEDA's operator, metrics API server and webhooks", Requests: KEDARequests, Count: 3})
	}
	if args.Monitoring != nil {
		pods = append(pods, monitoringPods()...)
	}
	if args.ClusterAutoscaler != nil {
		pods = append(pods, capacity.Pods{Name: "the Cluster Autoscaler", Requests: ClusterAutoscalerRequests, Count: 1})
	}
	return pods
}

// Pod Security Standards levels (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
const (
	PodSecurityBaseline   = "baseline"
	PodSecurityRestricted = "restricted"
)

// PodSecurityLabels are the app namespace's Pod Security admission labels. The namespace holds
// every workload, so it enforces the strictest level all of them meet: baseline. The gateway
// meets restricted, but vLLM and Open WebUI run their upstream images as root (see
// docs/istio.md); restricted is audited, so the cluster's audit log shows what would break.
//
// Sidecar injection without Istio's CNI node agent adds the istio-init container, which needs
// NET_ADMIN and NET_RAW: baseline forbids both, so every pod would be refused. Then the namespace
// only warns, and says so on every apply.
func PodSecurityLabels(args Args) map[string]string {
	const prefix = "pod-security.kubernetes.io/"
	labels := map[string]string{
		prefix + "warn": PodSecurityBaseline, prefix + "warn-version": "latest",
		prefix + "audit": PodSecurityRestricted, prefix + "audit-version": "latest",
	}
	if !args.SidecarInjection || args.Istio.CNI {
		labels[prefix+"enforce"] = PodSecurityBaseline
		labels[prefix+"enforce-version"] = "latest"
	}
	return labels
}

// CNIRequests are the Istio CNI node agent's default requests, on every node (its DaemonSet
// tolerates every taint, so GPU nodes too).
var CNIRequests = capacity.MustParse("100m", "100Mi")

// NodeDaemonSets are the add-ons' DaemonSet requests on every node, beyond the cloud's own.
func NodeDaemonSets(args Args) capacity.Resources {
	if args.Istio.Enabled && args.Istio.CNI {
		return CNIRequests
	}
	return capacity.Resources{}
}
