package spec

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/llm-platform/llm-platform/internal/naming"
)

// Allowed values of enum-like keys.
var (
	clouds            = []string{CloudExisting, CloudGKE, CloudEKS}
	dtypes            = []string{"auto", "half", "float16", "bfloat16", "float", "float32"}
	gkeReleaseChannel = []string{"RAPID", "REGULAR", "STABLE", "EXTENDED"}
	gkeDriverVersions = []string{"DEFAULT", "LATEST", "INSTALLATION_DISABLED"}
	gkeAccelerators   = []string{
		"nvidia-tesla-t4", "nvidia-l4", "nvidia-tesla-v100", "nvidia-tesla-p4", "nvidia-tesla-p100",
		"nvidia-tesla-a100", "nvidia-a100-80gb", "nvidia-h100-80gb", "nvidia-h100-mega-80gb",
		"nvidia-h200-141gb", "nvidia-b200", "nvidia-gb200", "nvidia-rtx-pro-6000",
	}
	eksCapacityTypes = []string{"ON_DEMAND", "SPOT"}
	webuiRoles       = []string{"pending", "user"}
	// Flags the model component sets itself; setting them again in extraArgs
	// would silently fight the typed keys.
	managedVLLMFlags = map[string]string{
		"--port": "", "--host": "", "--served-model-name": "modelName",
		"--tensor-parallel-size": "gpuRequestCount", "--gpu-memory-utilization": "gpuMemoryUtilization",
		"--max-model-len": "maxModelLen", "--dtype": "dtype", "--trust-remote-code": "trustRemoteCode",
		"--model": "huggingfaceId", "--api-key": "",
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

// Validate checks the whole config and returns every problem at once. It also
// derives each model's Kubernetes name (ModelSpec.KubeName).
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
	if cfg.WebUI.Enabled {
		p.quantity("webui.storageSize", cfg.WebUI.StorageSize, "1Gi")
		p.oneOf("webui.defaultUserRole", cfg.WebUI.DefaultUserRole, webuiRoles)
	}
	if cfg.Edge.Enabled && len(cfg.Edge.Hosts) == 0 {
		p.add("edge.hosts", "is empty; use [\"*\"] or your DNS names")
	}
	if len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
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
		if strings.TrimSpace(m.HuggingfaceID) == "" {
			p.add(at("huggingfaceId"), "is required; use the Hugging Face repository id, e.g. \"Qwen/Qwen3-0.6B\"")
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
			m.KubeName = kube
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
		for j, arg := range m.ExtraArgs {
			flag, _, _ := strings.Cut(arg, "=")
			if key, managed := managedVLLMFlags[flag]; managed {
				fix := "remove it: the platform sets it"
				if key != "" {
					fix = "set " + key + " instead"
				}
				p.add(fmt.Sprintf("models[%d].extraArgs[%d]", i, j), "%q is managed by the platform; %s", arg, fix)
			}
		}
	}
}

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
	}
	if g.Cluster.Create {
		p.oneOf("gke.cluster.releaseChannel", g.Cluster.ReleaseChannel, gkeReleaseChannel)
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
