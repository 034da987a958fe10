package stacks

import (
	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// addOnArgs are the cluster add-ons the config installs. In render mode nothing that needs a
// live cluster (the Helm releases) is installed.
func addOnArgs(cfg spec.Config, gpuNodeSelector map[string]string, cloud CloudAddOns, rendering bool) addons.Args {
	istio, argo := cfg.Platform.Istio, cfg.Platform.ArgoCD
	istio.Enabled = istio.Enabled && !rendering
	argo.Enabled = argo.Enabled && !rendering
	return addons.Args{
		Namespace:        cfg.Namespace,
		SidecarInjection: sidecars(cfg),
		Istio:            istio,
		ArgoCD:           argo,
		DevicePlugin:     cfg.Cloud == spec.CloudEKS && cfg.Platform.DevicePlugin.Enabled && !rendering,
		GPUNodeSelector:  gpuNodeSelector,
		// kind and bare metal have no load balancers; EKS has no metrics API of its own.
		IngressServiceType: ingressServiceType(cfg),
		Autoscaling:        hasMetricsAPI(cfg),
		MetricsServer:      installsMetricsServer(cfg) && !rendering,
		StreamSeconds:      cfg.Gateway.TimeoutSeconds,
		// EKS only, and not in render mode (no cloud was provisioned).
		LBController:      cloud.LBController,
		ClusterAutoscaler: cloud.ClusterAutoscaler,
		IstioPlatform:     istioPlatform(cfg),
		Monitoring:        monitoringArgs(cfg, gpuNodeSelector, rendering),
		KEDA:              installsKEDA(cfg) && !rendering,
	}
}

// controlPlanePorts are the webhook and aggregated-API ports of the add-ons the config
// installs, which a created GKE cluster's firewall must open to the control plane. The same
// addOnArgs decide what Application installs, so the two cannot disagree.
func controlPlanePorts(cfg spec.Config) []gke.ControlPlanePort {
	var out []gke.ControlPlanePort
	for _, e := range addons.ControlPlaneEndpoints(addOnArgs(cfg, nil, CloudAddOns{}, false)) {
		out = append(out, gke.ControlPlanePort{Port: e.Port, For: e.Release + " " + e.Object})
	}
	return out
}
