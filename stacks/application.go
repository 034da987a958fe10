package stacks

import (
	"math"
	"slices"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/cluster"
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

// AppOptions say how Application declares its resources.
type AppOptions struct {
	// Rendering: the Kubernetes provider writes YAML instead of applying it, so the Helm
	// add-ons, which need a live cluster, are skipped.
	Rendering bool
	// Prefix goes before every resource name Application declares ("" in the stack program,
	// whose URNs it keeps; "<name>-" in the package's Platform, so two never collide). Object
	// names do not change with it.
	Prefix string
	// Opts go on every resource Application declares: the cluster's provider in the stack
	// program, the Platform component as parent in the package.
	Opts []pulumi.ResourceOption
}

// Application declares the application layer on a cluster: the add-ons and the namespace
// (platform.New), the Hugging Face token Secret, one Model per entry, the Gateway, Open WebUI
// and the Edge. The stack program (Program) and the component package's Platform (NewPlatform)
// both declare it through here, so they declare the same objects for the same config.
func Application(ctx *pulumi.Context, cfg spec.Config, secrets spec.Secrets, c *cluster.Cluster, cloud CloudAddOns, o AppOptions) (*Outputs, error) {
	plat, err := platform.New(ctx, o.Prefix+"platform", addOnArgs(cfg, c.GPUNodeSelector, cloud, o.Rendering), o.Opts...)
	if err != nil {
		return nil, err
	}
	app := append(slices.Clip(o.Opts), pulumi.DependsOn(plat.Ready))

	var hfToken *corev1.Secret
	if secrets.HasHFToken {
		hfToken, err = corev1.NewSecret(ctx, o.Prefix+"hf-token", &corev1.SecretArgs{
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
			// The object names are the model's own, whatever the component's name.
			Name:         spec.KubeName(m),
			Spec:         m,
			Image:        pulumi.String(cfg.VLLM.Image),
			CPUImage:     pulumi.String(cfg.VLLM.CPUImage),
			Namespace:    cfg.Namespace,
			NodeSelector: pulumi.ToStringMap(c.GPUNodeSelector),
		}
		if hfToken != nil {
			args.HFTokenSecret = hfToken.Metadata.Name().Elem()
		}
		access, ready, err := objectStoreAccess(ctx, o.Prefix, cfg, m, c, app)
		if err != nil {
			return nil, err
		}
		args.ObjectStore = access
		modOpts := app
		if len(ready) > 0 {
			// The ServiceAccount and the cloud's grants before any pod (credentials are bound
			// when a pod starts): the component registers once they exist, its children after.
			modOpts = append(slices.Clip(app), pulumi.DependsOn(ready))
		}
		mod, err := model.New(ctx, o.Prefix+spec.KubeName(m), args, modOpts...)
		if err != nil {
			return nil, err
		}
		route := nginx.Route{Name: mod.ServedName, Upstream: mod.Upstream, Endpoints: mod.Endpoints, Adapters: mod.Adapters}
		if m.ScalesToZero() {
			// No replica while idle: the gateway holds its requests while one starts.
			// For its startup budget, unless gateway.coldStartTimeout says otherwise (the gateway
			// applies it).
			route.HoldSeconds = gateway.StartupHoldSeconds(m.StartupBudget())
		}
		routes = append(routes, route)
		host, _, _ := strings.Cut(mod.Endpoints, ":")
		podServices = append(podServices, edge.PodService{Host: host, Instance: spec.KubeName(m)})
		// The headless one too: a name that does not exist yet answers NXDOMAIN, which the
		// gateway takes as "no replica" (503) until negative caches expire.
		services = append(services, mod.Service, mod.Headless)
		served = append(served, mod.ServedName)
		modelRefs = append(modelRefs, observability.ModelRef{ServedName: mod.ServedName, KubeName: spec.KubeName(m)})
	}

	if cfg.Autoscales() {
		if err := declareAutoscaling(ctx, o.Prefix+"autoscaling", cfg, plat, o.Opts); err != nil {
			return nil, err
		}
	}

	gwConfig := cfg.Gateway
	if !hasMetricsAPI(cfg) {
		// An autoscaler without the metrics API never scales: fixed replicas, like Istio's.
		gwConfig.MaxReplicas = gwConfig.Replicas
	}
	gwArgs := gateway.Args{Name: gateway.DefaultName, Config: gwConfig, Namespace: cfg.Namespace, Routes: routes, Upstreams: services}
	if cfg.Autoscales() {
		// KEDA is there (installed, or the cluster's own): held requests scale the gateway too.
		gwArgs.KEDA = &gateway.KEDA{PrometheusURL: cfg.PrometheusURL()}
		if plat.KEDA != nil {
			gwArgs.KEDA.DependsOn = []pulumi.Resource{plat.KEDA}
		}
	}
	if secrets.NumAPIKeys > 0 {
		gwArgs.APIKeys = secrets.GatewayAPIKeys
	}
	limitsRedis, err := tenancy(ctx, o.Prefix, cfg, secrets, &gwArgs, app)
	if err != nil {
		return nil, err
	}
	gw, err := gateway.New(ctx, o.Prefix+"gateway", gwArgs, app...)
	if err != nil {
		return nil, err
	}

	for i, ref := range modelRefs {
		if hold := gw.HoldSeconds[ref.ServedName]; hold > 0 {
			// Its no-ready-replica alert waits as long as the gateway holds its requests.
			modelRefs[i].ColdStartMinutes = int(math.Ceil(float64(hold) / 60))
		}
	}

	if cfg.Observability.Enabled {
		obsOpts := app
		if plat.Monitoring != nil {
			// The operator's CRDs and Grafana's sidecar come with the monitoring stack.
			obsOpts = append(slices.Clip(o.Opts), pulumi.DependsOn(append(slices.Clip(plat.Ready), plat.Monitoring)))
		}
		if _, err := observability.New(ctx, o.Prefix+"observability", observability.Args{
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
		uiArgs := webUIArgs(cfg, secrets, cloud, gw, served[0])
		if limitsRedis != nil && cfg.WebUI.SharedData() {
			uiArgs.RedisURL = limitsRedis.URL // one in-cluster Redis for both
		}
		if ui, err = webui.New(ctx, o.Prefix+"webui", uiArgs, app...); err != nil {
			return nil, err
		}
	}

	out := &Outputs{GatewayURL: gw.PlainURL, Models: served, ClusterName: c.Name, Kubeconfig: c.Kubeconfig,
		APIBaseURL: pulumi.String("").ToStringOutput(), WebUIURL: pulumi.String("").ToStringOutput()}
	if cfg.Edge.Enabled {
		e, err := newEdge(ctx, o.Prefix+"edge", cfg, gw, ui, podServices, plat.IngressAddress, app)
		if err != nil {
			return nil, err
		}
		out.APIBaseURL, out.WebUIURL = e.APIBaseURL, e.WebUIURL
	}
	if ui != nil {
		out.WebUIAdminPassword = ui.AdminPassword
	}
	return out, nil
}
