package spec

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	prommodel "github.com/prometheus/common/model"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gateway/nginx"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/naming"
)

// Allowed values of enum-like keys.
var (
	clouds            = []string{CloudExisting, CloudGKE, CloudEKS}
	dtypes            = []string{"auto", "half", "float16", "bfloat16", "float", "float32"}
	gkeReleaseChannel = []string{"RAPID", "REGULAR", "STABLE"} // what pulumi-gcp v7.38.0 accepts; see extendedChannelNote
	gkeDriverVersions = []string{"DEFAULT", "LATEST", "INSTALLATION_DISABLED"}
	gkeAccelerators   = []string{
		"nvidia-tesla-t4", "nvidia-l4", "nvidia-tesla-v100", "nvidia-tesla-p4", "nvidia-tesla-p100",
		"nvidia-tesla-a100", "nvidia-a100-80gb", "nvidia-h100-80gb", "nvidia-h100-mega-80gb",
		"nvidia-h200-141gb", "nvidia-b200", "nvidia-gb200", "nvidia-rtx-pro-6000",
	}
	eksCapacityTypes = []string{"ON_DEMAND", "SPOT"}
	// The gateway's replica routing strategies.
	routingStrategies = nginx.Strategies
	// An HTTP header name nginx exposes as $http_<name>.
	httpHeaderName = regexp.MustCompile(`^[A-Za-z0-9-]{1,128}$`)
	// Service types of the ingress gateway (ServiceTypeAuto: by cloud).
	ingressServiceTypes = []string{ServiceTypeAuto, "LoadBalancer", "NodePort", "ClusterIP"}
	// Flags the model component sets itself; setting them again in extraArgs
	// would silently fight the typed keys.
	managedVLLMFlags = map[string]string{
		"--port": "", "--host": "", "--served-model-name": "modelName",
		"--tensor-parallel-size": "gpuRequestCount", "--gpu-memory-utilization": "gpuMemoryUtilization",
		"--max-model-len": "maxModelLen", "--dtype": "dtype", "--trust-remote-code": "trustRemoteCode",
		"--model": "huggingfaceId", "--api-key": "",
		"--enable-lora": "loras", "--lora-modules": "loras", "--max-loras": "maxLoras",
		"--max-lora-rank": "maxLoraRank", "--shutdown-timeout": "drainSeconds",
	}
)

// problems collects config errors, each prefixed with its key path.
type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func (p *problems) oneOf(path, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		p.add(path, "%q is not allowed; use one of %s", value, strings.Join(allowed, ", "))
	}
}

func (p *problems) quantity(path, value string, min string) {
	q, err := resource.ParseQuantity(value)
	if err != nil {
		p.add(path, "%q is not a Kubernetes quantity; write it like \"50Gi\"", value)
		return
	}
	if q.Cmp(resource.MustParse(min)) < 0 {
		p.add(path, "%q is too small; use at least %s", value, min)
	}
}

// Validate checks the whole config and returns every problem at once. It does not change
// cfg (defaulting is Parse's job; KubeName derives each model's Kubernetes name).
func Validate(cfg *Config) error {
	var p problems
	p.oneOf("cloud", cfg.Cloud, clouds)
	if errs := validation.IsDNS1123Label(cfg.Namespace); len(errs) > 0 {
		p.add("namespace", "%q is not a valid namespace name (%s)", cfg.Namespace, strings.Join(errs, "; "))
	}
	validateModels(&p, cfg)
	switch cfg.Cloud {
	case CloudGKE:
		validateGKE(&p, cfg)
	case CloudEKS:
		validateEKS(&p, cfg)
	}
	validateApps(&p, cfg)
	validateTenancy(&p, cfg)

	g := cfg.Gateway
	if g.Image == "" {
		p.add("gateway.image", "must name an OpenResty image")
	}
	if g.Replicas < 1 {
		p.add("gateway.replicas", "is %d; use 1 or more (2+ for availability)", g.Replicas)
	}
	p.quantity("gateway.maxBodySize", g.MaxBodySize, "1Mi")
	if g.TimeoutSeconds < 1 {
		p.add("gateway.timeoutSeconds", "is %d; use a positive number of seconds (long generations need minutes)", g.TimeoutSeconds)
	}
	if g.MaxReplicas < g.Replicas {
		p.add("gateway.maxReplicas", "is %d, below gateway.replicas %d; set it to at least %d (equal turns autoscaling off)",
			g.MaxReplicas, g.Replicas, max(g.Replicas, 1))
	}
	// The ceiling is nginx.MaxStreamsCeiling (the upstream connections of one pod share its
	// ephemeral ports); spelled out here because spec does not import the renderer.
	if g.MaxStreamsPerPod < 1 || g.MaxStreamsPerPod > 20000 {
		p.add("gateway.maxStreamsPerPod", "is %d; use 1 to 20000 concurrent requests per pod (the default is measured, see docs/gateway.md)",
			g.MaxStreamsPerPod)
	}
	validateRouting(&p, g.Routing)
	if msg := gateway.ValidColdStartTimeout(g.ColdStartTimeout); msg != "" {
		p.add("gateway.coldStartTimeout", "%s", msg)
	}
	if msg := gateway.ValidHoldShare(g.HoldShare); msg != "" {
		p.add("gateway.holdShare", "%s", msg)
	}
	validateWebUI(&p, cfg)
	if cfg.Edge.Enabled && len(cfg.Edge.Hosts) == 0 {
		p.add("edge.hosts", "is empty; use [\"*\"] or your DNS names")
	}
	validatePlatform(&p, cfg)
	validateObservability(&p, cfg)
	validateObjectSources(&p, cfg)
	if len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// validateRouting checks gateway.routing (the replica balancer's settings; docs/gateway.md,
// "Routing across replicas").
func validateRouting(p *problems, r RoutingConfig) {
	p.oneOf("gateway.routing.strategy", r.Strategy, routingStrategies)
	if !httpHeaderName.MatchString(r.SessionHeader) {
		p.add("gateway.routing.sessionHeader", "%q is not a header name; use letters, digits and '-' (nginx drops headers with '_'), e.g. \"x-session-id\"", r.SessionHeader)
	}
	if r.BlockSize < 16 || r.BlockSize > 65536 || r.BlockSize%4 != 0 {
		p.add("gateway.routing.blockSize", "is %d; use a multiple of 4 from 16 to 65536 bytes of prompt per hashed block (the default 256 is about 64 tokens)", r.BlockSize)
	}
	if r.MinPrefixBlocks < 1 {
		p.add("gateway.routing.minPrefixBlocks", "is %d; use 1 or more blocks", r.MinPrefixBlocks)
	}
	if r.MaxPrefixBlocks < 1 || r.MaxPrefixBlocks > 4096 {
		p.add("gateway.routing.maxPrefixBlocks", "is %d; use 1 to 4096 blocks (hashing cost per request grows with it)", r.MaxPrefixBlocks)
	} else if r.MinPrefixBlocks > r.MaxPrefixBlocks {
		p.add("gateway.routing.minPrefixBlocks", "is %d, above gateway.routing.maxPrefixBlocks %d; no prefix could ever match", r.MinPrefixBlocks, r.MaxPrefixBlocks)
	}
	if !(r.LoadFactor >= 1 && r.LoadFactor <= 100) {
		p.add("gateway.routing.loadFactor", "is %v; use 1 to 100 (a preferred replica is passed over at loadFactor x the model's average load + 1)", r.LoadFactor)
	}
	if r.IndexEntries < 1 || r.IndexEntries > 1<<20 {
		p.add("gateway.routing.indexEntries", "is %d; use 1 to 1048576 prefix-index entries (about 160 bytes of shared memory each)", r.IndexEntries)
	}
	for _, wp := range r.WeightProblems() {
		p.add("gateway.routing."+wp.Key, "%s", wp.Msg)
	}
}

func validateModels(p *problems, cfg *Config) {
	if len(cfg.Models) == 0 {
		p.add("models", "at least one model is required; add an entry with huggingfaceId and modelName")
		return
	}
	byName := map[string]int{}
	byKube := map[string]int{}
	for i := range cfg.Models {
		m := &cfg.Models[i]
		at := func(key string) string { return fmt.Sprintf("models[%d].%s", i, key) }
		// Streamed weights (weights.uri) come with their config and tokenizer: no repository.
		if strings.TrimSpace(m.HuggingfaceID) == "" && m.Weights.URI == "" {
			p.add(at("huggingfaceId"), "is required; use the Hugging Face repository id, e.g. \"Qwen/Qwen3-0.6B\" (or stream the weights from weights.uri)")
		}
		if m.ModelName == "" {
			p.add(at("modelName"), "is required; it is the name clients send as \"model\"")
		} else if j, dup := byName[m.ModelName]; dup {
			p.add(at("modelName"), "%q is already used by models[%d]; model names must be unique", m.ModelName, j)
		} else if kube, err := naming.KubeName(m.ModelName); err != nil {
			p.add(at("modelName"), "%v", err)
		} else if j, dup := byKube[kube]; dup {
			p.add(at("modelName"), "%q and models[%d].modelName %q both become the Kubernetes name %q; rename one", m.ModelName, j, cfg.Models[j].ModelName, kube)
		} else {
			byKube[kube] = i
		}
		if m.ModelName != "" {
			if _, dup := byName[m.ModelName]; !dup {
				byName[m.ModelName] = i
			}
		}
		if m.GPURequestCount < 0 {
			p.add(at("gpuRequestCount"), "is %d; use 0 for a CPU-only model or the number of GPUs (tensor-parallel size)", m.GPURequestCount)
		}
		if m.Replicas < 1 {
			p.add(at("replicas"), "is %d; use 1 or more", m.Replicas)
		}
		if a := m.Autoscaling; a.Enabled {
			validateAutoscaling(p, at, a)
			if !cfg.Observability.Enabled && cfg.Platform.KEDA.PrometheusURL == "" {
				p.add(at("autoscaling.enabled"), "needs the models' and the gateway's metrics in Prometheus: set observability.enabled: true, or platform.keda.prometheusURL to a Prometheus that scrapes them")
			}
		}
		p.quantity(at("pvcSize"), m.PVCSize, "1Gi")
		p.quantity(at("cpu"), m.CPU, "100m")
		p.quantity(at("memory"), m.Memory, "512Mi")
		p.quantity(at("shmSize"), m.ShmSize, "64Mi")
		if m.MaxModelLen < 0 {
			p.add(at("maxModelLen"), "is %d; use 0 for the model's own limit or a positive token count", m.MaxModelLen)
		}
		if m.GPUMemoryUtilization <= 0 || m.GPUMemoryUtilization > 1 {
			p.add(at("gpuMemoryUtilization"), "is %v; use a fraction in (0, 1], e.g. 0.9", m.GPUMemoryUtilization)
		}
		p.oneOf(at("dtype"), m.Dtype, dtypes)
		if m.StartupTimeoutSecs < 60 {
			p.add(at("startupTimeoutSeconds"), "is %d; use at least 60 (first starts download the weights)", m.StartupTimeoutSecs)
		}
		validateLifecycle(p, at, m)
		for j, arg := range m.ExtraArgs {
			flag, _, _ := strings.Cut(arg, "=")
			// vLLM's parser reads --max_loras as --max-loras.
			flag = strings.ReplaceAll(flag, "_", "-")
			if key, managed := managedVLLMFlags[flag]; managed {
				fix := "remove it: the platform sets it"
				if key != "" {
					fix = "set " + key + " instead"
				}
				p.add(fmt.Sprintf("models[%d].extraArgs[%d]", i, j), "%q is managed by the platform; %s", arg, fix)
			}
		}
	}
	validateServedNames(p, cfg.Models)
	// Each model also has a headless Service named <kube name>-headless: no model's own Service
	// may take that name.
	for i := range cfg.Models {
		kube, err := naming.KubeName(cfg.Models[i].ModelName)
		if err != nil || byKube[kube] != i {
			continue
		}
		if j, clash := byKube[model.HeadlessName(kube)]; clash {
			p.add(fmt.Sprintf("models[%d].modelName", j), "%q becomes the Kubernetes name %q, which is the headless Service of models[%d] (%q); rename one",
				cfg.Models[j].ModelName, model.HeadlessName(kube), i, cfg.Models[i].ModelName)
		}
	}
}

// validateAutoscaling checks one model's autoscaling block (the GPU pool's room for
// maxReplicas is the capacity check's, in package stacks).
func validateAutoscaling(p *problems, at func(string) string, a model.Autoscaling) {
	if a.MinReplicas < 0 {
		p.add(at("autoscaling.minReplicas"), "is %d; use 0 (scale to zero when idle) or more", a.MinReplicas)
	}
	if a.MaxReplicas < 1 {
		p.add(at("autoscaling.maxReplicas"), "is %d; use 1 or more", a.MaxReplicas)
	} else if a.MinReplicas > a.MaxReplicas {
		p.add(at("autoscaling.minReplicas"), "is %d, above %s %d; set it to %d at most",
			a.MinReplicas, at("autoscaling.maxReplicas"), a.MaxReplicas, a.MaxReplicas)
	}
	if a.TargetQueuePerReplica < 1 {
		p.add(at("autoscaling.targetQueuePerReplica"), "is %d; use 1 or more waiting requests per replica", a.TargetQueuePerReplica)
	}
	if a.IdleMinutes < 1 {
		p.add(at("autoscaling.idleMinutes"), "is %d; use 1 or more minutes without requests before scaling to zero", a.IdleMinutes)
	}
	if a.CooldownSeconds < 0 {
		p.add(at("autoscaling.cooldownSeconds"), "is %d; use 0 or more seconds", a.CooldownSeconds)
	}
}

// extendedChannelNote explains why a created cluster cannot use EXTENDED:
// pulumi-gcp v7.38.0's schema documents the channel values UNSPECIFIED,
// RAPID, REGULAR and STABLE (ClusterReleaseChannel in its container
// package). EXTENDED reached the Terraform provider with magic-modules PR
// 11437 (August 2024, terraform-provider-google 6.x), which only pulumi-gcp
// v8 bridges. An adopted cluster may be on any channel: it is not set then.
const extendedChannelNote = `"EXTENDED" is not supported by the pinned pulumi-gcp v7.38.0, whose provider accepts only ` +
	`UNSPECIFIED, RAPID, REGULAR and STABLE (EXTENDED arrived in terraform-provider-google 6.x, bridged by pulumi-gcp v8); ` +
	`use RAPID, REGULAR or STABLE, or create the cluster on the Extended channel yourself and adopt it (gke.cluster.create: false)`

func validateGKE(p *problems, cfg *Config) {
	g := cfg.GKE
	if g.Project == "" {
		p.add("gke.project", "is required; set it to your Google Cloud project id")
	}
	if g.Region == "" {
		p.add("gke.region", "is required; set it to a region with your GPU type, e.g. \"us-central1\"")
	}
	if g.Zone != "" && g.Region != "" && !strings.HasPrefix(g.Zone, g.Region+"-") {
		p.add("gke.zone", "%q is not in region %q; use a zone such as %q", g.Zone, g.Region, g.Region+"-a")
	}
	if g.Cluster.Name == "" {
		p.add("gke.cluster.name", "is required")
	} else if errs := validation.IsDNS1035Label(g.Cluster.Name); len(errs) > 0 || len(g.Cluster.Name) > 40 {
		// GKE's rule; the node service account and VPC are named after it.
		p.add("gke.cluster.name", "%q is not a GKE cluster name; use up to 40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen", g.Cluster.Name)
	}
	if g.Cluster.Create {
		if g.Cluster.ReleaseChannel == "EXTENDED" {
			p.add("gke.cluster.releaseChannel", "%s", extendedChannelNote)
		} else {
			p.oneOf("gke.cluster.releaseChannel", g.Cluster.ReleaseChannel, gkeReleaseChannel)
		}
		if g.Cluster.SystemNodeCount < 1 {
			p.add("gke.cluster.systemNodeCount", "is %d; the system pool needs at least 1 node", g.Cluster.SystemNodeCount)
		}
	}
	pool := g.GPUPool
	if pool.MachineType == "" {
		p.add("gke.gpuPool.machineType", "is required, e.g. \"g2-standard-24\" for nvidia-l4")
	}
	p.oneOf("gke.gpuPool.acceleratorType", pool.AcceleratorType, gkeAccelerators)
	p.oneOf("gke.gpuPool.driverVersion", pool.DriverVersion, gkeDriverVersions)
	if pool.AcceleratorCount < 1 {
		p.add("gke.gpuPool.acceleratorCount", "is %d; use the GPUs per node (1 or more)", pool.AcceleratorCount)
	}
	checkScaling(p, "gke.gpuPool", "minNodes", "maxNodes", "", pool.MinNodes, pool.MaxNodes, pool.MinNodes)
	// The pool's zones: GKE applies the initial size per zone, so each must
	// be real and counted once.
	seenZones := map[string]int{}
	for i, zone := range pool.NodeLocations {
		at := fmt.Sprintf("gke.gpuPool.nodeLocations[%d]", i)
		if g.Region != "" && !strings.HasPrefix(zone, g.Region+"-") {
			p.add(at, "%q is not in region %q; list zones of the region that have %s, such as %q", zone, g.Region, pool.AcceleratorType, g.Region+"-a")
		}
		if j, dup := seenZones[zone]; dup {
			p.add(at, "%q is already gke.gpuPool.nodeLocations[%d]; list each zone once", zone, j)
		}
		seenZones[zone] = i
	}
	if pool.DiskSizeGB < 50 {
		p.add("gke.gpuPool.diskSizeGb", "is %d; use at least 50 (images are large)", pool.DiskSizeGB)
	}
	checkFit(p, cfg.Models, pool.AcceleratorCount, "gke.gpuPool.acceleratorCount")
}

func validateEKS(p *problems, cfg *Config) {
	e := cfg.EKS
	if e.Region == "" {
		p.add("eks.region", "is required; set it to an AWS region, e.g. \"us-west-2\"")
	}
	if e.Cluster.Name == "" {
		p.add("eks.cluster.name", "is required")
	}
	if e.Cluster.Create {
		if n := len(e.Cluster.AvailabilityZones); n == 1 {
			p.add("eks.cluster.availabilityZones", "has 1 zone; EKS needs subnets in 2 or more (or leave it empty to pick 2)")
		}
		if e.Cluster.SystemNodeCount < 1 {
			p.add("eks.cluster.systemNodeCount", "is %d; the system node group needs at least 1 node", e.Cluster.SystemNodeCount)
		}
		checkVPCCIDR(p, e.Cluster.VPCCIDR)
		checkPublicAccessCIDRs(p, e.Cluster.PublicAccessCIDRs)
		if !eksVersion.MatchString(e.Cluster.Version) {
			p.add("eks.cluster.version", "%q is not a Kubernetes minor version; use one EKS supports, e.g. \"1.36\"", e.Cluster.Version)
		}
	} else if len(e.Cluster.SubnetIDs) == 0 {
		p.add("eks.cluster.subnetIds", "is required when adopting a cluster (create: false); list the private subnets (routed through NAT) the GPU nodes go in: "+
			"the cluster's own subnets often include public ones, where nodes without public IPs never join")
	}
	ng := e.GPUNodeGroup
	if len(ng.InstanceTypes) == 0 {
		p.add("eks.gpuNodeGroup.instanceTypes", "is empty; use GPU instance types such as [\"g6.12xlarge\"]")
	}
	p.oneOf("eks.gpuNodeGroup.capacityType", ng.CapacityType, eksCapacityTypes)
	if ng.GPUsPerNode < 1 {
		p.add("eks.gpuNodeGroup.gpusPerNode", "is %d; use the GPU count of the instance types", ng.GPUsPerNode)
	}
	checkScaling(p, "eks.gpuNodeGroup", "minSize", "maxSize", "desiredSize", ng.MinSize, ng.MaxSize, ng.DesiredSize)
	if ng.DiskSizeGB < 50 {
		p.add("eks.gpuNodeGroup.diskSizeGb", "is %d; use at least 50 (images are large)", ng.DiskSizeGB)
	}
	checkFit(p, cfg.Models, ng.GPUsPerNode, "eks.gpuNodeGroup.gpusPerNode")
	// The EKS component sets this label itself; the models and the device
	// plugin select on it.
	if _, set := ng.Labels["nvidia.com/gpu.present"]; set {
		p.add("eks.gpuNodeGroup.labels", "sets \"nvidia.com/gpu.present\", which the platform manages; remove it")
	}
	if e.Cluster.Create && len(e.Cluster.SubnetIDs) > 0 {
		p.add("eks.cluster.subnetIds", "is only for adopted clusters (create: false); a created cluster gets its own VPC")
	}
}

// eksVersion is a Kubernetes minor version as EKS names them ("1.36").
var eksVersion = regexp.MustCompile(`^1\.[0-9]+$`)

// checkVPCCIDR: the created VPC's block is an IPv4 /16 (AWS allows /16 to
// /28, and the component carves a /20 per subnet out of it), written as its
// network address.
func checkVPCCIDR(p *problems, cidr string) {
	const key = "eks.cluster.vpcCidr"
	prefix, err := netip.ParsePrefix(cidr)
	switch {
	case err != nil || !prefix.Addr().Is4():
		p.add(key, "%q is not an IPv4 CIDR block; use a private /16 such as \"10.0.0.0/16\"", cidr)
	case prefix.Bits() != 16:
		p.add(key, "%q is a /%d; use a /16 (the largest VPC block AWS allows; the subnets are /20s carved out of it)", cidr, prefix.Bits())
	case prefix.Masked() != prefix:
		p.add(key, "%q has host bits set; use its network address %q", cidr, prefix.Masked().String())
	}
}

// checkPublicAccessCIDRs: who may reach a created cluster's public API
// endpoint. EKS takes IPv4 blocks written as network addresses.
func checkPublicAccessCIDRs(p *problems, cidrs []string) {
	if len(cidrs) == 0 {
		p.add("eks.cluster.publicAccessCidrs", "is empty; list the IPv4 networks that run `pulumi up` and kubectl (e.g. [\"203.0.113.0/24\"]), or [\"0.0.0.0/0\"]: the program reaches the API through the public endpoint")
	}
	for i, cidr := range cidrs {
		key := fmt.Sprintf("eks.cluster.publicAccessCidrs[%d]", i)
		prefix, err := netip.ParsePrefix(cidr)
		switch {
		case err != nil || !prefix.Addr().Is4():
			p.add(key, "%q is not an IPv4 CIDR block; write it like \"203.0.113.0/24\" (a single address is \"/32\")", cidr)
		case prefix.Masked() != prefix:
			p.add(key, "%q has host bits set; use %q", cidr, prefix.Masked().String())
		}
	}
}

// checkScaling enforces 0 <= min <= desired <= max and max >= 1.
func checkScaling(p *problems, at, minKey, maxKey, desiredKey string, lo, hi, desired int) {
	if lo < 0 {
		p.add(at+"."+minKey, "is %d; use 0 or more", lo)
	}
	if hi < 1 || hi < lo {
		p.add(at+"."+maxKey, "is %d; use at least 1 and at least %s (%d)", hi, minKey, lo)
	}
	if desiredKey != "" && (desired < lo || desired > hi) {
		p.add(at+"."+desiredKey, "is %d; it must lie between %s (%d) and %s (%d)", desired, minKey, lo, maxKey, hi)
	}
}

// checkFit rejects models whose tensor-parallel size does not fit on one node.
func checkFit(p *problems, models []ModelSpec, perNode int, key string) {
	for i, m := range models {
		if perNode > 0 && m.GPURequestCount > perNode {
			p.add(fmt.Sprintf("models[%d].gpuRequestCount", i), "is %d but a GPU node has %d (%s); use a bigger node type or fewer GPUs", m.GPURequestCount, perNode, key)
		}
	}
}

// validatePlatform checks what the add-ons need from each other and from the cluster.
func validatePlatform(p *problems, cfg *Config) {
	istio := cfg.Platform.Istio
	p.oneOf("platform.istio.serviceType", istio.ServiceType, ingressServiceTypes)
	// The edge is Istio objects (Gateway, VirtualService, PeerAuthentication): without Istio's
	// CRDs the API server refuses them after everything else was created.
	if cfg.Edge.Enabled && !istio.Enabled && !istio.Preinstalled {
		p.add("edge.enabled", "needs Istio, but platform.istio.enabled is false; set platform.istio.enabled: true, "+
			"or platform.istio.preinstalled: true if the cluster already runs Istio (CRDs, istiod and an ingress gateway labelled istio=ingressgateway), "+
			"or edge.enabled: false")
	}
	if istio.Enabled && istio.Preinstalled {
		p.add("platform.istio.preinstalled", "is true while platform.istio.enabled installs Istio too; set one of them")
	}
	// redis-ha's pods repel each other (required anti-affinity): three nodes at least.
	argo := cfg.Platform.ArgoCD
	if argo.Enabled && argo.HA {
		const need = 3
		key, nodes := "", 0
		switch {
		case cfg.Cloud == CloudGKE && cfg.GKE.Cluster.Create:
			key, nodes = "gke.cluster.systemNodeCount", cfg.GKE.Cluster.SystemNodeCount*cfg.GKE.SystemPoolZones()
		case cfg.Cloud == CloudEKS && cfg.EKS.Cluster.Create:
			key, nodes = "eks.cluster.systemNodeCount", cfg.EKS.Cluster.SystemNodeCount
		}
		if key != "" && nodes < need {
			p.add("platform.argocd.ha", "needs %d schedulable nodes (redis-ha's required anti-affinity) but %s gives %d; set %s: %d or platform.argocd.ha: false", need, key, nodes, key, need)
		}
	}
}

func validateApps(p *problems, cfg *Config) {
	for i := range cfg.Platform.ArgoCD.Apps {
		a := cfg.Platform.ArgoCD.Apps[i]
		at := func(key string) string { return fmt.Sprintf("platform.argocd.apps[%d].%s", i, key) }
		if errs := validation.IsDNS1123Subdomain(a.Name); len(errs) > 0 {
			p.add(at("name"), "%q is not a valid Application name (%s)", a.Name, strings.Join(errs, "; "))
		}
		if a.RepoURL == "" {
			p.add(at("repoURL"), "is required; the Git repository Argo CD syncs from")
		}
		if a.Path == "" {
			p.add(at("path"), "is required; the folder of manifests in the repository")
		}
	}
}

// KubeName is the Kubernetes name of a model (its objects' names and the model component's
// name), derived from the served name by naming.KubeName. Validate has checked that it derives
// and that no two models share it; for a model that fails those checks it returns "".
func KubeName(m ModelSpec) string {
	name, err := naming.KubeName(m.ModelName)
	if err != nil {
		return ""
	}
	return name
}

// validateObservability checks the observability settings (only when they are on: a stack
// that leaves observability off is not judged on settings it does not use).
func validateObservability(p *problems, cfg *Config) {
	o := cfg.Observability
	if !o.Enabled {
		return
	}
	if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
		p.add("observability.namespace", "%q is not a valid namespace name (%s)", o.Namespace, strings.Join(errs, "; "))
	} else if o.Namespace == cfg.Namespace {
		p.add("observability.namespace", "%q is the application namespace; give the monitoring stack its own (e.g. \"monitoring\"): "+
			"the app namespace's sidecars, mutual TLS and NetworkPolicies would fence Prometheus in", o.Namespace)
	}
	labels := func(key string, m map[string]string) {
		if len(m) == 0 {
			p.add(key, "is empty; set the labels your Prometheus (or Grafana's sidecar) selects on")
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				p.add(key+"."+k, "is not a valid label name (%s)", strings.Join(errs, "; "))
			}
			if errs := validation.IsValidLabelValue(m[k]); len(errs) > 0 {
				p.add(key+"."+k, "%q is not a valid label value (%s)", m[k], strings.Join(errs, "; "))
			}
		}
	}
	labels("observability.monitorLabels", o.MonitorLabels)
	labels("observability.dashboardLabels", o.DashboardLabels)
	validateClusterScrapes(p, cfg)
	if o.Install && len(o.DashboardLabels) > 1 {
		p.add("observability.dashboardLabels", "has %d labels, but the installed Grafana's sidecar looks for one; keep one (e.g. grafana_dashboard: \"1\")", len(o.DashboardLabels))
	}
	if o.Install && o.MonitorLabels["release"] != addons.MonitoringRelease {
		p.add("observability.monitorLabels.release", "is %q, but the installed Prometheus (observability.install: true) selects release: %q; "+
			"set it to %q or set install: false to use your own Prometheus", o.MonitorLabels["release"], addons.MonitoringRelease, addons.MonitoringRelease)
	}
	if d, err := prommodel.ParseDuration(o.ScrapeInterval); err != nil || time.Duration(d) < time.Second {
		p.add("observability.scrapeInterval", "%q is not a Prometheus duration of 1s or more; write it like \"15s\" or \"1m\"", o.ScrapeInterval)
	}
	th := o.Thresholds
	if th.TTFTP95Seconds <= 0 {
		p.add("observability.thresholds.ttftP95Seconds", "is %v; use a positive number of seconds, e.g. 2", th.TTFTP95Seconds)
	}
	served := map[string]bool{}
	for _, m := range cfg.Models {
		served[m.ModelName] = true
	}
	for _, name := range slices.Sorted(maps.Keys(th.TTFTP95SecondsByModel)) {
		key := fmt.Sprintf("observability.thresholds.ttftP95SecondsByModel[%q]", name)
		if !served[name] {
			p.add(key, "names no model; use a models[].modelName")
		}
		if v := th.TTFTP95SecondsByModel[name]; v <= 0 {
			p.add(key, "is %v; use a positive number of seconds", v)
		}
	}
	if th.QueueDepth <= 0 {
		p.add("observability.thresholds.queueDepth", "is %v; use the waiting requests per model that should page, e.g. 10", th.QueueDepth)
	}
	if th.QueueMinutes < 1 {
		p.add("observability.thresholds.queueMinutes", "is %d; use 1 or more minutes", th.QueueMinutes)
	}
	if th.Gateway5xxRatio <= 0 || th.Gateway5xxRatio >= 1 {
		p.add("observability.thresholds.gateway5xxRatio", "is %v; use a fraction in (0, 1), e.g. 0.05", th.Gateway5xxRatio)
	}
	if th.KVCacheUsage <= 0 || th.KVCacheUsage > 1 {
		p.add("observability.thresholds.kvCacheUsage", "is %v; use a fraction in (0, 1], e.g. 0.95", th.KVCacheUsage)
	}
	if th.NoReplicaMinutes < 1 {
		p.add("observability.thresholds.noReplicaMinutes", "is %d; use 1 or more minutes (more than a model's normal start)", th.NoReplicaMinutes)
	}
}
