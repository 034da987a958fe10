// Package simcluster builds a simulated cluster shaped like a stack's node pools: Nodes with
// the capacity, allocatable, labels, taints and zones of each pool's node type (from
// internal/capacity, the table the config-time check uses), the clouds' and add-ons' pods that
// share those nodes, and storage the models' claims can bind. internal/testcluster runs the
// real control plane, kube-scheduler and kwok under it; the end-to-end tests in this package
// deploy the program into it with `pulumi up` and the provider's normal waits.
//
// What it proves and what it cannot: see docs/testing.md ("In a simulated cluster").
package simcluster

import (
	"fmt"
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/testcluster"
)

// GPUResource is the extended resource the clouds' device plugins advertise.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// gkeMaxPods is GKE's default pod limit per node (Standard clusters).
const gkeMaxPods = 110

// PoolLabel marks every simulated Node with its pool's name, for tests to find them.
const PoolLabel = "simcluster.llm-platform/pool"

// Nodes are the simulated Nodes of the pools: pool.Nodes of each (the GPU pool at its maximum),
// spread over the pool's zones in turn, named "<pool>-<zone>-<n>".
func Nodes(pools []cluster.NodePool) []corev1.Node {
	var out []corev1.Node
	for _, p := range pools {
		for i := range p.Nodes {
			out = append(out, Node(p, i))
		}
	}
	return out
}

// Node is the i-th Node of a pool, as its kubelet would register it: capacity is the node
// type's, allocatable is capacity less the cloud's reservation (capacity.NodeType.Allocatable;
// the DaemonSet allowance is not subtracted here: the DaemonSets' pods take it, see Overhead).
func Node(p cluster.NodePool, i int) corev1.Node {
	zone := p.Zones[i%len(p.Zones)]
	name := fmt.Sprintf("%s-%s-%d", p.Name, zone, i)
	labels := maps.Clone(p.Labels)
	labels[corev1.LabelHostname] = name
	labels[corev1.LabelTopologyZone] = zone
	labels[corev1.LabelOSStable] = "linux"
	labels[corev1.LabelArchStable] = "amd64"
	labels[PoolLabel] = p.Name
	maxPods := int64(gkeMaxPods)
	if p.Cloud == capacity.EKS {
		maxPods = p.Type.MaxPods()
	}
	var taints []corev1.Taint
	for _, t := range p.Taints {
		taints = append(taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	return corev1.Node{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      labels,
			Annotations: map[string]string{testcluster.KWOKNodeAnnotation: testcluster.KWOKNodeValue},
		},
		Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Capacity:    ResourceList(p.Type.Capacity(), maxPods),
			Allocatable: ResourceList(p.Type.Allocatable(), maxPods),
		},
	}
}

// DevNode is the dev stack's one node: a kind node on an 8-core, 16 GiB laptop (kind reserves
// nothing for the system, so allocatable is capacity), no GPU, no taint.
func DevNode() corev1.Node {
	r := capacity.MustParse("8", "16Gi")
	return corev1.Node{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "kind-control-plane",
			Labels: map[string]string{
				corev1.LabelHostname: "kind-control-plane", corev1.LabelOSStable: "linux",
				corev1.LabelArchStable: "amd64", PoolLabel: "kind",
			},
			Annotations: map[string]string{testcluster.KWOKNodeAnnotation: testcluster.KWOKNodeValue},
		},
		Status: corev1.NodeStatus{Capacity: ResourceList(r, gkeMaxPods), Allocatable: ResourceList(r, gkeMaxPods)},
	}
}

// ResourceList is r (and a pod limit) as a Node's status lists it; nvidia.com/gpu only when
// the node has GPUs, as the device plugin advertises it.
func ResourceList(r capacity.Resources, pods int64) corev1.ResourceList {
	l := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(r.Memory, resource.BinarySI),
		corev1.ResourcePods:   resource.MustParse(strconv.FormatInt(pods, 10)),
	}
	if r.GPUs > 0 {
		l[GPUResource] = *resource.NewQuantity(r.GPUs, resource.DecimalSI)
	}
	return l
}
