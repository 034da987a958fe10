// Package stacks turns one stack config into the platform: it loads the
// typed config (package spec), picks the cloud, and composes the components.
// It is the only package that knows about clouds.
package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/platform"
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

	out, err := Application(ctx, cfg, secrets, c, lbController, AppOptions{Rendering: rendering, Opts: []pulumi.ResourceOption{k8s}})
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

func newEdge(ctx *pulumi.Context, name string, cfg spec.Config, gw *gateway.Gateway, ui *webui.WebUI, ingressAddress pulumi.StringOutput, opts []pulumi.ResourceOption) (*edge.Edge, error) {
	args := edge.Args{
		IngressAddress:   ingressAddress,
		Config:           cfg.Edge,
		Namespace:        cfg.Namespace,
		IngressSelector:  platform.IngressSelector,
		IngressNamespace: platform.IngressNamespace,
		Gateway: edge.Backend{
			Host: gw.Host, Port: gateway.Port, TargetPort: gateway.ContainerPort,
			Pods: gw.Selector,
		},
		Models:           model.AllModelsSelector(),
		ModelPort:        model.Port,
		UITimeoutSeconds: cfg.WebUI.TimeoutSeconds,
	}
	if ui != nil {
		args.WebUI = &edge.Backend{
			Host: ui.Host, Port: webui.Port, TargetPort: webui.ContainerPort,
			Pods: ui.Selector,
		}
	}
	return edge.New(ctx, name, args, opts...)
}
