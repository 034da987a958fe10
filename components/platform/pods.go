package platform

import "github.com/llm-platform/llm-platform/internal/capacity"

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
	if args.Monitoring != nil {
		pods = append(pods, monitoringPods()...)
	}
	return pods
}
