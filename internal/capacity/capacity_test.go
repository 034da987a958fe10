package capacity_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/capacity"
)

func mi(n int64) int64 { return n << 20 }

// TestAllocatable checks the reservation arithmetic against the clouds' documented formulas
// worked by hand for a few types.
func TestAllocatable(t *testing.T) {
	for _, tc := range []struct {
		cloud, name string
		cpu         int64 // millicores
		memory      int64 // bytes
	}{
		// 4 vCPUs: 60 + 10 + 2 x 5 = 80m reserved. 16 GiB: 25% of 4 + 20% of 4 + 10% of 8 = 2.6 GiB, + 100 MiB eviction.
		{capacity.GKE, "e2-standard-4", 3920, 16<<30 - (4<<30)/4 - (4<<30)/5 - (8<<30)/10 - mi(100)},
		// 8 vCPUs: 80m + 4 x 2.5 = 90m. 32 GiB: 2.6 GiB + 6% of 16 GiB.
		{capacity.GKE, "g2-standard-8", 7910, 32<<30 - (4<<30)/4 - (4<<30)/5 - (8<<30)/10 - (16<<30)*6/100 - mi(100)},
		// m6i.large: 29 pods (ENI limit) -> 11 x 29 + 255 = 574 MiB, + 100 MiB; 2 vCPUs: 70m.
		{capacity.EKS, "m6i.large", 1930, 8<<30 - mi(574) - mi(100)},
		// g6.xlarge: 58 pods -> 893 MiB.
		{capacity.EKS, "g6.xlarge", 3920, 16<<30 - mi(893) - mi(100)},
		// g6e.12xlarge: ENI limit 234, capped at 250 (48 vCPUs) -> 234 pods -> 2829 MiB; 48 vCPUs: 80m + 44000/400.
		{capacity.EKS, "g6e.12xlarge", 48000 - 80 - 110, 384<<30 - mi(11*234+255) - mi(100)},
		// g5.12xlarge: ENI limit 737, capped at 250 -> 3005 MiB.
		{capacity.EKS, "g5.12xlarge", 48000 - 80 - 110, 192<<30 - mi(11*250+255) - mi(100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := capacity.Lookup(tc.cloud, tc.name)
			require.True(t, ok)
			a := n.Allocatable()
			assert.Equal(t, tc.cpu, a.MilliCPU)
			assert.Equal(t, tc.memory, a.Memory)
			assert.Equal(t, n.GPUs, a.GPUs)
		})
	}
}

func TestManagedNodeGroupPodCap(t *testing.T) {
	small, _ := capacity.Lookup(capacity.EKS, "g6.4xlarge") // 16 vCPUs, ENI limit 234
	big, _ := capacity.Lookup(capacity.EKS, "g6.48xlarge")  // 192 vCPUs, ENI limit 737
	assert.Equal(t, int64(110), small.MaxPods())
	assert.Equal(t, int64(250), big.MaxPods())
}

func TestLookupIsPerCloud(t *testing.T) {
	_, ok := capacity.Lookup(capacity.EKS, "e2-standard-4")
	assert.False(t, ok)
	_, ok = capacity.Lookup(capacity.GKE, "no-such-type")
	assert.False(t, ok)
}

func TestTypesAreSmallestFirst(t *testing.T) {
	types := capacity.Types(capacity.EKS)
	require.NotEmpty(t, types)
	for i := 1; i < len(types); i++ {
		assert.LessOrEqual(t, types[i-1].VCPUs, types[i].VCPUs)
	}
}

func TestPack(t *testing.T) {
	node := capacity.Resources{MilliCPU: 4000, Memory: 16 << 30, GPUs: 4}
	twoGPU := capacity.Pods{Name: "big", Requests: capacity.Resources{MilliCPU: 1000, Memory: 4 << 30, GPUs: 2}, Count: 3}
	oneGPU := capacity.Pods{Name: "small", Requests: capacity.Resources{MilliCPU: 500, Memory: 2 << 30, GPUs: 1}, Count: 2}

	assert.Empty(t, capacity.Pack(2, node, []capacity.Pods{twoGPU, oneGPU}), "3x2 + 2x1 GPUs fit in 2 nodes of 4")
	left := capacity.Pack(1, node, []capacity.Pods{twoGPU, oneGPU})
	require.Len(t, left, 2)
	assert.Equal(t, capacity.Pods{Name: "big", Requests: twoGPU.Requests, Count: 1}, left[0])
	assert.Equal(t, 2, left[1].Count, "the node is full of the bigger pods first")

	cpuBound := capacity.Pods{Name: "cpu", Requests: capacity.Resources{MilliCPU: 3000, Memory: 1 << 30}, Count: 2}
	assert.Len(t, capacity.Pack(1, node, []capacity.Pods{cpuBound}), 1, "CPU is a limit too")
	assert.Len(t, capacity.Pack(0, node, []capacity.Pods{cpuBound}), 1)
}

func TestParseAndString(t *testing.T) {
	r, err := capacity.Parse("3500m", "14Gi", 1)
	require.NoError(t, err)
	assert.Equal(t, capacity.Resources{MilliCPU: 3500, Memory: 14 << 30, GPUs: 1}, r)
	assert.Equal(t, "3.5 CPU, 14Gi memory, 1 GPU", r.String())
	_, err = capacity.Parse("lots", "1Gi", 0)
	assert.ErrorContains(t, err, "cpu \"lots\"")
}
