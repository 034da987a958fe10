// Package versions is the one place where the images and Helm charts the
// platform deploys are pinned. Bump them here, deliberately.
package versions

const (
	// VLLMImage is vLLM's CUDA 12.9 build, which runs on any NVIDIA driver of the
	// 525 series or newer (CUDA minor-version compatibility): the drivers GKE
	// installs (DEFAULT and LATEST alike) and the EKS AL2023 NVIDIA AMI's. The
	// untagged-suffix default image, "vllm/vllm-openai:v0.31.0", is built on
	// CUDA 13 and fails to start on drivers older than 580; use it (via
	// `vllm.image`) only on nodes known to run 580 or newer.
	VLLMImage = "vllm/vllm-openai:v0.31.0-cu129"
	// VLLMCPUImage serves CPU-only models (gpuRequestCount: 0), e.g. on kind.
	VLLMCPUImage = "public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:v0.31.0"
	// OpenRestyImage runs the gateway; the bookworm flavour ships LuaJIT + cjson.
	OpenRestyImage = "openresty/openresty:1.31.1.1-0-bookworm"
	// OpenWebUIImage is the chat UI.
	OpenWebUIImage = "ghcr.io/open-webui/open-webui:v0.11.0"
	// ValkeyImage is the Redis-compatible server components/redis runs (Open WebUI's websockets
	// across replicas; the gateway's shared counters later). Valkey is the BSD-licensed fork of
	// Redis 7.2 that Memorystore and ElastiCache also offer; 8.1.8 is the newest 8.1 in
	// valkey-io/valkey-container's versions.json, on Debian trixie.
	ValkeyImage = "valkey/valkey:8.1.8-trixie"
	// PostgresImage is the in-cluster PostgreSQL of Open WebUI (webui.database.kind in-cluster):
	// the official postgres:17 image with pgvector 0.8.6 added, as the pgvector project builds
	// and publishes it (its README's Docker tags). Open WebUI keeps its vectors there too.
	PostgresImage = "pgvector/pgvector:0.8.6-pg17-bookworm"
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
	// IstioCNI is Istio's CNI node agent: it sets up each pod's traffic redirection, so the
	// injected pods need no NET_ADMIN/NET_RAW init container and meet Pod Security baseline.
	IstioCNI = Chart{Repo: istioRepo, Name: "cni", Version: "1.30.4"}
	ArgoCD   = Chart{Repo: "https://argoproj.github.io/argo-helm", Name: "argo-cd", Version: "10.9.0"}
	// NVIDIADevicePlugin is installed on EKS only: GKE manages its own.
	NVIDIADevicePlugin = Chart{Repo: "https://nvidia.github.io/k8s-device-plugin", Name: "nvidia-device-plugin", Version: "0.20.0"}
	// MetricsServer serves the metrics API the Istio autoscalers read, on clusters that do not
	// ship one (EKS). Chart 3.13.0 is metrics-server v0.8.0.
	MetricsServer = Chart{Repo: "https://kubernetes-sigs.github.io/metrics-server/", Name: "metrics-server", Version: "3.13.0"}
)

// IstioModule is the istio.io/istio Go module for the Istio release the
// charts above pin (1.30.4). Tests read Istio's CRDs from it
// (manifests/charts/base/files/crd-all.gen.yaml) to check the custom
// resources we declare. Istio's tags are not semver, so the module proxy
// knows releases only by pseudo-version, and it refuses "1.30.4",
// "v1.30.4" and "release-1.30". This commit is from the release-1.30 branch
// (VERSION 1.30, BASE_VERSION 1.30-2026-08-26), made on 2026-08-26, the day
// 1.30.4 was published. Its CRD file is byte-identical to the 1.30.3 tag's
// and the 1.30.0 tag's: the CRDs did not change in 1.30.x. Bump it with
// the charts.
const IstioModule = "istio.io/istio@v0.0.0-20260826214018-9739e10eb9d7"

// AWSLoadBalancerController serves the ingress gateway's NLB on EKS (the
// `aws-load-balancer-type: external` Service annotations; the in-tree cloud
// provider ignores such Services). Chart 3.5.0 ships controller v3.5.0; its IAM
// policy is components/eks/lbcontroller_iam_policy.json, docs/install/iam_policy.json
// at kubernetes-sigs/aws-load-balancer-controller v3.5.0: bump them together.
var AWSLoadBalancerController = Chart{Repo: "https://aws.github.io/eks-charts", Name: "aws-load-balancer-controller", Version: "3.5.0"}

// ArgoCDModule is the Argo CD Go module whose Application CRD
// (manifests/crds/application-crd.yaml) the end-to-end tests install into a
// real API server. The argo-cd chart above (10.9.x) deploys Argo CD v3.5;
// v3.5.7 is the newest v3.5 release the module proxy serves. Only the zip is
// read (`go mod download`), never built: the module is not in go.mod. Bump it
// with the chart.
const ArgoCDModule = "github.com/argoproj/argo-cd/v3@v3.5.7"

// KubePrometheusStack installs Prometheus, Alertmanager, Grafana (with its dashboard sidecar),
// the Prometheus operator and kube-state-metrics when observability.install is true. Chart
// 88.5.3 ships operator v0.93.1. Its defaults this program relies on (values.yaml at the
// chart's 88.5.3 tag): prometheus.prometheusSpec.{serviceMonitor,podMonitor,rule}SelectorNilUsesHelmValues
// are true, so Prometheus selects monitors and rules labelled `release: <release name>`, in
// every namespace (the namespace selectors are {}); grafana.sidecar.dashboards.label is
// grafana_dashboard with labelValue "1" and searchNamespace ALL.
var KubePrometheusStack = Chart{Repo: "https://prometheus-community.github.io/helm-charts", Name: "kube-prometheus-stack", Version: "88.5.3"}

// DCGMExporter exports NVIDIA GPU metrics (DCGM_FI_*) on EKS, whose GPU nodes have no
// exporter of their own. Chart 4.8.2 runs nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless
// and declares its own ServiceMonitor (serviceMonitor.additionalLabels picks the Prometheus).
var DCGMExporter = Chart{Repo: "https://nvidia.github.io/dcgm-exporter/helm-charts", Name: "dcgm-exporter", Version: "4.8.2"}

// PrometheusOperatorCRDModule is the prometheus-operator module whose CRDs
// (example/prometheus-operator-crd/monitoring.coreos.com_*.yaml) tests check our PodMonitor,
// ServiceMonitor and PrometheusRule against, and the end-to-end tests install into a real API
// server. The objects themselves are built from the operator's Go API types at v0.95.2
// (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring, in go.mod); the
// module proxy serves the main module only at v0.85.0, so the CRD files come from that release
// (the chart above installs v0.93.1's, a superset of the fields we use). Only the zip is read
// (`go mod download`), never built.
const PrometheusOperatorCRDModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"

// KEDA scales the autoscaled models (components/autoscaling). Chart 2.20.2 is KEDA 2.20.2.
var KEDA = Chart{Repo: "https://kedacore.github.io/charts", Name: "keda", Version: "2.20.2"}

// KEDAModule is KEDA's Go module at the chart's release: tests read its ScaledObject CRD
// (config/crd/bases/keda.sh_scaledobjects.yaml), the schema KEDA's API types generate.
const KEDAModule = "github.com/kedacore/keda/v2@v2.20.2"

// ClusterAutoscaler scales the EKS GPU node group with the models' replicas (down to zero nodes
// when every GPU model is at zero). Chart 9.59.0 is Cluster Autoscaler 1.35.0 (Chart.yaml
// appVersion, image registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.0); its values are
// cluster-autoscaler/charts/cluster-autoscaler/values.yaml at kubernetes/autoscaler tag
// cluster-autoscaler-chart-9.59.0, its IAM policy (components/eks/autoscaler.go) follows
// cluster-autoscaler/cloudprovider/aws/README.md at tag cluster-autoscaler-1.35.0. Bump them
// together.
var ClusterAutoscaler = Chart{Repo: "https://kubernetes.github.io/autoscaler", Name: "cluster-autoscaler", Version: "9.59.0"}
