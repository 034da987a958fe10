package spec

import (
	"fmt"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/tenants"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// Defaults is the one place where the stack config gets its defaults. Load
// decodes each config key on top of these values, so a stack sets only what
// differs. Pulumi.yaml documents the same defaults (a test keeps them equal).
func Defaults() Config {
	return Config{
		Cloud:         CloudExisting,
		Namespace:     "llm",
		GKE:           defaultGKE(),
		EKS:           defaultEKS(),
		Platform:      defaultPlatform(),
		VLLM:          VLLMConfig{Image: versions.VLLMImage, CPUImage: versions.VLLMCPUImage},
		Gateway:       defaultGateway(),
		Tenancy:       tenants.Defaults(),
		WebUI:         defaultWebUI(),
		Edge:          defaultEdge(),
		Observability: defaultObservability(),
	}
}

// defaultGKE: a created cluster with an L4 pool that scales from zero.
func defaultGKE() GKEConfig {
	return GKEConfig{
		Cluster: GKECluster{
			Create:             true,
			Name:               "llm-platform",
			ReleaseChannel:     "REGULAR",
			DeletionProtection: true,
			SystemMachineType:  "e2-standard-4",
			SystemNodeCount:    1,
		},
		Postgres: gke.DefaultPostgres(),
		Redis:    gke.DefaultRedis(),
		GPUPool: GKEGPUPool{
			MachineType:      "g2-standard-8",
			AcceleratorType:  "nvidia-l4",
			AcceleratorCount: 1,
			DriverVersion:    "LATEST",
			MinNodes:         0,
			MaxNodes:         2,
			DiskSizeGB:       200,
			DiskType:         "pd-ssd",
		},
	}
}

// defaultEKS: a created cluster in its own VPC with an L4 node group.
func defaultEKS() EKSConfig {
	return EKSConfig{
		// The add-on switches stay nil: on for created clusters, off for
		// adopted ones (EKSConfig.ForCreatedClusters).
		Cluster: EKSCluster{
			Create: true,
			Name:   "llm-platform",
			// The newest EKS version in standard support (1.36: released on
			// EKS 2026-06-02, standard support until 2027-08-02).
			Version: "1.36",
			VPCCIDR: "10.0.0.0/16",
			// Two m6i.large (about 1.6 CPU free each) cannot hold istiod, the
			// ingress gateways, the gateway, Open WebUI and Argo CD; two
			// m6i.xlarge can (the capacity check in package stacks says so).
			SystemInstanceType: "m6i.xlarge",
			SystemNodeCount:    2,
			// EKS's own default: the endpoint still needs IAM credentials and
			// an access entry, and CI runners have no fixed addresses. The
			// component warns while it is open to the world; narrow it to
			// your networks.
			PublicAccessCIDRs: []string{"0.0.0.0/0"},
		},
		Postgres: eks.DefaultPostgres(),
		Redis:    eks.DefaultRedis(),
		GPUNodeGroup: EKSGPUNodeGroup{
			// One L4 with 8 vCPUs and 32 GiB: a g6.xlarge (4 vCPUs, 16 GiB)
			// cannot hold a 1-GPU model's default 4 CPU and 16Gi.
			InstanceTypes: []string{"g6.2xlarge"},
			GPUsPerNode:   1,
			CapacityType:  "ON_DEMAND",
			MinSize:       0,
			MaxSize:       2,
			DesiredSize:   1,
			DiskSizeGB:    200,
		},
	}
}

// defaultPlatform: every add-on on.
func defaultPlatform() PlatformConfig {
	return PlatformConfig{
		Istio:         IstioConfig{Enabled: true, GatewayReplicas: 2, ServiceType: ServiceTypeAuto, CNI: true},
		ArgoCD:        ArgoCDConfig{Enabled: true, Insecure: true},
		DevicePlugin:  DevicePluginConfig{Enabled: true},
		MetricsServer: MetricsServerConfig{Enabled: true},
		KEDA:          KEDAConfig{Enabled: true},
	}
}

// defaultGateway: the component's suggested settings, two pods autoscaled up to six.
func defaultGateway() GatewayConfig {
	return GatewayConfig{
		Image:       versions.OpenRestyImage,
		Replicas:    2,
		MaxReplicas: 6,
		MaxBodySize: gateway.DefaultMaxBodySize,
		// Generations stream for minutes: this is also the pods' graceful drain.
		TimeoutSeconds: 900,
		// Measured (docs/gateway.md, "Capacity"): what 2 workers and the pod's memory
		// limit hold with room to spare; the HPA adds pods well before it.
		MaxStreamsPerPod: 4000,
		Routing:          gateway.DefaultRouting(),
		HoldShare:        gateway.DefaultHoldShare,
	}
}

// defaultWebUI: one Open WebUI on SQLite, sign-ups pending approval.
func defaultWebUI() WebUIConfig {
	return WebUIConfig{
		Enabled:         true,
		Image:           versions.OpenWebUIImage,
		StorageSize:     "10Gi",
		DefaultUserRole: "pending",
		TimeoutSeconds:  300,
		AdminEmail:      "admin@llm-platform.local",
		AdminName:       "Admin",
		// Replicas stays nil: 2 with PostgreSQL, 1 with SQLite (webui.Config.ReplicaCount).
		Database: webui.DatabaseConfig{Kind: webui.DatabaseSQLite, InCluster: webui.DefaultInCluster()},
		OIDC:     webui.DefaultOIDC(),
	}
}

// defaultEdge: any host, strict mutual TLS and NetworkPolicies.
func defaultEdge() EdgeConfig {
	return EdgeConfig{
		Enabled:           true,
		Hosts:             []string{"*"},
		StrictMTLS:        true,
		NetworkPolicies:   true,
		MetricsNamespaces: []string{"monitoring"},
	}
}

// defaultObservability: off; when on, the installed kube-prometheus-stack.
func defaultObservability() ObservabilityConfig {
	return ObservabilityConfig{
		Enabled:   false,
		Namespace: "monitoring",
		Install:   true,
		// MonitorLabels and DashboardLabels are defaulted in deriveDefaults: a map set in a
		// stack replaces the default rather than adding to it.
		DCGMExporter:   true,
		ScrapeInterval: "15s",
		Thresholds: Thresholds{
			TTFTP95Seconds:        2,
			TTFTP95SecondsByModel: map[string]float64{},
			QueueDepth:            10,
			QueueMinutes:          5,
			Gateway5xxRatio:       0.05,
			KVCacheUsage:          0.95,
			NoReplicaMinutes:      15,
		},
	}
}

// defaultModel holds the defaults of every model entry that do not depend on
// the entry's other fields; deriveModelDefaults fills in the ones that do.
func defaultModel() ModelSpec {
	return ModelSpec{
		GPURequestCount:       1,
		Replicas:              1,
		PVCSize:               "50Gi",
		GPUMemoryUtilization:  0.9,
		Dtype:                 "auto",
		StartupTimeoutSeconds: 3600,
		DrainSeconds:          model.DefaultDrainSeconds,
		Autoscaling:           model.DefaultAutoscaling(),
	}
}

// Per-GPU sizing of a model pod. vLLM's CPU side (tokenisation, scheduling,
// the API server) needs a few cores per GPU, and loading weights stages them
// through host memory.
const (
	cpuPerGPU   = 4
	memGiPerGPU = 16
	shmGiPerGPU = 4
	cpuModelCPU = "2"
	cpuModelMem = "8Gi"
	cpuModelShm = "1Gi"
)

// deriveDefaults fills the defaults that depend on other values, and those of maps (JSON
// decoding adds a stack's entries to a map it finds, so a default map would never go away).
func deriveDefaults(cfg *Config) {
	if o := &cfg.Observability; o.MonitorLabels == nil {
		// kube-prometheus-stack's Prometheus selects monitors and rules labelled with its
		// release name (its *SelectorNilUsesHelmValues defaults).
		o.MonitorLabels = map[string]string{"release": addons.MonitoringRelease}
	}
	if o := &cfg.Observability; o.DashboardLabels == nil {
		// kube-prometheus-stack's Grafana sidecar default.
		o.DashboardLabels = map[string]string{"grafana_dashboard": "1"}
	}
	for i := range cfg.Models {
		deriveModelDefaults(&cfg.Models[i])
	}
	for i := range cfg.Platform.ArgoCD.Apps {
		a := &cfg.Platform.ArgoCD.Apps[i]
		if a.TargetRevision == "" {
			a.TargetRevision = "HEAD"
		}
		if a.Namespace == "" {
			a.Namespace = cfg.Namespace
		}
	}
}

// deriveModelDefaults fills the sizes that scale with the GPU count.
func deriveModelDefaults(m *ModelSpec) {
	gpus := m.GPURequestCount
	if m.CPU == "" {
		m.CPU = cpuModelCPU
		if gpus > 0 {
			m.CPU = fmt.Sprint(cpuPerGPU * gpus)
		}
	}
	if m.Memory == "" {
		m.Memory = cpuModelMem
		if gpus > 0 {
			m.Memory = fmt.Sprintf("%dGi", memGiPerGPU*gpus)
		}
	}
	if m.ShmSize == "" {
		m.ShmSize = cpuModelShm
		if gpus > 0 {
			m.ShmSize = fmt.Sprintf("%dGi", shmGiPerGPU*gpus)
		}
	}
}

// DefaultModel is a model entry's defaults before the sizes derived from its GPU count (for
// the component package's schema, which documents them).
func DefaultModel() ModelSpec { return defaultModel() }
