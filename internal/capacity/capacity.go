// Package capacity knows what the supported node types hold: their CPUs, memory and GPUs, what
// each cloud reserves on them for the kubelet, the OS and eviction, and so what is left for pods
// (allocatable). The stacks package uses it to refuse, at config time, a stack whose pods cannot
// fit its node pools; a simulated cluster can build its Nodes from the same table.
//
// Sources (checked 2026-11):
//   - GKE reservation: "Cluster architecture > Node allocatable resources" (cloud.google.com/
//     kubernetes-engine/docs/concepts/plan-node-sizes): memory 25% of the first 4 GiB, 20% of
//     the next 4, 10% of the next 8, 6% of the next 112, 2% above 128 GiB, plus a 100 MiB
//     eviction threshold; CPU 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25%
//     above 4.
//   - EKS reservation (the EKS-optimized AL2023 AMIs' nodeadm, as amazon-eks-ami computes it):
//     memory 11 MiB x max pods + 255 MiB, plus a 100 MiB eviction threshold; CPU as on GKE.
//     Max pods is the VPC CNI's ENI limit (eni-max-pods.txt), which managed node groups cap at 110
//     below 30 vCPUs and 250 above.
//   - Machine shapes: Compute Engine's accelerator-optimized and general-purpose machine tables
//     (memory in GiB, as GCE states it), EC2's instance type pages.
package capacity

import (
	"fmt"
	"math"
	"sort"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Clouds with a node table.
const (
	GKE = "gke"
	EKS = "eks"
)

// Resources is an amount of CPU (millicores), memory (bytes) and GPUs.
type Resources struct {
	MilliCPU int64
	Memory   int64
	GPUs     int64
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{r.MilliCPU + o.MilliCPU, r.Memory + o.Memory, r.GPUs + o.GPUs}
}

// Sub returns r - o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{r.MilliCPU - o.MilliCPU, r.Memory - o.Memory, r.GPUs - o.GPUs}
}

// Fits reports whether r fits in o on every axis.
func (r Resources) Fits(o Resources) bool {
	return r.MilliCPU <= o.MilliCPU && r.Memory <= o.Memory && r.GPUs <= o.GPUs
}

// String reads like "3.92 CPU, 13.3Gi memory, 1 GPU".
func (r Resources) String() string {
	s := fmt.Sprintf("%s CPU, %s memory", trimFloat(float64(r.MilliCPU)/1000), GiB(r.Memory))
	if r.GPUs > 0 {
		s += fmt.Sprintf(", %d GPU", r.GPUs)
	}
	return s
}

// Parse reads Kubernetes quantities ("500m", "16Gi") into Resources.
func Parse(cpu, memory string, gpus int) (Resources, error) {
	c, err := resource.ParseQuantity(cpu)
	if err != nil {
		return Resources{}, fmt.Errorf("cpu %q: %w", cpu, err)
	}
	m, err := resource.ParseQuantity(memory)
	if err != nil {
		return Resources{}, fmt.Errorf("memory %q: %w", memory, err)
	}
	return Resources{MilliCPU: c.MilliValue(), Memory: m.Value(), GPUs: int64(gpus)}, nil
}

// MustParse is Parse for constants.
func MustParse(cpu, memory string) Resources {
	r, err := Parse(cpu, memory, 0)
	if err != nil {
		panic(err)
	}
	return r
}

// GiB formats bytes as Gi with one decimal, rounded down (what is left, never more).
func GiB(b int64) string {
	return trimFloat(math.Floor(float64(b)/(1<<30)*10)/10) + "Gi"
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// NodeType is one machine (GKE) or instance (EKS) type.
type NodeType struct {
	Name      string
	Cloud     string
	VCPUs     int64
	MemoryGiB float64
	// GPUs the type carries, and which (GKE's accelerator type names; EKS: the GPU model).
	GPUs        int64
	Accelerator string
	// AttachableGPUs: N1 machines take 1, 2 or 4 attached GPUs of several types instead of a
	// fixed set (GPUs is 0 then).
	AttachableGPUs []string
	// ENIMaxPods is the VPC CNI's pod limit (EKS only).
	ENIMaxPods int64
	// HyperdiskOnly: the machine series boots only from Hyperdisk (GKE A3 Ultra, A4, G4);
	// pd-ssd / pd-balanced boot disks are refused.
	HyperdiskOnly bool
}

// Capacity is the node's whole CPU, memory and GPUs.
func (n NodeType) Capacity() Resources {
	return Resources{MilliCPU: n.VCPUs * 1000, Memory: int64(n.MemoryGiB * (1 << 30)), GPUs: n.GPUs}
}

// evictionThreshold is the kubelet's hard memory eviction threshold on both clouds.
const evictionThreshold = 100 << 20

// Reserved is what the cloud keeps from pods on this node type.
func (n NodeType) Reserved() Resources {
	r := Resources{MilliCPU: reservedCPU(n.VCPUs * 1000)}
	switch n.Cloud {
	case GKE:
		r.Memory = gkeReservedMemory(n.Capacity().Memory) + evictionThreshold
	case EKS:
		r.Memory = (11*n.MaxPods()+255)<<20 + evictionThreshold
	}
	return r
}

// MaxPods is the pod limit of an EKS managed node of this type.
func (n NodeType) MaxPods() int64 {
	limit := int64(110)
	if n.VCPUs >= 30 {
		limit = 250
	}
	return min(n.ENIMaxPods, limit)
}

// Allocatable is capacity less the reservation: what the scheduler offers pods.
func (n NodeType) Allocatable() Resources { return n.Capacity().Sub(n.Reserved()) }

// reservedCPU: 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% above 4.
func reservedCPU(milli int64) int64 {
	tiers := []struct{ upTo, permille int64 }{{1000, 60}, {2000, 10}, {4000, 5}, {math.MaxInt64, 2}}
	var reserved, done int64
	for _, t := range tiers {
		if milli <= done {
			break
		}
		part := min(milli, t.upTo) - done
		if t.permille == 2 {
			reserved += part / 400 // 0.25%
		} else {
			reserved += part * t.permille / 1000
		}
		done = min(milli, t.upTo)
	}
	return reserved
}

// gkeReservedMemory: 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the
// next 112, 2% above 128 GiB (255 MiB on machines under 1 GiB).
func gkeReservedMemory(bytes int64) int64 {
	const gi = int64(1 << 30)
	if bytes < gi {
		return 255 << 20
	}
	tiers := []struct {
		upTo    int64
		percent int64
	}{{4 * gi, 25}, {8 * gi, 20}, {16 * gi, 10}, {128 * gi, 6}, {math.MaxInt64, 2}}
	var reserved, done int64
	for _, t := range tiers {
		if bytes <= done {
			break
		}
		part := min(bytes, t.upTo) - done
		reserved += part * t.percent / 100
		done = min(bytes, t.upTo)
	}
	return reserved
}

// DaemonSetAllowance is kept free on every node for the clouds' own DaemonSets (kube-proxy
// alone requests 100m; logging, metrics, CSI and CNI agents, and on GPU nodes the device plugin,
// add the rest). It is an estimate from the clouds' default add-ons, not a measurement of a
// given cluster: a pool that fits only without it is too tight anyway.
var DaemonSetAllowance = MustParse("300m", "512Mi")

// Lookup finds a node type of a cloud by name.
func Lookup(cloud, name string) (NodeType, bool) {
	for _, n := range table {
		if n.Cloud == cloud && n.Name == name {
			return n, true
		}
	}
	return NodeType{}, false
}

// Types lists a cloud's node types, smallest first (by vCPUs, then memory).
func Types(cloud string) []NodeType {
	var out []NodeType
	for _, n := range table {
		if n.Cloud == cloud {
			out = append(out, n)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].VCPUs != out[j].VCPUs {
			return out[i].VCPUs < out[j].VCPUs
		}
		return out[i].MemoryGiB < out[j].MemoryGiB
	})
	return out
}

// Free is what pods of the platform can use on one node: allocatable less the DaemonSets.
func (n NodeType) Free() Resources { return n.Allocatable().Sub(DaemonSetAllowance) }

// WithGPUs is the node type with an attached GPU count (N1 machines).
func (n NodeType) WithGPUs(count int64) NodeType {
	if n.GPUs == 0 && count > 0 {
		n.GPUs = count
	}
	return n
}
