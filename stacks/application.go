package stacks

import (
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/components/redis"
	"github.com/llm-platform/llm-platform/components/webui"
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
// (addons.New), the Hugging Face token Secret, one Model per entry, the models' autoscalers,
// the Gateway, the monitors, Open WebUI and the Edge. The stack program (Program) and the
// component package's Platform (NewPlatform) both declare it through here, so they declare the
// same objects for the same config.
func Application(ctx *pulumi.Context, cfg spec.Config, secrets spec.Secrets, c *cluster.Cluster, cloud CloudAddOns, o AppOptions) (*Outputs, error) {
	plat, err := addons.New(ctx, o.Prefix+"platform", addOnArgs(cfg, c.GPUNodeSelector, cloud, o.Rendering), o.Opts...)
	if err != nil {
		return nil, err
	}
	l := &layer{ctx: ctx, cfg: cfg, secrets: secrets, cluster: c, cloud: cloud, o: o, plat: plat,
		opts: append(slices.Clip(o.Opts), pulumi.DependsOn(plat.Ready))}
	hfToken, err := l.declareHFToken()
	if err != nil {
		return nil, err
	}
	mods, err := l.declareModels(hfToken)
	if err != nil {
		return nil, err
	}
	if cfg.Autoscales() {
		if err := declareAutoscaling(ctx, o.Prefix+"autoscaling", cfg, plat, o.Opts); err != nil {
			return nil, err
		}
	}
	gw, limitsRedis, err := l.declareGateway(mods)
	if err != nil {
		return nil, err
	}
	if err := l.declareObservability(mods, gw); err != nil {
		return nil, err
	}
	served := servedNames(mods)
	ui, err := l.declareWebUI(gw, served[0], limitsRedis)
	if err != nil {
		return nil, err
	}
	out := &Outputs{GatewayURL: gw.PlainURL, Models: served, ClusterName: c.Name, Kubeconfig: c.Kubeconfig,
		APIBaseURL: pulumi.String("").ToStringOutput(), WebUIURL: pulumi.String("").ToStringOutput()}
	if cfg.Edge.Enabled {
		e, err := newEdge(ctx, o.Prefix+"edge", cfg, gw, ui, l.podServices(mods), plat.IngressAddress, l.opts)
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

// layer is the application layer as Application declares it, step by step: the config, the
// cluster and add-ons it goes on, and the options its resources take.
type layer struct {
	ctx     *pulumi.Context
	cfg     spec.Config
	secrets spec.Secrets
	cluster *cluster.Cluster
	cloud   CloudAddOns
	o       AppOptions
	plat    *addons.AddOns
	// opts go on every resource of the layer: o.Opts, and after the add-ons are ready.
	opts []pulumi.ResourceOption
}

// declareObservability declares the monitors and alerts of the models and the gateway, when
// observability is on: after the monitoring stack when the platform installs it (the
// operator's CRDs and Grafana's sidecar come with it).
func (l *layer) declareObservability(mods []*model.Model, gw *gateway.Gateway) error {
	if !l.cfg.Observability.Enabled {
		return nil
	}
	opts := l.opts
	if l.plat.Monitoring != nil {
		opts = append(slices.Clip(l.o.Opts), pulumi.DependsOn(append(slices.Clip(l.plat.Ready), l.plat.Monitoring)))
	}
	_, err := observability.New(l.ctx, l.o.Prefix+"observability", observability.Args{
		Config:         l.cfg.Observability,
		Namespace:      l.cfg.Namespace,
		Models:         l.modelRefs(mods, gw),
		ModelPods:      model.AllModelsSelector(),
		ModelPort:      model.PortName,
		GatewayService: gw.MetricsServiceLabels,
		GatewayPort:    gateway.MetricsPortName,
		GatewayJob:     gateway.MetricsServiceName(gateway.DefaultName),
	}, opts...)
	return err
}

// declareWebUI declares Open WebUI when it is on (nil when not), sharing the limits' Redis
// when it has one and keeps its data shared.
func (l *layer) declareWebUI(gw *gateway.Gateway, defaultModel string, limitsRedis *redis.Redis) (*webui.WebUI, error) {
	if !l.cfg.WebUI.Enabled {
		return nil, nil
	}
	args := webUIArgs(l.cfg, l.secrets, l.cloud, gw, defaultModel)
	if limitsRedis != nil && l.cfg.WebUI.SharedData() {
		args.RedisURL = limitsRedis.URL // one in-cluster Redis for both
	}
	return webui.New(l.ctx, l.o.Prefix+"webui", args, l.opts...)
}
