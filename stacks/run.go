// Package stacks turns one stack config into the platform: it loads the
// typed config (package spec), picks the cloud, and composes the components.
// It is the only package that knows about clouds.
package stacks

import (
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/autoscaling"
	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// Outputs are the stack outputs, also returned for tests.
type Outputs struct {
	APIBaseURL pulumi.StringOutput
	WebUIURL   pulumi.StringOutput
	// GatewayURL is the in-cluster OpenAI base URL.
	GatewayURL  string
	Models      []string
	ClusterName pulumi.StringOutput
	// Kubeconfig is secret; empty for the existing cloud (it is the user's own).
	Kubeconfig pulumi.StringOutput
	// WebUIAdminPassword is Open WebUI's first admin's password (secret); zero without the UI.
	WebUIAdminPassword pulumi.StringOutput
}

// Run is the Pulumi program.
func Run(ctx *pulumi.Context) error {
	_, err := Program(ctx)
	return err
}

// Program declares the whole platform and exports its outputs.
func Program(ctx *pulumi.Context) (*Outputs, error) {
	cfg, secrets, err := spec.Load(ctx)
	if err != nil {
		return nil, err
	}
	// Pods that cannot fit the node pools fail here, before anything is declared.
	if err := checkCapacity(ctx, cfg); err != nil {
		return nil, err
	}
	c, cloudAddOns, err := newCluster(ctx, cfg)
	if err != nil {
		return nil, err
	}
	k8s := pulumi.Provider(c.Provider)
	rendering := cfg.Render.Dir != ""
	if rendering {
		ctx.Log.Warn("render.dir is set: writing manifests to "+cfg.Render.Dir+
			"; skipping cloud provisioning and the Helm add-ons (Istio, Argo CD, device plugin), which need a live cluster", nil)
	}

	out, err := Application(ctx, cfg, secrets, c, cloudAddOns, AppOptions{Rendering: rendering, Opts: []pulumi.ResourceOption{k8s}})
	if err != nil {
		return nil, err
	}

	ctx.Export("apiBaseUrl", out.APIBaseURL)
	ctx.Export("webUiUrl", out.WebUIURL)
	ctx.Export("gatewayUrl", pulumi.String(out.GatewayURL))
	ctx.Export("models", pulumi.ToStringArray(out.Models))
	ctx.Export("clusterName", out.ClusterName)
	if c.Kubeconfig != (pulumi.StringOutput{}) {
		ctx.Export("kubeconfig", out.Kubeconfig)
	}
	if out.WebUIAdminPassword != (pulumi.StringOutput{}) {
		ctx.Export("webuiAdminPassword", out.WebUIAdminPassword)
	}
	return out, nil
}

// sidecars: the app namespace gets Istio sidecars when the edge enforces mutual TLS.
func sidecars(cfg spec.Config) bool { return cfg.Edge.Enabled && cfg.Edge.StrictMTLS }

// istioPlatform is the Istio charts' platform profile: on GKE the CNI node agent's binaries
// live in /home/kubernetes/bin and its system-node-critical pods need a ResourceQuota.
func istioPlatform(cfg spec.Config) string {
	if cfg.Cloud == spec.CloudGKE {
		return "gke"
	}
	return ""
}

// ingressServiceType resolves "auto": a LoadBalancer where the cloud provides one; on an
// existing cluster (kind, minikube, bare metal) a NodePort, because a LoadBalancer that never
// gets an address makes Helm's wait, and so the release, time out.
func ingressServiceType(cfg spec.Config) string {
	switch t := cfg.Platform.Istio.ServiceType; {
	case t != spec.ServiceTypeAuto:
		return t
	case cfg.Cloud == spec.CloudExisting:
		return addons.ServiceNodePort
	}
	return addons.ServiceLoadBalancer
}

// installsMetricsServer: EKS has no metrics API unless someone installs one; GKE ships it; on
// an existing cluster it is the user's (existing.metricsServer says whether it is there).
func installsMetricsServer(cfg spec.Config) bool {
	return cfg.Cloud == spec.CloudEKS && cfg.Platform.MetricsServer.Enabled
}

// hasMetricsAPI reports whether autoscalers can read pod metrics: GKE ships metrics-server,
// EKS gets it here (or, turned off, already runs it), an existing cluster says so.
func hasMetricsAPI(cfg spec.Config) bool {
	if cfg.Cloud == spec.CloudExisting {
		return cfg.Existing.MetricsServer
	}
	return true
}

func newEdge(ctx *pulumi.Context, name string, cfg spec.Config, gw *gateway.Gateway, ui *webui.WebUI, podServices []edge.PodService, ingressAddress pulumi.StringOutput, opts []pulumi.ResourceOption) (*edge.Edge, error) {
	args := edge.Args{
		IngressAddress:   ingressAddress,
		Config:           cfg.Edge,
		Namespace:        cfg.Namespace,
		IngressSelector:  addons.IngressSelector,
		IngressNamespace: addons.IngressNamespace,
		Gateway: edge.Backend{
			Host: gw.Host, Port: gateway.Port, TargetPort: gateway.ContainerPort,
			Pods: gw.Selector, MetricsPort: gateway.MetricsPort,
		},
		Models:           model.AllModelsSelector(),
		ModelPort:        model.Port,
		PodServices:      podServices,
		UITimeoutSeconds: cfg.WebUI.TimeoutSeconds,
		// Prometheus runs outside the mesh: with strict mutual TLS it could not scrape.
		PlaintextMetrics: cfg.Observability.Enabled,
	}
	if o := cfg.Observability; o.Enabled && !slices.Contains(args.Config.MetricsNamespaces, o.Namespace) {
		// The monitoring stack scrapes the models and the gateway from its namespace.
		args.Config.MetricsNamespaces = append(slices.Clone(args.Config.MetricsNamespaces), o.Namespace)
	}
	if ui != nil {
		args.WebUI = &edge.Backend{
			Host: ui.Host, Port: webui.Port, TargetPort: webui.ContainerPort,
			Pods: ui.Selector,
		}
	}
	return edge.New(ctx, name, args, opts...)
}

// monitoringArgs installs kube-prometheus-stack when observability is on with install: true
// (and the DCGM exporter on EKS, whose GPU nodes export no GPU metrics otherwise); nil when
// nothing is installed, or in render mode (Helm add-ons need a live cluster).
func monitoringArgs(cfg spec.Config, gpuNodeSelector map[string]string, rendering bool) *addons.MonitoringArgs {
	o := cfg.Observability
	if !o.Enabled || !o.Install || rendering {
		return nil
	}
	label, value := dashboardLabel(o.DashboardLabels)
	return &addons.MonitoringArgs{
		Namespace:           o.Namespace,
		DashboardLabel:      label,
		DashboardLabelValue: value,
		DCGMExporter:        cfg.Cloud == spec.CloudEKS && o.DCGMExporter,
		GPUNodeSelector:     gpuNodeSelector,
		Hidden:              hiddenComponents(cfg),
	}
}

// hiddenComponents resolves observability.scrapeControlPlane and scrapeKubeProxy (null: scraped
// on the existing cloud only: GKE and EKS manage the control plane, GKE's Dataplane V2 has no
// kube-proxy and EKS's serves its metrics on 127.0.0.1), and hides CoreDNS on GKE, whose
// k8s-app=kube-dns pods are kube-dns and serve no CoreDNS metrics.
func hiddenComponents(cfg spec.Config) addons.HiddenComponents {
	scraped := func(set *bool) bool {
		if set != nil {
			return *set
		}
		return cfg.Cloud == spec.CloudExisting
	}
	o := cfg.Observability
	return addons.HiddenComponents{
		ControlPlane: !scraped(o.ScrapeControlPlane),
		KubeProxy:    !scraped(o.ScrapeKubeProxy),
		CoreDNS:      cfg.Cloud == spec.CloudGKE,
	}
}

// dashboardLabel is the one label Grafana's sidecar is told to look for (validation allows
// exactly one dashboard label when the stack is installed).
func dashboardLabel(labels map[string]string) (string, string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		return k, labels[k]
	}
	return "", ""
}

// installsKEDA: KEDA comes with the first autoscaled model, unless the cluster runs its own.
func installsKEDA(cfg spec.Config) bool { return cfg.Platform.KEDA.Enabled && cfg.Autoscales() }

// declareAutoscaling gives every autoscaled model its ScaledObject, after KEDA (its CRD).
func declareAutoscaling(ctx *pulumi.Context, name string, cfg spec.Config, plat *addons.AddOns, opts []pulumi.ResourceOption) error {
	var targets []autoscaling.Target
	for _, m := range cfg.Models {
		if m.Autoscaling.Enabled {
			targets = append(targets, autoscaling.Target{Name: spec.KubeName(m), ServedName: m.ModelName, Scaling: m.Autoscaling})
		}
	}
	deps := slices.Clone(plat.Ready)
	if plat.KEDA != nil {
		deps = append(deps, plat.KEDA)
	}
	args := autoscaling.Args{Namespace: cfg.Namespace, Targets: targets, PrometheusURL: cfg.PrometheusURL()}
	if cfg.Observability.Enabled {
		// The monitors scrape this often; an outside Prometheus (platform.keda.prometheusURL
		// alone) gets the component's default.
		args.ScrapeInterval = cfg.Observability.ScrapeDuration()
	}
	_, err := autoscaling.New(ctx, name, args, append(slices.Clip(opts), pulumi.DependsOn(deps))...)
	return err
}
