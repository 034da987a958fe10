// Package spec is the typed stack configuration: it loads, defaults and
// validates every key, so components receive plain, checked Go values.
// Only package stacks reads it from Pulumi; components take their parts.
package spec

import (
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/model"
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
	Render    RenderConfig   `json:"render"`
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

// GKEConfig creates or adopts a GKE cluster and adds a GPU node pool.
type GKEConfig struct {
	Project string     `json:"project"`
	Region  string     `json:"region"`
	Zone    string     `json:"zone"`
	Cluster GKECluster `json:"cluster"`
	GPUPool GKEGPUPool `json:"gpuPool"`
}

// SystemPoolZones is how many zones the system pool spans: its node count is per zone, and a
// regional cluster's default node locations are the region's zones (three or more; three is
// counted, the lower bound).
func (g GKEConfig) SystemPoolZones() int {
	if g.Zone != "" {
		return 1
	}
	return 3
}

type GKECluster struct {
	Create             bool   `json:"create"`
	Name               string `json:"name"`
	ReleaseChannel     string `json:"releaseChannel"`
	DeletionProtection bool   `json:"deletionProtection"`
	SystemMachineType  string `json:"systemMachineType"`
	SystemNodeCount    int    `json:"systemNodeCount"`
}

type GKEGPUPool struct {
	MachineType      string            `json:"machineType"`
	AcceleratorType  string            `json:"acceleratorType"`
	AcceleratorCount int               `json:"acceleratorCount"`
	DriverVersion    string            `json:"driverVersion"`
	MinNodes         int               `json:"minNodes"`
	MaxNodes         int               `json:"maxNodes"`
	Spot             bool              `json:"spot"`
	DiskSizeGB       int               `json:"diskSizeGb"`
	DiskType         string            `json:"diskType"`
	NodeLocations    []string          `json:"nodeLocations"`
	Labels           map[string]string `json:"labels"`
}

// EKSConfig creates or adopts an EKS cluster and adds a GPU managed node group.
//
// The cluster-wide add-ons below are *bool: nil means "on for a cluster this
// stack creates, off for an adopted one" (see ForCreatedClusters). An adopted
// cluster usually runs them already, and a second copy either fails
// (an EKS add-on that exists: ResourceInUseException; a Helm release over the
// LB controller's objects: ownership conflict) or silently takes over (a
// second default StorageClass wins for every namespace).
type EKSConfig struct {
	Region string `json:"region"`
	// EBSCSIDriver installs the EBS CSI driver add-on, without which no
	// PersistentVolumeClaim binds.
	EBSCSIDriver *bool `json:"ebsCsiDriver"`
	// PodIdentityAgent installs the EKS Pod Identity agent add-on, which
	// the EBS CSI driver and the LB controller get their AWS credentials from.
	PodIdentityAgent *bool `json:"podIdentityAgent"`
	// LoadBalancerController installs the AWS Load Balancer Controller (an
	// IAM role and pod identity here, its Helm chart in the platform), which
	// serves the ingress gateway's `aws-load-balancer-type: external` NLB.
	LoadBalancerController *bool `json:"loadBalancerController"`
	// DefaultStorageClass declares the EBS CSI driver's gp3 class as the
	// cluster's default.
	DefaultStorageClass *bool           `json:"defaultStorageClass"`
	Cluster             EKSCluster      `json:"cluster"`
	GPUNodeGroup        EKSGPUNodeGroup `json:"gpuNodeGroup"`
}

// ForCreatedClusters resolves one of EKSConfig's optional add-on switches:
// as set, or (nil) on exactly when this stack creates the cluster.
func (e EKSConfig) ForCreatedClusters(on *bool) bool {
	if on != nil {
		return *on
	}
	return e.Cluster.Create
}

type EKSCluster struct {
	Create             bool     `json:"create"`
	Name               string   `json:"name"`
	Version            string   `json:"version"`
	VPCCIDR            string   `json:"vpcCidr"`
	AvailabilityZones  []string `json:"availabilityZones"`
	SystemInstanceType string   `json:"systemInstanceType"`
	SystemNodeCount    int      `json:"systemNodeCount"`
	AdminRoleARNs      []string `json:"adminRoleArns"`
	// PublicAccessCIDRs may reach the public API endpoint of a created
	// cluster (the machine running `pulumi up` must be inside one).
	PublicAccessCIDRs []string `json:"publicAccessCidrs"`
	// SubnetIDs places the GPU node group when adopting a cluster; it is
	// required then (the cluster's own subnets often include public ones
	// where nodes without public IPs never join).
	SubnetIDs []string `json:"subnetIds"`
}

type EKSGPUNodeGroup struct {
	InstanceTypes []string          `json:"instanceTypes"`
	GPUsPerNode   int               `json:"gpusPerNode"`
	CapacityType  string            `json:"capacityType"`
	MinSize       int               `json:"minSize"`
	MaxSize       int               `json:"maxSize"`
	DesiredSize   int               `json:"desiredSize"`
	DiskSizeGB    int               `json:"diskSizeGb"`
	Labels        map[string]string `json:"labels"`
}

// PlatformConfig turns the cluster add-ons on or off.
type PlatformConfig struct {
	Istio         IstioConfig         `json:"istio"`
	ArgoCD        ArgoCDConfig        `json:"argocd"`
	DevicePlugin  DevicePluginConfig  `json:"devicePlugin"`
	MetricsServer MetricsServerConfig `json:"metricsServer"`
}

type IstioConfig struct {
	Enabled            bool              `json:"enabled"`
	GatewayReplicas    int               `json:"gatewayReplicas"`
	ServiceAnnotations map[string]string `json:"serviceAnnotations"`
	// ServiceType of the ingress gateway: ServiceTypeAuto picks LoadBalancer on gke and eks,
	// NodePort on an existing cluster (kind and bare metal have no load balancers).
	ServiceType string `json:"serviceType"`
	// Preinstalled says Istio (its CRDs, istiod and an ingress gateway labelled
	// istio=ingressgateway) is already in the cluster, so the edge may be declared with
	// enabled: false.
	Preinstalled bool `json:"preinstalled"`
}

// ServiceTypeAuto picks the ingress gateway's Service type by cloud.
const ServiceTypeAuto = "auto"

// MetricsServerConfig installs metrics-server on EKS, which has none (GKE ships one; on an
// existing cluster say whether it has one with existing.metricsServer).
type MetricsServerConfig struct {
	Enabled bool `json:"enabled"`
}

type ArgoCDConfig struct {
	Enabled  bool        `json:"enabled"`
	HA       bool        `json:"ha"`
	Insecure bool        `json:"insecure"`
	Apps     []ArgoCDApp `json:"apps"`
}

// ArgoCDApp hands a path of a Git repository over to Argo CD.
type ArgoCDApp struct {
	Name           string `json:"name"`
	RepoURL        string `json:"repoURL"`
	Path           string `json:"path"`
	TargetRevision string `json:"targetRevision"`
	Namespace      string `json:"namespace"`
}

type DevicePluginConfig struct {
	Enabled bool `json:"enabled"`
}

// VLLMConfig pins the serving images. The GPU image's CUDA build decides the
// minimum NVIDIA driver (see Pulumi.yaml).
type VLLMConfig struct {
	Image    string `json:"image"`
	CPUImage string `json:"cpuImage"`
}

// GatewayConfig tunes the OpenResty router in front of the models (the gateway component's
// own Config; its JSON names are the config keys).
type GatewayConfig = gateway.Config

// WebUIConfig configures Open WebUI (the webui component's own Config).
type WebUIConfig = webui.Config

// EdgeConfig exposes the API and the UI through the Istio ingress gateway.
type EdgeConfig struct {
	Enabled         bool      `json:"enabled"`
	Hosts           []string  `json:"hosts"`
	TLS             TLSConfig `json:"tls"`
	StrictMTLS      bool      `json:"strictMtls"`
	NetworkPolicies bool      `json:"networkPolicies"`
	// MetricsNamespaces may scrape the model pods' /metrics.
	MetricsNamespaces []string `json:"metricsNamespaces"`
}

type TLSConfig struct {
	CredentialName string `json:"credentialName"`
}

// RenderConfig, when Dir is set, writes manifests to Dir instead of applying
// them to a cluster (the offline main job, and a GitOps hand-off).
type RenderConfig struct {
	Dir string `json:"dir"`
}
