package cluster

import (
	"fmt"
	"strings"

	"github.com/llm-platform/llm-platform/internal/capacity"
)

// NodePool is one node pool a GKE or EKS stack declares, as its nodes look to the scheduler:
// the node type (from the capacity table, the same one the config-time check uses), how many
// nodes, in which zones, with which labels and taints. Package stacks computes the pools of a
// stack (stacks.NodePools); a simulated cluster builds its Nodes from them (internal/simcluster).
type NodePool struct {
	// Name is the pool's (node group's) name in the cloud: "system" or "gpu".
	Name  string
	Cloud string
	// TypeKey and CountKey are the config keys that set the type and the node count.
	TypeKey, CountKey string
	// Type is the node type; a pool listing several (EKS) gets its first one, which the
	// config-time check also judges (it takes the smallest of each resource over all).
	Type capacity.NodeType
	// Nodes is the most nodes the pool runs: the system pool's count (over all its zones), the
	// GPU pool's maximum, so that every scale-up the config allows can happen.
	Nodes int
	// Zones the nodes are spread over, in order.
	Zones []string
	// Labels are what the cloud and this program put on every node of the pool (without the
	// per-node hostname and zone).
	Labels map[string]string
	// Taints are the pool's taints (the GPU pool's, which this program declares).
	Taints []Taint
	// GPU reports the GPU pool.
	GPU bool
}

// String is "gpu: 3 x a2-ultragpu-2g in us-central1-a, us-central1-c".
func (p NodePool) String() string {
	return fmt.Sprintf("%s: %d x %s in %s", p.Name, p.Nodes, p.Type.Name, strings.Join(p.Zones, ", "))
}
