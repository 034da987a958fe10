package simcluster_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/simcluster"
	"github.com/llm-platform/llm-platform/internal/testcluster"
)

// TestEKSStackWithAWebUITeam: the eks stack with Open WebUI for a team (two replicas on the
// in-cluster PostgreSQL, their Redis, the backup's room) on nodes shaped like its pools: the
// scheduler places every pod the capacity check counted, and the UI's budget allows a drain.
func TestEKSStackWithAWebUITeam(t *testing.T) {
	root, err := testcluster.Root()
	require.NoError(t, err)
	team := map[string]any{"storageClass": simcluster.StorageClassName, "database": map[string]any{"kind": "in-cluster"}}
	cfg := stackConfig(t, root, "eks", map[string]string{"webui": `{"storageClass":"` + simcluster.StorageClassName + `","database":{"kind":"in-cluster"}}`})
	require.Equal(t, 2, cfg.WebUI.ReplicaCount())
	s := startSim(t, stackShape(t, cfg), true)
	ns := "llm-eks-team"
	session := s.open(t, "eks-team", appStackFile(t, root, "eks", cfg, map[string]any{"webui": team}), appLayer(ns), istioSidecars(cfg))
	up(t, session, "the eks stack with a web UI team")
	assertAllReady(t, s.c, ns)
	assertPlacement(t, s.c)
	w := workloads(t, s.c, ns)
	for name, replicas := range map[string]int32{"StatefulSet/open-webui": 2, "StatefulSet/open-webui-redis": 1, "StatefulSet/open-webui-postgres": 1} {
		assert.Equal(t, [2]int32{replicas, replicas}, w[name], "%s: desired and Ready", name)
	}
	assertPDBsAllowOne(t, s.c, ns, 2) // the gateway's and Open WebUI's
	pods, err := simcluster.Pods(context.Background(), s.c, ns, "app.kubernetes.io/name=postgres")
	require.NoError(t, err)
	require.Len(t, pods, 1)
	for _, c := range pods[0].Spec.Containers {
		assert.NotEqual(t, "istio-proxy", c.Name, "the PostgreSQL server runs outside the mesh")
	}
}
