package stacks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/redis"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// checkCapacity refuses, before anything is declared, a GKE or EKS stack whose pods cannot run
// on the node pools it declares: a model replica larger than one node of its GPU type, GPU
// models that need more nodes than the pool's maximum, platform pods that the system pool
// cannot hold. Node types missing from the capacity table only get a warning: better no
// verdict than a guess. An existing cluster's nodes are unknown here and are not checked.
func checkCapacity(ctx *pulumi.Context, cfg spec.Config) error {
	problems, warnings := capacityProblems(cfg)
	for _, w := range warnings {
		ctx.Log.Warn(w, nil)
	}
	if len(problems) > 0 {
		return &spec.ConfigError{Problems: problems}
	}
	return nil
}

// pool is one node pool as the config describes it.
type pool struct {
	cloud    string
	typeKey  string // the config key naming the node type(s)
	countKey string // the config key bounding the node count
	names    []string
	types    []capacity.NodeType // the known ones among names
	nodes    int
	// accelerator the pool's GPUs must be (GKE), for suggesting another type.
	accelerator string
	// perZone > 0: the count key is per zone over that many zones (GKE's system pool).
	perZone int
	// daemonSets are the add-ons' per-node pods (Istio's CNI agent).
	daemonSets capacity.Resources
}

// free is what every node of the pool can give pods: with several instance types (EKS) any
// of them may be launched, so the smallest of each resource counts.
func (p pool) free() capacity.Resources {
	f := p.nodeFree(p.types[0])
	for _, t := range p.types[1:] {
		o := p.nodeFree(t)
		f = capacity.Resources{MilliCPU: min(f.MilliCPU, o.MilliCPU), Memory: min(f.Memory, o.Memory), GPUs: min(f.GPUs, o.GPUs)}
	}
	return f
}

// nodeFree is what the platform's pods can use on one node of type t: allocatable less the
// cloud's DaemonSets and the add-ons'.
func (p pool) nodeFree(t capacity.NodeType) capacity.Resources { return t.Free().Sub(p.daemonSets) }

func (p pool) typeName() string { return strings.Join(p.names, "/") }

// capacityProblems are what checkCapacity refuses and warns about.
func capacityProblems(cfg spec.Config) (problems []error, warnings []string) {
	system, gpu := pools(cfg)
	// Istio's CNI agent runs on every node, GPU nodes included.
	daemonSets := addons.NodeDaemonSets(addons.Args{Istio: cfg.Platform.Istio})
	for _, p := range []*pool{system, gpu} {
		if p != nil {
			p.daemonSets = daemonSets
		}
	}
	if cfg.Cloud == spec.CloudGKE {
		if problems := gkeMachineProblems(cfg.GKE.GPUPool); len(problems) > 0 {
			return problems, nil // the sizes below would be judged on a machine that cannot exist
		}
	}
	pods := podsOf(cfg)
	problems = append(gpuProblems(cfg, gpu, pods), systemProblems(system, pods)...)
	return problems, unknownTypes(gpu, system)
}

// podSet are the pods the config asks for, by the pool they run in.
type podSet struct {
	gpu       []capacity.Pods
	gpuModels []int // gpu[i] are replicas of cfg.Models[gpuModels[i]]
	system    []capacity.Pods
	// sidecar is what each pod's Istio sidecar requests, when pods have one.
	sidecar capacity.Resources
}

// podsOf are the models' replicas, at their peak, and the platform's own pods.
func podsOf(cfg spec.Config) podSet {
	var out podSet
	if sidecars(cfg) {
		out.sidecar = addons.SidecarRequests
	}
	for i, m := range cfg.Models {
		req, err := capacity.Parse(m.CPU, m.Memory, m.GPURequestCount)
		if err != nil {
			continue // Validate reported it
		}
		name := fmt.Sprintf("models[%d] (%s)", i, m.ModelName)
		if m.Autoscaling.Enabled {
			// An autoscaled model must fit at its peak: KEDA may ask for every replica.
			name = fmt.Sprintf("models[%d] (%s) at models[%d].autoscaling.maxReplicas", i, m.ModelName, i)
		}
		pods := capacity.Pods{Name: name, Requests: req.Add(out.sidecar), Count: m.PeakReplicas()}
		if m.GPURequestCount > 0 {
			out.gpu, out.gpuModels = append(out.gpu, pods), append(out.gpuModels, i)
		} else {
			out.system = append(out.system, pods)
		}
	}
	out.system = append(out.system, platformPods(cfg, out.sidecar)...)
	return out
}

// unknownTypes warns about the node types the capacity table lacks.
func unknownTypes(pools ...*pool) []string {
	var warnings []string
	for _, p := range pools {
		if p == nil {
			continue
		}
		for _, n := range p.names {
			if !slices.ContainsFunc(p.types, func(t capacity.NodeType) bool { return t.Name == n }) {
				warnings = append(warnings, fmt.Sprintf("%s: %q is not in the capacity table (internal/capacity), so the program cannot check that the pods fit it; check its allocatable CPU and memory yourself", p.typeKey, n))
			}
		}
	}
	return warnings
}

// keyError is a problem with the config key key.
func keyError(key, format string, args ...any) error {
	return fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...))
}

// gpuProblems: a model replica larger than one GPU node, or GPU models that need more nodes
// than the pool's maximum.
func gpuProblems(cfg spec.Config, gpu *pool, pods podSet) []error {
	if gpu == nil || len(gpu.types) == 0 || len(pods.gpu) == 0 {
		return nil
	}
	withSidecar := ""
	if sidecars(cfg) {
		withSidecar = " (with its Istio sidecar)"
	}
	var problems []error
	free := gpu.free()
	for i, replica := range pods.gpu {
		idx := pods.gpuModels[i]
		if replica.Requests.GPUs > free.GPUs {
			continue // spec.Validate reports a model with more GPUs than a node has
		}
		if replica.Requests.Fits(free) {
			continue
		}
		msg := fmt.Sprintf("one replica of %s requests %s%s, but a %s node has only %s left after %s's reservation and its DaemonSets",
			replica.Name, replica.Requests, withSidecar, gpu.typeName(), free, strings.ToUpper(gpu.cloud))
		if t, ok := smallestFit(gpu, replica.Requests, cfg.Models[idx].GPURequestCount); ok {
			msg += fmt.Sprintf("; use %q, or", t)
		} else {
			msg += "; "
		}
		msg += fmt.Sprintf(" lower models[%d].cpu to %s and models[%d].memory to %s at most", idx, cpuString(free.MilliCPU-pods.sidecar.MilliCPU), idx, capacity.GiB(free.Memory-pods.sidecar.Memory))
		problems = append(problems, keyError(gpu.typeKey, "%s", msg))
	}
	if len(problems) > 0 {
		return problems
	}
	if need := nodesNeeded(free, pods.gpu); need > gpu.nodes {
		return []error{keyError(gpu.countKey, "is %d, but the GPU models need %d %s nodes (%s); set %s to %d or more",
			gpu.nodes, need, gpu.typeName(), describe(pods.gpu), gpu.countKey, need)}
	}
	return nil
}

// systemProblems: a platform pod larger than one system node, or more pods than the system
// pool's nodes hold.
func systemProblems(system *pool, pods podSet) []error {
	if system == nil || len(system.types) == 0 {
		return nil
	}
	var problems []error
	free := system.free()
	for _, p := range pods.system {
		if p.Requests.Fits(free) {
			continue
		}
		msg := fmt.Sprintf("a %s node has %s left after %s's reservation and its DaemonSets, but one pod of %s requests %s",
			system.typeName(), free, strings.ToUpper(system.cloud), p.Name, p.Requests)
		if t, ok := smallestFit(system, p.Requests, 0); ok {
			msg += fmt.Sprintf("; use a bigger type such as %q", t)
		}
		problems = append(problems, keyError(system.typeKey, "%s", msg))
	}
	if len(problems) > 0 {
		return problems
	}
	if need := nodesNeeded(free, pods.system); need > system.nodes {
		count, set := system.nodes, need
		unit := ""
		if system.perZone > 0 {
			count, set = system.nodes/system.perZone, (need+system.perZone-1)/system.perZone
			unit = fmt.Sprintf(" per zone (%d zones)", system.perZone)
		}
		return []error{keyError(system.countKey, "is %d%s, but the platform's own pods need %d %s nodes (%s); set %s to %d or use a bigger %s",
			count, unit, need, system.typeName(), describe(pods.system), system.countKey, set, system.typeKey)}
	}
	return nil
}

// gkeMachineProblems checks the GPU pool's machine type against its accelerator settings:
// accelerator-optimized machines come with a fixed number of one GPU type (g2-standard-24
// carries 2 L4s, not 1), N1 machines take 1, 2, 4 or 8 attached GPUs of a few older types,
// and A3 Ultra, A4 and G4 machines boot only from Hyperdisk.
func gkeMachineProblems(p spec.GKEGPUPool) []error {
	t, known := capacity.Lookup(capacity.GKE, p.MachineType)
	if !known {
		return nil // warned about by the caller
	}
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, keyError(key, format, args...))
	}
	switch {
	case t.GPUs > 0:
		if p.AcceleratorType != t.Accelerator {
			add("gke.gpuPool.acceleratorType", "is %q but %s carries %s; set acceleratorType %q, or pick a machine type made for %s", p.AcceleratorType, t.Name, t.Accelerator, t.Accelerator, p.AcceleratorType)
		} else if int64(p.AcceleratorCount) != t.GPUs {
			add("gke.gpuPool.acceleratorCount", "is %d but %s carries exactly %d x %s; set acceleratorCount %d", p.AcceleratorCount, t.Name, t.GPUs, t.Accelerator, t.GPUs)
		}
	case len(t.AttachableGPUs) > 0:
		if !slices.Contains(t.AttachableGPUs, p.AcceleratorType) {
			add("gke.gpuPool.acceleratorType", "%q cannot be attached to %s; N1 machines take %s", p.AcceleratorType, t.Name, strings.Join(t.AttachableGPUs, ", "))
		}
		if !slices.Contains([]int{1, 2, 4, 8}, p.AcceleratorCount) {
			add("gke.gpuPool.acceleratorCount", "is %d; an N1 machine takes 1, 2, 4 or 8 GPUs", p.AcceleratorCount)
		}
	default:
		add("gke.gpuPool.machineType", "%q has no GPUs; use an accelerator-optimized type, e.g. \"g2-standard-8\" for nvidia-l4", p.MachineType)
	}
	if t.HyperdiskOnly && !strings.HasPrefix(p.DiskType, "hyperdisk-") {
		add("gke.gpuPool.diskType", "is %q but %s boots only from Hyperdisk; set diskType \"hyperdisk-balanced\"", p.DiskType, t.Name)
	}
	return errs
}

// The platform's own system-pool workloads in platformPods (AddOnPods leaves them out).
const (
	gatewayPods = "the gateway"
	webUIPods   = "Open WebUI"
)

// platformPods are every non-model pod on the system pool.
func platformPods(cfg spec.Config, sidecar capacity.Resources) []capacity.Pods {
	pods := []capacity.Pods{
		// CoreDNS (EKS) / kube-dns (GKE): two replicas of about this size on both clouds.
		{Name: "cluster DNS", Requests: capacity.MustParse("100m", "70Mi"), Count: 2},
		{Name: gatewayPods, Requests: gateway.Requests.Add(sidecar), Count: cfg.Gateway.Replicas},
	}
	if cfg.Tenancy.InClusterRedis() {
		pods = append(pods, capacity.Pods{Name: "the limits' Redis", Requests: redis.Requests.Add(sidecar), Count: 1})
	}
	if cfg.WebUI.Enabled {
		// With the limits' in-cluster Redis, Open WebUI's replicas share it (stacks/application.go);
		// otherwise, with several replicas, it runs its own.
		pods = append(pods, webui.Pods(cfg.WebUI, !cfg.Tenancy.InClusterRedis(), sidecar)...)
	}
	if cfg.Cloud == spec.CloudEKS && cfg.EKS.ForCreatedClusters(cfg.EKS.EBSCSIDriver) {
		// The add-on's controller: six containers of 10m / 40Mi each.
		pods = append(pods, capacity.Pods{Name: "the EBS CSI controller", Requests: capacity.MustParse("60m", "240Mi"), Count: 2})
	}
	return append(pods, addons.SystemPods(addons.Args{
		Istio:         cfg.Platform.Istio,
		ArgoCD:        cfg.Platform.ArgoCD,
		MetricsServer: installsMetricsServer(cfg),
		Monitoring:    monitoringArgs(cfg, nil, false),
		KEDA:          installsKEDA(cfg),
		// Only whether it runs matters here.
		ClusterAutoscaler: clusterAutoscalerPods(cfg),
	})...)
}

// clusterAutoscalerPods stands for the Cluster Autoscaler in the capacity check: non-nil when
// the stack installs it.
func clusterAutoscalerPods(cfg spec.Config) *addons.ClusterAutoscalerArgs {
	if installsClusterAutoscaler(cfg) {
		return &addons.ClusterAutoscalerArgs{}
	}
	return nil
}

// pools are the system and GPU pools of a GKE or EKS stack (nil where the stack does not
// declare them: an adopted cluster's system nodes, an existing cluster).
func pools(cfg spec.Config) (system, gpu *pool) {
	switch cfg.Cloud {
	case spec.CloudGKE:
		g := cfg.GKE
		gpu = newPool(capacity.GKE, "gke.gpuPool.machineType", "gke.gpuPool.maxNodes", []string{g.GPUPool.MachineType}, g.GPUPool.MaxNodes)
		gpu.accelerator = g.GPUPool.AcceleratorType
		for i, t := range gpu.types {
			gpu.types[i] = t.WithGPUs(int64(g.GPUPool.AcceleratorCount))
		}
		if g.Cluster.Create {
			// The system pool's node count is per zone.
			system = newPool(capacity.GKE, "gke.cluster.systemMachineType", "gke.cluster.systemNodeCount", []string{g.Cluster.SystemMachineType}, g.Cluster.SystemNodeCount*g.SystemPoolZones())
			system.perZone = g.SystemPoolZones()
		}
	case spec.CloudEKS:
		e := cfg.EKS
		gpu = newPool(capacity.EKS, "eks.gpuNodeGroup.instanceTypes", "eks.gpuNodeGroup.maxSize", e.GPUNodeGroup.InstanceTypes, e.GPUNodeGroup.MaxSize)
		if e.Cluster.Create {
			system = newPool(capacity.EKS, "eks.cluster.systemInstanceType", "eks.cluster.systemNodeCount", []string{e.Cluster.SystemInstanceType}, e.Cluster.SystemNodeCount)
		}
	}
	return system, gpu
}

func newPool(cloud, typeKey, countKey string, names []string, nodes int) *pool {
	p := &pool{cloud: cloud, typeKey: typeKey, countKey: countKey, names: names, nodes: nodes}
	for _, n := range names {
		if t, ok := capacity.Lookup(cloud, n); ok {
			p.types = append(p.types, t)
		}
	}
	return p
}

// smallestFit is the smallest node type of the pool's cloud (with the pool's accelerator, and
// at least gpus GPUs) that holds one pod of req.
func smallestFit(p *pool, req capacity.Resources, gpus int) (string, bool) {
	for _, t := range capacity.Types(p.cloud) {
		if gpus > 0 {
			if t.GPUs < int64(gpus) || (p.accelerator != "" && t.Accelerator != p.accelerator) ||
				(p.accelerator == "" && len(p.types) > 0 && t.Accelerator != p.types[0].Accelerator) {
				continue
			}
		} else if t.GPUs > 0 || len(t.AttachableGPUs) > 0 {
			continue // no GPU machines for the system pool
		}
		if req.Fits(p.nodeFree(t)) {
			return t.Name, true
		}
	}
	return "", false
}

// nodesNeeded is the fewest nodes with free resources each that hold every pod.
func nodesNeeded(free capacity.Resources, pods []capacity.Pods) int {
	total := 0
	for _, p := range pods {
		total += p.Count
	}
	for n := 0; n < total; n++ {
		if len(capacity.Pack(n, free, pods)) == 0 {
			return n
		}
	}
	return total
}

// describe lists pod groups as "2 x models[1] (qwen3-8b)".
func describe(pods []capacity.Pods) string {
	parts := make([]string, 0, len(pods))
	for _, p := range pods {
		if p.Count > 0 {
			parts = append(parts, fmt.Sprintf("%d x %s", p.Count, p.Name))
		}
	}
	return strings.Join(parts, ", ")
}

func cpuString(milli int64) string {
	if milli%1000 == 0 {
		return fmt.Sprint(milli / 1000)
	}
	return fmt.Sprintf("%dm", milli)
}
