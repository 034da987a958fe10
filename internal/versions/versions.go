// Package versions is the one place where the images and Helm charts the
// platform deploys are pinned. Bump them here, deliberately.
package versions

const (
	// VLLMImage is built on CUDA 13 and needs NVIDIA driver >= 580. For nodes
	// with CUDA 12 drivers use the matching "-cu129" tag via `vllm.image`.
	VLLMImage = "vllm/vllm-openai:v0.31.0"
	// VLLMCPUImage serves CPU-only models (gpuRequestCount: 0), e.g. on kind.
	VLLMCPUImage = "public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:v0.31.0"
	// OpenRestyImage runs the gateway; the bookworm flavour ships LuaJIT + cjson.
	OpenRestyImage = "openresty/openresty:1.31.1.1-0-bookworm"
	// OpenWebUIImage is the chat UI.
	OpenWebUIImage = "ghcr.io/open-webui/open-webui:v0.11.0"
)

// Chart is a pinned Helm chart.
type Chart struct {
	Repo    string
	Name    string
	Version string
}

const istioRepo = "https://istio-release.storage.googleapis.com/charts"

// Istio 1.30.0-1.30.2 had a VirtualService push regression; 1.30.4 is past it.
var (
	IstioBase    = Chart{Repo: istioRepo, Name: "base", Version: "1.30.4"}
	Istiod       = Chart{Repo: istioRepo, Name: "istiod", Version: "1.30.4"}
	IstioGateway = Chart{Repo: istioRepo, Name: "gateway", Version: "1.30.4"}
	ArgoCD       = Chart{Repo: "https://argoproj.github.io/argo-helm", Name: "argo-cd", Version: "10.9.0"}
	// NVIDIADevicePlugin is installed on EKS only: GKE manages its own.
	NVIDIADevicePlugin = Chart{Repo: "https://nvidia.github.io/k8s-device-plugin", Name: "nvidia-device-plugin", Version: "0.20.0"}
)
