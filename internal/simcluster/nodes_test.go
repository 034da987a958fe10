package simcluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/simcluster"
	"github.com/llm-platform/llm-platform/internal/testcluster"
	"github.com/llm-platform/llm-platform/stacks"
)

// TestNodesFromTheStackFiles: the gke and eks stack files' pools become Nodes of their node
// types (capacity table), the GPU pool at its maximum, with the clouds' labels and taints.
func TestNodesFromTheStackFiles(t *testing.T) {
	root, err := testcluster.Root()
	require.NoError(t, err)
	for _, tc := range []struct {
		stack, systemType, gpuType string
		system, gpu                int
		gpus                       int64
		selector                   map[string]string
		taint                      corev1.Taint
		zones                      []string
	}{
		{"gke", "e2-standard-4", "a2-ultragpu-2g", 3, 3, 2,
			map[string]string{"cloud.google.com/gke-accelerator": "nvidia-a100-80gb"},
			corev1.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule},
			[]string{"us-central1-a", "us-central1-c"}},
		{"eks", "m6i.xlarge", "g6e.12xlarge", 2, 3, 4,
			map[string]string{"nvidia.com/gpu.present": "true"},
			corev1.Taint{Key: "nvidia.com/gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule},
			[]string{"us-west-2a", "us-west-2b"}},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			cfg := stackConfig(t, root, tc.stack, nil)
			pools, err := stacks.NodePools(cfg)
			require.NoError(t, err)
			nodes := simcluster.Nodes(pools)
			require.Len(t, nodes, tc.system+tc.gpu)
			var system, gpu []corev1.Node
			for _, n := range nodes {
				if _, ok := n.Status.Capacity[simcluster.GPUResource]; ok {
					gpu = append(gpu, n)
				} else {
					system = append(system, n)
				}
			}
			require.Len(t, system, tc.system)
			require.Len(t, gpu, tc.gpu, "the GPU pool at its maximum")
			assert.Equal(t, stacks.ModelNodeSelector(cfg), tc.selector)

			sysType, ok := capacity.Lookup(tc.stack, tc.systemType)
			require.True(t, ok)
			for _, n := range system {
				assert.Equal(t, tc.systemType, n.Labels[corev1.LabelInstanceTypeStable])
				assert.Empty(t, n.Spec.Taints)
				assertQuantity(t, sysType.Allocatable().MilliCPU, n.Status.Allocatable.Cpu().MilliValue(), n.Name)
				assertQuantity(t, sysType.Allocatable().Memory, n.Status.Allocatable.Memory().Value(), n.Name)
				assertQuantity(t, sysType.Capacity().Memory, n.Status.Capacity.Memory().Value(), n.Name)
				for k, v := range tc.selector {
					assert.NotEqual(t, v, n.Labels[k], "%s: a system node must not match the models' selector", n.Name)
				}
			}
			for i, n := range gpu {
				assert.Equal(t, tc.gpuType, n.Labels[corev1.LabelInstanceTypeStable])
				assert.Equal(t, []corev1.Taint{tc.taint}, n.Spec.Taints)
				for k, v := range tc.selector {
					assert.Equal(t, v, n.Labels[k], "%s carries the models' selector", n.Name)
				}
				assert.Equal(t, tc.zones[i%len(tc.zones)], n.Labels[corev1.LabelTopologyZone])
				g := n.Status.Allocatable[simcluster.GPUResource]
				assert.Equal(t, *resource.NewQuantity(tc.gpus, resource.DecimalSI), g, n.Name)
				assert.Less(t, n.Status.Allocatable.Cpu().MilliValue(), n.Status.Capacity.Cpu().MilliValue(), "the cloud's reservation")
			}
			assert.NoError(t, stacks.CheckCapacity(cfg), "the shipped stack passes the config-time check")
		})
	}
}

func assertQuantity(t *testing.T, want, got int64, node string) {
	t.Helper()
	assert.Equal(t, want, got, node)
}

// TestNodePoolsNeedDeclaredPools: an existing cluster's nodes are not the stack's.
func TestNodePoolsNeedDeclaredPools(t *testing.T) {
	root, err := testcluster.Root()
	require.NoError(t, err)
	_, err = stacks.NodePools(stackConfig(t, root, "dev", nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `cloud "existing"`)
}
