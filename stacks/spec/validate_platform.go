package spec

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// validatePlatform checks what the add-ons need from each other and from the cluster.
func validatePlatform(p *problems, cfg *Config) {
	istio := cfg.Platform.Istio
	p.oneOf("platform.istio.serviceType", istio.ServiceType, ingressServiceTypes)
	// The edge is Istio objects (Gateway, VirtualService, PeerAuthentication): without Istio's
	// CRDs the API server refuses them after everything else was created.
	if cfg.Edge.Enabled && !istio.Enabled && !istio.Preinstalled {
		p.add("edge.enabled", "needs Istio, but platform.istio.enabled is false; set platform.istio.enabled: true, "+
			"or platform.istio.preinstalled: true if the cluster already runs Istio (CRDs, istiod and an ingress gateway labelled istio=ingressgateway), "+
			"or edge.enabled: false")
	}
	if istio.Enabled && istio.Preinstalled {
		p.add("platform.istio.preinstalled", "is true while platform.istio.enabled installs Istio too; set one of them")
	}
	// redis-ha's pods repel each other (required anti-affinity): three nodes at least.
	argo := cfg.Platform.ArgoCD
	if argo.Enabled && argo.HA {
		const need = 3
		key, nodes := "", 0
		switch {
		case cfg.Cloud == CloudGKE && cfg.GKE.Cluster.Create:
			key, nodes = "gke.cluster.systemNodeCount", cfg.GKE.Cluster.SystemNodeCount*cfg.GKE.SystemPoolZones()
		case cfg.Cloud == CloudEKS && cfg.EKS.Cluster.Create:
			key, nodes = "eks.cluster.systemNodeCount", cfg.EKS.Cluster.SystemNodeCount
		}
		if key != "" && nodes < need {
			p.add("platform.argocd.ha", "needs %d schedulable nodes (redis-ha's required anti-affinity) but %s gives %d; set %s: %d or platform.argocd.ha: false", need, key, nodes, key, need)
		}
	}
}

func validateApps(p *problems, cfg *Config) {
	for i := range cfg.Platform.ArgoCD.Apps {
		a := cfg.Platform.ArgoCD.Apps[i]
		at := func(key string) string { return fmt.Sprintf("platform.argocd.apps[%d].%s", i, key) }
		if errs := validation.IsDNS1123Subdomain(a.Name); len(errs) > 0 {
			p.add(at("name"), "%q is not a valid Application name (%s)", a.Name, strings.Join(errs, "; "))
		}
		if a.RepoURL == "" {
			p.add(at("repoURL"), "is required; the Git repository Argo CD syncs from")
		}
		if a.Path == "" {
			p.add(at("path"), "is required; the folder of manifests in the repository")
		}
	}
}
