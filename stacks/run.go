// Package stacks turns one stack config into the platform: it loads the
// typed config (package spec), picks the cloud, and composes the components.
// It is the only package that knows about clouds.
package stacks

import (
	"maps"
	"slices"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/autoscaling"
	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/components/platform"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/kube"
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
	c, lbController, err := newCluster(ctx, cfg)
	if err != nil {
		return nil, err
	}
	k8s := pulumi.Provider(c.Provider)
	rendering := cfg.Render.Dir != ""
	if rendering {
		ctx.Log.Warn("render.dir is set: writing manifests to "+cfg.Render.Dir+
			"; skipping cloud provisioning and the Helm add-ons (Istio, Argo CD, device plugin), which need a live cluster", nil)
	}

	istio, argo := cfg.Platform.Istio, cfg.Platform.ArgoCD
	istio.Enabled = istio.Enabled && !rendering
	argo.Enabled = argo.Enabled && !rendering
	plat, err := platform.New(ctx, "platform", platform.Args{
		Namespace:        cfg.Namespace,
		SidecarInjection: sidecars(cfg),
		Istio:            istio,
		ArgoCD:           argo,
		DevicePlugin:     cfg.Cloud == spec.CloudEKS && cfg.Platform.DevicePlugin.Enabled && !rendering,
		GPUNodeSelector:  c.GPUNodeSelector,
		// kind and bare metal have no load balancers; EKS has no metrics API of its own.
		IngressServiceType: ingressServiceType(cfg),
		Autoscaling:        hasMetricsAPI(cfg),
		MetricsServer:      installsMetricsServer(cfg) && !rendering,
		StreamSeconds:      cfg.Gateway.TimeoutSeconds,
		// EKS only, and not in render mode (no cloud was provisioned).
		LBController:  lbController,
		IstioPlatform: istioPlatform(cfg),
		Monitoring:    monitoringArgs(cfg, c.GPUNodeSelector, rendering),
		KEDA:          installsKEDA(cfg) && !rendering,
	}, k8s)
	if err != nil {
		return nil, err
	}
	app := []pulumi.ResourceOption{k8s, pulumi.DependsOn(plat.Ready)}

	var hfToken *corev1.Secret
	if secrets.HasHFToken {
		hfToken, err = corev1.NewSecret(ctx, "hf-token", &corev1.SecretArgs{
			Metadata:   kube.Meta("hf-token", cfg.Namespace, kube.Labels("hf-token", "hf-token", "credentials")),
			Type:       pulumi.String("Opaque"),
			StringData: pulumi.StringMap{model.HFTokenKey: secrets.HFToken},
		}, app...)
		if err != nil {
			return nil, err
		}
	}

	routes := make([]nginx.Route, 0, len(cfg.Models))
	var modelRefs []observability.ModelRef
	var podServices []edge.PodService // the models' headless Services, which the gateway calls by pod address
	var services []pulumi.Resource
	served := make([]string, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		args := model.Args{
			Spec:         m,
			Image:        pulumi.String(cfg.VLLM.Image),
			CPUImage:     pulumi.String(cfg.VLLM.CPUImage),
			Namespace:    cfg.Namespace,
			NodeSelector: pulumi.ToStringMap(c.GPUNodeSelector),
		}
		if hfToken != nil {
			args.HFTokenSecret = hfToken.Metadata.Name().Elem()
		}
		mod, err := model.New(ctx, spec.KubeName(m), args, app...)
		if err != nil {
			return nil, err
		}
		routes = append(routes, nginx.Route{Name: mod.ServedName, Upstream: mod.Upstream, Endpoints: mod.Endpoints})
		host, _, _ := strings.Cut(mod.Endpoints, ":")
		podServices = append(podServices, edge.PodService{Host: host, Instance: spec.KubeName(m)})
		// The headless one too: a name that does not exist yet answers NXDOMAIN, which the
		// gateway takes as "no replica" (503) until negative caches expire.
		services = append(services, mod.Service, mod.Headless)
		served = append(served, mod.ServedName)
		modelRefs = append(modelRefs, observability.ModelRef{ServedName: mod.ServedName, KubeName: spec.KubeName(m)})
	}

	if cfg.Autoscales() {
		if err := declareAutoscaling(ctx, cfg, plat, k8s); err != nil {
			return nil, err
		}
	}

	gwConfig := cfg.Gateway
	if !hasMetricsAPI(cfg) {
		// An autoscaler without the metrics API never scales: fixed replicas, like Istio's.
		gwConfig.MaxReplicas = gwConfig.Replicas
	}
	gwArgs := gateway.Args{Name: gateway.DefaultName, Config: gwConfig, Namespace: cfg.Namespace, Routes: routes, Upstreams: services}
	if secrets.NumAPIKeys > 0 {
		gwArgs.APIKeys = secrets.GatewayAPIKeys
	}
	gw, err := gateway.New(ctx, "gateway", gwArgs, app...)
	if err != nil {
		return nil, err
	}

	if cfg.Observability.Enabled {
		obsOpts := app
		if plat.Monitoring != nil {
			// The operator's CRDs and Grafana's sidecar come with the monitoring stack.
			obsOpts = []pulumi.ResourceOption{k8s, pulumi.DependsOn(append(plat.Ready[:len(plat.Ready):len(plat.Ready)], plat.Monitoring))}
		}
		if _, err := observability.New(ctx, "observability", observability.Args{
			Config:         cfg.Observability,
			Namespace:      cfg.Namespace,
			Models:         modelRefs,
			ModelPods:      model.AllModelsSelector(),
			ModelPort:      model.PortName,
			GatewayService: gw.MetricsServiceLabels,
			GatewayPort:    gateway.MetricsPortName,
			GatewayJob:     gateway.MetricsServiceName(gateway.DefaultName),
		}, obsOpts...); err != nil {
			return nil, err
		}
	}

	var ui *webui.WebUI
	if cfg.WebUI.Enabled {
		uiArgs := webui.Args{
			Name:         webui.DefaultName,
			Config:       cfg.WebUI,
			Namespace:    cfg.Namespace,
			GatewayURL:   pulumi.String(gw.URL),
			DefaultModel: pulumi.String(served[0]),
		}
		if gw.KeysSecret != nil {
			uiArgs.GatewayKeySecret, uiArgs.GatewayKeyKey = gw.KeysSecret.Metadata.Name().Elem(), gateway.ClientKeyKey
		}
		if secrets.HasWebUIKey {
			uiArgs.SecretKey = secrets.WebUISecretKey
		}
		if secrets.HasWebUIAdminPassword {
			uiArgs.AdminPassword = secrets.WebUIAdminPassword
		}
		if ui, err = webui.New(ctx, "webui", uiArgs, app...); err != nil {
			return nil, err
		}
	}

	out := &Outputs{GatewayURL: gw.URL, Models: served, ClusterName: c.Name, Kubeconfig: c.Kubeconfig,
		APIBaseURL: pulumi.String("").ToStringOutput(), WebUIURL: pulumi.String("").ToStringOutput()}
	if cfg.Edge.Enabled {
		e, err := newEdge(ctx, cfg, gw, ui, podServices, plat.IngressAddress, app)
		if err != nil {
			return nil, err
		}
		out.APIBaseURL, out.WebUIURL = e.APIBaseURL, e.WebUIURL
	}

	ctx.Export("apiBaseUrl", out.APIBaseURL)
	ctx.Export("webUiUrl", out.WebUIURL)
	ctx.Export("gatewayUrl", pulumi.String(out.GatewayURL))
	ctx.Export("models", pulumi.ToStringArray(out.Models))
	ctx.Export("clusterName", out.ClusterName)
	if c.Kubeconfig != (pulumi.StringOutput{}) {
		ctx.Export("kubeconfig", out.Kubeconfig)
	}
	if ui != nil {
		out.WebUIAdminPassword = ui.AdminPassword
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
		return platform.ServiceNodePort
	}
	return platform.ServiceLoadBalancer
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

func newEdge(ctx *pulumi.Context, cfg spec.Config, gw *gateway.Gateway, ui *webui.WebUI, podServices []edge.PodService, ingressAddress pulumi.StringOutput, opts []pulumi.ResourceOption) (*edge.Edge, error) {
	args := edge.Args{
		IngressAddress:   ingressAddress,
		Config:           cfg.Edge,
		Namespace:        cfg.Namespace,
		IngressSelector:  platform.IngressSelector,
		IngressNamespace: platform.IngressNamespace,
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
	return edge.New(ctx, "edge", args, opts...)
}

// monitoringArgs installs kube-prometheus-stack when observability is on with install: true
// (and the DCGM exporter on EKS, whose GPU nodes export no GPU metrics otherwise); nil when
// nothing is installed, or in render mode (Helm add-ons need a live cluster).
func monitoringArgs(cfg spec.Config, gpuNodeSelector map[string]string, rendering bool) *platform.MonitoringArgs {
	o := cfg.Observability
	if !o.Enabled || !o.Install || rendering {
		return nil
	}
	label, value := dashboardLabel(o.DashboardLabels)
	return &platform.MonitoringArgs{
		Namespace:           o.Namespace,
		DashboardLabel:      label,
		DashboardLabelValue: value,
		DCGMExporter:        cfg.Cloud == spec.CloudEKS && o.DCGMExporter,
		GPUNodeSelector:     gpuNodeSelector,
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
func declareAutoscaling(ctx *pulumi.Context, cfg spec.Config, plat *platform.Platform, k8s pulumi.ResourceOption) error {
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
	_, err := autoscaling.New(ctx, "autoscaling", autoscaling.Args{
		Namespace: cfg.Namespace, Targets: targets, PrometheusURL: cfg.PrometheusURL(),
	}, k8s, pulumi.DependsOn(deps))
	return err
}
