package stacks

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// PlatformType is the type token of the whole application layer as one component, for the
// component package (cmd/provider): what a stack deploys once it has a cluster.
const PlatformType = "llm-platform:index:Platform"

// PlatformArgs are the Platform component's inputs: the stack config's application keys, with
// the stack config's defaults (stacks/spec, documented in Pulumi.yaml) for everything unset, and
// its validation. The cluster is the caller's: the Kubernetes provider passed to the component
// (its `providers` option), which its children inherit.
type PlatformArgs struct {
	// Namespace is the application's namespace, created by the component.
	Namespace string `pulumi:"namespace,optional"`
	// Models are the served models, the first one the default; each entry's unset fields get
	// the stack config's defaults (sizes scale with gpuRequestCount).
	Models []spec.ModelSpec `pulumi:"models"`
	// VLLM are the vLLM images.
	VLLM spec.VLLMConfig `pulumi:"vllm,optional"`
	// Gateway tunes the OpenAI-compatible router.
	Gateway spec.GatewayConfig `pulumi:"gateway,optional"`
	// WebUI configures Open WebUI (enabled: false leaves it out).
	WebUI spec.WebUIConfig `pulumi:"webui,optional"`
	// Edge is the public entry point through the Istio ingress gateway (enabled: false leaves
	// it out).
	Edge spec.EdgeConfig `pulumi:"edge,optional"`
	// Platform switches the cluster add-ons: Istio, Argo CD and KEDA, installed with Helm.
	Platform PlatformAddOns `pulumi:"platform,optional"`
	// Observability declares the models' and the gateway's monitors, alerts and dashboards,
	// and optionally installs the monitoring stack (kube-prometheus-stack). Models with
	// autoscaling need it (or platform.keda.prometheusURL): their triggers read its Prometheus.
	Observability spec.ObservabilityConfig `pulumi:"observability,optional"`
	// GPUNodeSelector are the labels of the GPU nodes GPU models must run on (default: none).
	GPUNodeSelector map[string]string `pulumi:"gpuNodeSelector,optional"`
	// MetricsAPI says the cluster serves the metrics API (metrics-server): only then do the
	// gateway's, istiod's and the ingress gateway's autoscalers exist; without it their
	// replicas are fixed.
	MetricsAPI bool `pulumi:"metricsApi,optional"`
	// Render says the Kubernetes provider renders YAML (renderYamlToDirectory) instead of
	// applying: the Helm add-ons, which need a live cluster, are skipped, as the stack's
	// render.dir does.
	Render bool `pulumi:"render,optional"`
	// HFToken is the Hugging Face token for gated models, kept in a Secret (hf-token).
	HFToken pulumi.StringInput `pulumi:"hfToken,optional"`
	// GatewayAPIKeys are the keys the gateway accepts (a bearer token each); unset turns
	// authentication off.
	GatewayAPIKeys pulumi.StringArrayInput `pulumi:"gatewayApiKeys,optional"`
	// WebUISecretKey signs Open WebUI's sessions; unset, one is generated once and kept.
	WebUISecretKey pulumi.StringInput `pulumi:"webuiSecretKey,optional"`
	// WebUIAdminPassword is the first admin's password; unset, one is generated once and kept.
	WebUIAdminPassword pulumi.StringInput `pulumi:"webuiAdminPassword,optional"`
	// WebUIDatabaseURL is Open WebUI's PostgreSQL URL, with webui.database.kind external.
	WebUIDatabaseURL pulumi.StringInput `pulumi:"webuiDatabaseUrl,optional"`
	// WebUIOIDCClientSecret is the identity provider's client secret, with webui.oidc.issuerUrl.
	WebUIOIDCClientSecret pulumi.StringInput `pulumi:"webuiOidcClientSecret,optional"`
}

// PlatformAddOns switch the cluster add-ons the Platform installs (the stack config's
// platform.istio, platform.argocd and platform.keda). The package deploys into a cluster the
// caller provides, so the cloud's own add-ons (EKS: the Cluster Autoscaler, which needs an AWS
// identity) are not among them: scaling the nodes is the cluster's.
type PlatformAddOns struct {
	// Istio installs Istio (base, istiod, the ingress gateway) from its pinned Helm charts.
	Istio spec.IstioConfig `pulumi:"istio,optional"`
	// ArgoCD installs Argo CD from its pinned Helm chart, with optional GitOps Applications.
	ArgoCD spec.ArgoCDConfig `pulumi:"argocd,optional"`
	// KEDA installs KEDA, which scales the models that have autoscaling, when one does.
	KEDA spec.KEDAConfig `pulumi:"keda,optional"`
}

// Platform is the application layer as one component.
type Platform struct {
	pulumi.ResourceState
	// APIBaseURL is the public OpenAI base URL (empty without the edge).
	APIBaseURL pulumi.StringOutput `pulumi:"apiBaseUrl"`
	// WebUIURL is Open WebUI's public URL (empty without the edge or the UI).
	WebUIURL pulumi.StringOutput `pulumi:"webUiUrl"`
	// GatewayURL is the gateway's in-cluster OpenAI base URL.
	GatewayURL pulumi.StringOutput `pulumi:"gatewayUrl"`
	// Models are the served model names, the first one the default.
	Models pulumi.StringArrayOutput `pulumi:"models"`
	// WebUIAdminPassword is the first Open WebUI admin's password (secret; empty without the UI).
	WebUIAdminPassword pulumi.StringOutput `pulumi:"webuiAdminPassword"`
}

// PlatformInputs are the Platform's configuration, read once from its inputs: the stack config
// its plain inputs make and the inputs that are not stack config. They are its only source of
// configuration; PlatformArgs describes the inputs (for the schema) and reaches the component
// only through ReadPlatformInputs.
type PlatformInputs struct {
	// Config is the stack config of the plain inputs (StackConfigFromInputs): the models, the
	// gateway and the rest, defaulted and validated.
	Config spec.Config
	// Secrets are the secret inputs (hfToken, gatewayApiKeys, the webui* secrets).
	Secrets spec.Secrets
	// Render says the Kubernetes provider renders YAML instead of applying (PlatformArgs.Render).
	Render bool
}

// ReadPlatformInputs reads the Platform's inputs: plain are the plain inputs as decoded JSON
// (the keys that were set, for StackConfigFromInputs), and copyTo copies the same inputs into a
// PlatformArgs, of which only the secrets and render are read (whether a config key was set
// decides its default, which a copied struct no longer tells). The config is checked first, so
// a bad value gets the stack's message by key path rather than the SDK's conversion error.
func ReadPlatformInputs(plain map[string]any, copyTo func(any) error) (PlatformInputs, error) {
	cfg, err := StackConfigFromInputs(plain)
	if err != nil {
		return PlatformInputs{}, err
	}
	var args PlatformArgs
	if err := copyTo(&args); err != nil {
		return PlatformInputs{}, err
	}
	return PlatformInputs{Config: cfg, Secrets: args.secrets(), Render: args.Render}, nil
}

// StackConfigFromInputs turns the Platform's plain inputs (as decoded JSON: the keys of
// PlatformArgs' JSON names that were set) into the stack config: decoded on top of the stack
// config's defaults and validated by the same code as a stack's config, so the errors are
// the same, by key path (models[0].huggingfaceId: ...).
func StackConfigFromInputs(inputs map[string]any) (spec.Config, error) {
	raw := map[string]string{"cloud": spec.CloudExisting}
	existing := map[string]any{}
	var errs []string
	for key, v := range inputs {
		switch key {
		case "gpuNodeSelector":
			existing["nodeSelector"] = v
			continue
		case "metricsApi":
			existing["metricsServer"] = v
			continue
		case "render", "hfToken", "gatewayApiKeys", "webuiSecretKey", "webuiAdminPassword", "webuiDatabaseUrl", "webuiOidcClientSecret":
			continue
		}
		if s, ok := v.(string); ok {
			raw[key] = s // strings are plain text in Pulumi config, the rest JSON
			continue
		}
		text, err := json.Marshal(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", key, err))
			continue
		}
		raw[key] = string(text)
	}
	if len(existing) > 0 {
		text, err := json.Marshal(existing)
		if err != nil {
			return spec.Config{}, err
		}
		raw["existing"] = string(text)
	}
	if len(errs) > 0 {
		return spec.Config{}, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	cfg, err := spec.Parse(raw)
	if err != nil {
		return spec.Config{}, err
	}
	if err := spec.Validate(&cfg); err != nil {
		return spec.Config{}, err
	}
	return cfg, nil
}

// secrets are the secret inputs as the application layer takes them: secret outputs, and
// whether each is set.
func (a PlatformArgs) secrets() spec.Secrets {
	secrets := spec.Secrets{}
	if a.HFToken != nil {
		secrets.HFToken, secrets.HasHFToken = pulumi.ToSecret(a.HFToken).(pulumi.StringOutput), true
	}
	if a.GatewayAPIKeys != nil {
		joined := a.GatewayAPIKeys.ToStringArrayOutput().ApplyT(func(keys []string) string { return strings.Join(keys, ",") }).(pulumi.StringOutput)
		// Only whether there are keys matters at plan time (the keys Secret exists).
		secrets.GatewayAPIKeys, secrets.NumAPIKeys = pulumi.ToSecret(joined).(pulumi.StringOutput), 1
	}
	if a.WebUISecretKey != nil {
		secrets.WebUISecretKey, secrets.HasWebUIKey = pulumi.ToSecret(a.WebUISecretKey).(pulumi.StringOutput), true
	}
	if a.WebUIAdminPassword != nil {
		secrets.WebUIAdminPassword, secrets.HasWebUIAdminPassword = pulumi.ToSecret(a.WebUIAdminPassword).(pulumi.StringOutput), true
	}
	if a.WebUIDatabaseURL != nil {
		secrets.WebUIDatabaseURL, secrets.HasWebUIDatabaseURL = pulumi.ToSecret(a.WebUIDatabaseURL).(pulumi.StringOutput), true
	}
	if a.WebUIOIDCClientSecret != nil {
		secrets.WebUIOIDCClientSecret, secrets.HasWebUIOIDCClientSecret = pulumi.ToSecret(a.WebUIOIDCClientSecret).(pulumi.StringOutput), true
	}
	return secrets
}

// NewPlatform declares the application layer as one component, through Application (as the
// stack program does), from its inputs read once (ReadPlatformInputs). The caller's Kubernetes
// provider (opts: providers) reaches every child.
func NewPlatform(ctx *pulumi.Context, name string, in PlatformInputs, opts ...pulumi.ResourceOption) (*Platform, error) {
	p := &Platform{}
	if err := ctx.RegisterComponentResource(PlatformType, name, p, opts...); err != nil {
		return nil, err
	}
	c := &cluster.Cluster{GPUNodeSelector: modelNodeSelector(in.Config)}
	out, err := Application(ctx, in.Config, in.Secrets, c, CloudAddOns{}, AppOptions{Rendering: in.Render, Prefix: name + "-", Opts: []pulumi.ResourceOption{pulumi.Parent(p)}})
	if err != nil {
		return nil, err
	}
	p.APIBaseURL, p.WebUIURL = out.APIBaseURL, out.WebUIURL
	p.GatewayURL = pulumi.String(out.GatewayURL).ToStringOutput()
	p.Models = pulumi.ToStringArray(out.Models).ToStringArrayOutput()
	p.WebUIAdminPassword = out.WebUIAdminPassword
	if p.WebUIAdminPassword == (pulumi.StringOutput{}) {
		p.WebUIAdminPassword = pulumi.String("").ToStringOutput()
	}
	return p, ctx.RegisterResourceOutputs(p, pulumi.Map{
		"apiBaseUrl":         p.APIBaseURL,
		"webUiUrl":           p.WebUIURL,
		"gatewayUrl":         p.GatewayURL,
		"models":             p.Models,
		"webuiAdminPassword": p.WebUIAdminPassword,
	})
}

// PlatformDefaults are the Platform's inputs when none is set: the stack config's defaults
// (for the package's schema, which documents them).
func PlatformDefaults() PlatformArgs {
	d := spec.Defaults()
	return PlatformArgs{
		Namespace: d.Namespace,
		VLLM:      d.VLLM,
		Gateway:   d.Gateway,
		WebUI:     d.WebUI,
		Edge:      d.Edge,
		Platform:  PlatformAddOns{Istio: d.Platform.Istio, ArgoCD: d.Platform.ArgoCD, KEDA: d.Platform.KEDA},
		// Observability's monitorLabels and dashboardLabels are defaulted when the config is
		// read (a map set replaces the default), so the schema documents them unset.
		Observability: d.Observability,
	}
}
