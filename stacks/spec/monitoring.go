package spec

// validateClusterScrapes checks observability.scrapeControlPlane and scrapeKubeProxy, which
// span the observability settings and the cloud: those scrapes exist only in the installed
// kube-prometheus-stack, and a managed control plane has nothing for them to reach.
func validateClusterScrapes(p *problems, cfg *Config) {
	o := cfg.Observability
	if !o.Install {
		for _, s := range []struct {
			key string
			v   *bool
		}{{"observability.scrapeControlPlane", o.ScrapeControlPlane}, {"observability.scrapeKubeProxy", o.ScrapeKubeProxy}} {
			if s.v != nil {
				p.add(s.key, "is set, but only the installed kube-prometheus-stack (observability.install: true) has this scrape; "+
					"remove it and configure your own Prometheus's scrapes there")
			}
		}
		return
	}
	if v := o.ScrapeControlPlane; v != nil && *v && cfg.Cloud != CloudExisting {
		p.add("observability.scrapeControlPlane", "is true, but %s runs a managed control plane: its kube-scheduler, "+
			"kube-controller-manager and etcd are out of the cluster's reach, so KubeSchedulerDown and KubeControllerManagerDown "+
			"would fire for ever; remove it (null: off on gke and eks, on for existing)", cfg.Cloud)
	}
	if v := o.ScrapeKubeProxy; v != nil && *v && cfg.Cloud == CloudGKE && cfg.GKE.Cluster.Create {
		p.add("observability.scrapeKubeProxy", "is true, but the GKE cluster this stack creates runs Dataplane V2, which has "+
			"no kube-proxy, so KubeProxyDown would fire for ever; remove it (null: off on gke and eks, on for existing)")
	}
}
