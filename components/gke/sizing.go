package gke

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// regionalDefaultZones is how many zones GKE spreads a regional cluster's
// node pools over when no node locations are given.
const regionalDefaultZones = 3

// LocationPolicy is the autoscaler's scale-up policy for the GPU pool. ANY
// takes capacity in whichever zone has it (spot GPUs are scarce, and ANY
// lowers the preemption risk); BALANCED, GKE's default, keeps zones even for
// on-demand nodes.
func LocationPolicy(spot bool) string {
	if spot {
		return "ANY"
	}
	return "BALANCED"
}

// InitialPerZone turns the configured total minimum into the pool's
// initialNodeCount, which GKE applies in every zone of the pool: the largest
// per-zone count that does not exceed minNodes in total. A new pool never
// starts with more GPU nodes than minNodes (1 per zone over 3 zones would be
// 3 GPU nodes for minNodes 1); when the zones do not divide minNodes it
// starts below it, and the autoscaler adds nodes as soon as the models'
// Pods wait for GPUs.
func InitialPerZone(minNodes, zones int) int {
	if zones < 1 {
		zones = 1
	}
	return minNodes / zones
}

// initialNodeCount is InitialPerZone over the zones the GPU pool spans: its
// nodeLocations, the one zone of a zonal cluster, or else the zones of the
// cluster it joins (known only once the cluster exists).
func initialNodeCount(cfg Config, clusterZones pulumi.StringArrayOutput) pulumi.IntInput {
	pool := cfg.GPUPool
	switch {
	case len(pool.NodeLocations) > 0:
		return pulumi.Int(InitialPerZone(pool.MinNodes, len(pool.NodeLocations)))
	case cfg.Zone != "":
		return pulumi.Int(InitialPerZone(pool.MinNodes, 1))
	case pool.MinNodes == 0:
		return pulumi.Int(0)
	}
	return clusterZones.ApplyT(func(zones []string) int {
		n := len(zones)
		if n == 0 {
			n = regionalDefaultZones
		}
		return InitialPerZone(pool.MinNodes, n)
	}).(pulumi.IntOutput)
}
