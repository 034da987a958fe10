// Package spec is the typed stack configuration: it loads, defaults and
// validates every key, so components receive plain, checked Go values.
// Only package stacks reads it from Pulumi; components take their parts.
package spec

import (
	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/observability"
	"github.com/llm-platform/llm-platform/components/webui"
)

// Config is the whole stack configuration. Each field is one top-level Pulumi
// config key in the llm-platform namespace (`llm-platform:<json name>`);
// Pulumi.yaml documents every key with its type and default.
type Config struct {
	Cloud     string         `json:"cloud"`
	Namespace string         `json:"namespace"`
	Existing  ExistingConfig `json:"existing"`
	GKE       GKEConfig      `json:"gke"`
	EKS       EKSConfig      `json:"eks"`
	Platform  PlatformConfig `json:"platform"`
	Models    []ModelSpec    `json:"models"`
	VLLM      VLLMConfig     `json:"vllm"`
	Gateway   GatewayConfig  `json:"gateway"`
	WebUI     WebUIConfig    `json:"webui"`
	Edge      EdgeConfig     `json:"edge"`
	// Tenancy: teams, their keys' policies (models, limits, budgets), prices, the limits' Redis.
	Tenancy TenancyConfig `json:"tenancy"`
	// Observability: monitors, dashboards, alerts, and optionally the monitoring stack.
	Observability ObservabilityConfig `json:"observability"`
	Render        RenderConfig        `json:"render"`
}

// Cloud values.
const (
	CloudExisting = "existing"
	CloudGKE      = "gke"
	CloudEKS      = "eks"
)

// ModelSpec is one served model (the model component's own Spec; its JSON names are the
// config keys). Its Kubernetes name is derived by KubeName.
type ModelSpec = model.Spec

// ExistingConfig deploys into a cluster that already exists, reached through
// a kubeconfig (the current context unless told otherwise).
type ExistingConfig struct {
	Kubeconfig   string            `json:"kubeconfig"`
	Context      string            `json:"context"`
	NodeSelector map[string]string `json:"nodeSelector"`
	// MetricsServer says the cluster serves the metrics API (metrics-server): only then do
	// the Istio autoscalers get turned on (kind and plain clusters have none).
	MetricsServer bool `json:"metricsServer"`
}

// PlatformConfig turns the cluster add-ons on or off.
type PlatformConfig struct {
	Istio         IstioConfig         `json:"istio"`
	ArgoCD        ArgoCDConfig        `json:"argocd"`
	DevicePlugin  DevicePluginConfig  `json:"devicePlugin"`
	MetricsServer MetricsServerConfig `json:"metricsServer"`
	KEDA          KEDAConfig          `json:"keda"`
}

// KEDAConfig: KEDA scales the models that have autoscaling (models[i].autoscaling).
type KEDAConfig struct {
	// Enabled installs KEDA when some model autoscales (false: the cluster runs its own).
	Enabled bool `json:"enabled" pulumi:"enabled"`
	// PrometheusURL is the Prometheus the triggers query; "" is the monitoring stack's
	// (prometheus-operated in observability.namespace).
	PrometheusURL string `json:"prometheusURL" pulumi:"prometheusURL"`
}

// Autoscales reports whether any model has autoscaling.
// ScalesToZero says whether some model may run no replica (autoscaling.minReplicas 0).
func (c Config) ScalesToZero() bool {
	for _, m := range c.Models {
		if m.ScalesToZero() {
			return true
		}
	}
	return false
}

func (c Config) Autoscales() bool {
	for _, m := range c.Models {
		if m.Autoscaling.Enabled {
			return true
		}
	}
	return false
}

// PrometheusURL is where the autoscaling triggers read metrics.
func (c Config) PrometheusURL() string {
	if c.Platform.KEDA.PrometheusURL != "" {
		return c.Platform.KEDA.PrometheusURL
	}
	return "http://prometheus-operated." + c.Observability.Namespace + ".svc.cluster.local:9090"
}

// ServiceTypeAuto picks the ingress gateway's Service type by cloud.
const ServiceTypeAuto = "auto"

// MetricsServerConfig installs metrics-server on EKS, which has none (GKE ships one; on an
// existing cluster say whether it has one with existing.metricsServer).
type MetricsServerConfig struct {
	Enabled bool `json:"enabled"`
}

type DevicePluginConfig struct {
	Enabled bool `json:"enabled"`
}

// VLLMConfig pins the serving images. The GPU image's CUDA build decides the
// minimum NVIDIA driver (see Pulumi.yaml).
type VLLMConfig struct {
	// Image is the vLLM image of GPU models (a pinned tag; its CUDA build decides the minimum
	// NVIDIA driver).
	Image string `json:"image" pulumi:"image"`
	// CPUImage is the vLLM image of CPU models (gpuRequestCount 0).
	CPUImage string `json:"cpuImage" pulumi:"cpuImage"`
}

// GatewayConfig tunes the OpenResty router in front of the models (the gateway component's
// own Config; its JSON names are the config keys).
type GatewayConfig = gateway.Config

// RoutingConfig is gateway.routing: how the gateway picks a model's replica per request.
type RoutingConfig = nginx.Routing

// WebUIConfig configures Open WebUI (the webui component's own Config).
type WebUIConfig = webui.Config

// RenderConfig, when Dir is set, writes manifests to Dir instead of applying
// them to a cluster (the offline main job, and a GitOps hand-off).
type RenderConfig struct {
	Dir string `json:"dir"`
}

// The components own their configuration types; the stack config uses them as they are.
type (
	EdgeConfig      = edge.Config
	TLSConfig       = edge.TLSConfig
	IstioConfig     = addons.IstioConfig
	ArgoCDConfig    = addons.ArgoCDConfig
	ArgoCDApp       = addons.ArgoCDApp
	GKEConfig       = gke.Config
	GKECluster      = gke.ClusterConfig
	GKEGPUPool      = gke.GPUPoolConfig
	EKSConfig       = eks.Config
	EKSCluster      = eks.ClusterConfig
	EKSGPUNodeGroup = eks.GPUNodeGroupConfig
	// ObservabilityConfig is the observability component's own Config.
	ObservabilityConfig = observability.Config
	Thresholds          = observability.Thresholds
)
