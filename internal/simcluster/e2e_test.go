package simcluster_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/simcluster"
	"github.com/llm-platform/llm-platform/internal/testcluster"
	"github.com/llm-platform/llm-platform/stacks"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// TestDevStack: the dev stack on a kind-sized node comes up with real waits, and destroy
// waits for every object to go.
func TestDevStack(t *testing.T) {
	s := startSim(t, simcluster.Shape{Nodes: []corev1.Node{simcluster.DevNode()}, Volumes: 10}, true)
	ns := "llm-dev"
	cfg := stackConfig(t, s.root, "dev", nil)
	session := s.open(t, "dev", appStackFile(t, s.root, "dev", cfg, nil), appLayer(ns), istioSidecars(cfg))
	up(t, session, "dev")
	assertAllReady(t, s.c, ns)
	assertPlacement(t, s.c)
	assertPDBsAllowOne(t, s.c, ns, 0) // one replica of everything: nothing to keep

	start := time.Now()
	require.NoError(t, session.Destroy(context.Background()))
	t.Logf("destroy in %s", time.Since(start).Round(time.Second))
	pods, err := simcluster.Pods(context.Background(), s.c, ns, "")
	require.NoError(t, err)
	assert.Empty(t, pods, "destroy waited for the workloads' deletion")
}

// TestEKSStack: the eks stack file's application layer on nodes shaped like its pools.
func TestEKSStack(t *testing.T) {
	root, err := testcluster.Root()
	require.NoError(t, err)
	cfg := stackConfig(t, root, "eks", nil)
	s := startSim(t, stackShape(t, cfg), true)
	ns := "llm-eks"
	session := s.open(t, "eks", appStackFile(t, root, "eks", cfg, nil), appLayer(ns), istioSidecars(cfg))
	up(t, session, "the eks stack's application layer")
	assertAllReady(t, s.c, ns)
	used := assertPlacement(t, s.c)
	t.Logf("GPUs in use per node: %v", used)
	assert.Equal(t, int64(4), total(used), "two 2-GPU models")
	assertPDBsAllowOne(t, s.c, ns, 1) // the gateway's (the models have one replica each)
	pods, err := simcluster.Pods(context.Background(), s.c, ns, "")
	require.NoError(t, err)
	for _, p := range pods {
		assert.Equal(t, "istio-proxy", p.Spec.Containers[len(p.Spec.Containers)-1].Name, "%s carries the sidecar stand-in (strict mTLS)", p.Name)
	}
}

// TestGKEStackAndDay2: the gke stack file's application layer, then the day-2 operations on
// the same cluster: drain a GPU node, scale a model to the GPU pool's limit and one beyond,
// change a model's settings with the pool full, add and remove a model.
func TestGKEStackAndDay2(t *testing.T) {
	root, err := testcluster.Root()
	require.NoError(t, err)
	cfg := stackConfig(t, root, "gke", nil)
	pools, err := stacks.NodePools(cfg)
	require.NoError(t, err)
	var gpuPool cluster.NodePool
	for _, p := range pools {
		if p.GPU {
			gpuPool = p
		}
	}
	poolGPUs := int64(gpuPool.Nodes) * gpuPool.Type.GPUs
	require.Equal(t, int64(6), poolGPUs, "3 a2-ultragpu-2g nodes")
	s := startSim(t, stackShape(t, cfg), true)
	ctx := context.Background()
	ns := "llm-gke"
	session := s.open(t, "gke", appStackFile(t, root, "gke", cfg, nil), appLayer(ns), istioSidecars(cfg))
	up(t, session, "the gke stack's application layer")
	assertAllReady(t, s.c, ns)
	used := assertPlacement(t, s.c)
	t.Logf("GPUs in use per node: %v", used)
	require.Equal(t, int64(4), total(used), "gemma (2 GPUs) and two qwen3-8b replicas (1 GPU each)")
	assertPDBsAllowOne(t, s.c, ns, 2) // the gateway's and qwen3-8b's

	qwen := model.Selector("qwen3-8b")

	t.Run("drain-a-gpu-node", func(t *testing.T) {
		pods := modelPods(t, s.c, ns, qwen)
		require.Len(t, pods, 2)
		node := pods[0].Spec.NodeName
		// Cordon the node, as `kubectl drain` does first; and for a moment every other GPU
		// node too, so the evicted pod's replacement has nowhere to go (KWOK would otherwise
		// make it Ready within milliseconds, and the budget would allow the next eviction).
		var gpuNodes []string
		for name, n := range nodes(t, s.c) {
			if gpuNode(n) {
				gpuNodes = append(gpuNodes, name)
				patch(t, s.c, "/api/v1/nodes/"+name, `{"spec":{"unschedulable":true}}`)
			}
		}
		defer func() { // every GPU node schedulable again for the next steps, however this ends
			for _, name := range gpuNodes {
				patch(t, s.c, "/api/v1/nodes/"+name, `{"spec":{"unschedulable":false}}`)
			}
		}()

		// The budget: one qwen3-8b pod may go, the second not until the first is back.
		status, msg := evict(t, s.c, pods[0])
		require.Equal(t, http.StatusCreated, status, "the first eviction: %s", msg)
		var reason string
		require.Eventually(t, func() bool {
			var p corev1.Pod
			found, err := s.c.Get(ctx, "/api/v1/namespaces/"+ns+"/pods/"+pods[0].Name, &p)
			require.NoError(t, err)
			reason = simcluster.PendingReason(p)
			return found && p.UID != pods[0].UID && strings.Contains(reason, "nodes are available")
		}, time.Minute, 100*time.Millisecond, "the replacement waits for a node")
		t.Logf("%s's replacement: %s", pods[0].Name, reason)
		status, msg = evict(t, s.c, pods[1])
		assert.Equal(t, http.StatusTooManyRequests, status, "a second qwen3-8b pod while the first is away")
		assert.Contains(t, msg, "disruption budget")
		t.Logf("second eviction refused: %d %s", status, msg)
		for _, name := range gpuNodes {
			if name != node {
				patch(t, s.c, "/api/v1/nodes/"+name, `{"spec":{"unschedulable":false}}`)
			}
		}

		// Drain: evict everything on the node but the per-node agents, retrying what the
		// budgets refuse, until the node is empty.
		start := time.Now()
		refused := 0
		require.Eventually(t, func() bool {
			left := 0
			all, err := simcluster.Pods(ctx, s.c, "", "")
			require.NoError(t, err)
			for _, p := range all {
				if p.Spec.NodeName != node || daemonPod(p) {
					continue
				}
				left++
				if p.DeletionTimestamp == nil {
					if status, _ := evict(t, s.c, p); status == http.StatusTooManyRequests {
						refused++
					}
				}
			}
			return left == 0
		}, 3*time.Minute, 500*time.Millisecond, "the node drains")
		t.Logf("drained %s in %s (%d evictions refused by a budget and retried)", node, time.Since(start).Round(time.Second), refused)
		require.Eventually(t, func() bool {
			w := workloads(t, s.c, ns)["StatefulSet/qwen3-8b"]
			return w[0] == w[1]
		}, 2*time.Minute, 500*time.Millisecond, "qwen3-8b is whole again on the other GPU nodes")
		for _, p := range modelPods(t, s.c, ns, qwen) {
			assert.NotEqual(t, node, p.Spec.NodeName, "%s is back on the cordoned node", p.Name)
		}
		assertPlacement(t, s.c)
	})

	t.Run("scale-to-the-pool-limit-and-beyond", func(t *testing.T) {
		// The config-time check `pulumi up --stack gke` runs: 4 replicas fill the pool
		// (2 + 4 x 1 = 6 GPUs), 5 do not, and the error names the key to change.
		assert.NoError(t, stacks.CheckCapacity(withReplicas(t, root, 1, 4)))
		err := stacks.CheckCapacity(withReplicas(t, root, 1, 5))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "gke.gpuPool.maxNodes: is 3, but the GPU models need 4 a2-ultragpu-2g nodes")
		t.Logf("the config-time check refuses 5 replicas: %v", err)

		setConfig(t, session, "models[1].replicas", "4")
		up(t, session, "qwen3-8b at 4 replicas")
		assertAllReady(t, s.c, ns)
		used := assertPlacement(t, s.c)
		assert.Equal(t, poolGPUs, total(used), "the GPU pool is full: %v", used)

		// One more replica forced through the API: a pod of qwen3-8b's own template (its cache
		// claim an emptyDir), outside the StatefulSet. It stays Pending, and the scheduler
		// says why. (Scaling the StatefulSet with `kubectl scale` would leave its replicas
		// owned by another field manager, and the next `up` that changes them fails with a
		// server-side apply conflict: see docs/testing.md.)
		var sts appsv1.StatefulSet
		_, err = s.c.Get(ctx, "/apis/apps/v1/namespaces/"+ns+"/statefulsets/qwen3-8b", &sts)
		require.NoError(t, err)
		extra := corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: "qwen3-8b-extra", Namespace: ns, Labels: map[string]string{"simcluster": "extra-replica"}},
			Spec:       sts.Spec.Template.Spec,
		}
		extra.Spec.Volumes = append(extra.Spec.Volumes, corev1.Volume{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		require.NoError(t, simcluster.Create(ctx, s.c, "/api/v1/namespaces/"+ns+"/pods", &extra))
		var reason string
		require.Eventually(t, func() bool {
			var p corev1.Pod
			found, err := s.c.Get(ctx, "/api/v1/namespaces/"+ns+"/pods/qwen3-8b-extra", &p)
			require.NoError(t, err)
			reason = simcluster.PendingReason(p)
			return found && strings.Contains(reason, "Insufficient")
		}, time.Minute, 250*time.Millisecond, "the extra replica is unschedulable")
		t.Logf("the extra replica stays Pending: %s", reason)
		assert.Contains(t, reason, "Insufficient nvidia.com/gpu")
		assert.Contains(t, reason, "didn't match Pod's node affinity/selector", "the system nodes")
		status, out, err := s.c.Do(ctx, http.MethodDelete, "/api/v1/namespaces/"+ns+"/pods/qwen3-8b-extra", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, "%s", out)
	})

	t.Run("change-settings-with-the-pool-full", func(t *testing.T) {
		before := modelPods(t, s.c, ns, qwen)
		require.Len(t, before, 4)
		w := watchGPUs(t, s.c, ns)
		setConfig(t, session, "models[1].maxModelLen", "8192")
		res := up(t, session, "qwen3-8b's --max-model-len")
		peak, unschedulable := w.stop()
		assert.Zero(t, (*res.Summary.ResourceChanges)["replace"], "the StatefulSet is updated in place")
		assertAllReady(t, s.c, ns)
		after := modelPods(t, s.c, ns, qwen)
		require.Len(t, after, 4)
		old := map[string]bool{}
		for _, p := range before {
			old[string(p.UID)] = true
		}
		for _, p := range after {
			assert.False(t, old[string(p.UID)], "%s was not replaced", p.Name)
			assert.Contains(t, p.Spec.Containers[0].Args, "8192", "%s runs the new arguments", p.Name)
		}
		assert.LessOrEqual(t, peak, poolGPUs, "GPUs requested by scheduled pods during the rollout")
		assert.Empty(t, unschedulable, "no pod waited for a GPU during the rollout (one pod replaced at a time, no surge)")
		t.Logf("rollout: peak %d of %d GPUs in use, no pod left unschedulable", peak, poolGPUs)
	})

	t.Run("add-and-remove-a-model", func(t *testing.T) {
		setConfig(t, session, "models[1].replicas", "2")
		setConfig(t, session, "models[2].huggingfaceId", "Qwen/Qwen3-4B")
		setConfig(t, session, "models[2].modelName", "qwen3-4b")
		setConfig(t, session, "models[2].gpuRequestCount", "1")
		up(t, session, "a third model")
		assertAllReady(t, s.c, ns)
		assert.Len(t, modelPods(t, s.c, ns, model.Selector("qwen3-4b")), 1)
		used := assertPlacement(t, s.c)
		assert.Equal(t, int64(5), total(used), "2 + 2 x 1 + 1 GPUs: %v", used)

		require.NoError(t, session.Stack.RemoveConfigWithOptions(ctx, "llm-platform:models[2]", &auto.ConfigOptions{Path: true}))
		res := up(t, session, "the third model removed")
		for op := range *res.Summary.ResourceChanges {
			assert.Contains(t, []string{"same", "update", "delete"}, op, "removing a model only deletes and updates")
		}
		found, err := s.c.Get(ctx, "/apis/apps/v1/namespaces/"+ns+"/statefulsets/qwen3-4b", &appsv1.StatefulSet{})
		require.NoError(t, err)
		assert.False(t, found, "the StatefulSet is gone")
		assert.Empty(t, modelPods(t, s.c, ns, model.Selector("qwen3-4b")), "its pod is gone (the provider waited)")
		assertAllReady(t, s.c, ns)
		assert.Equal(t, int64(4), total(assertPlacement(t, s.c)))
	})

	// Last: it leaves the StatefulSet's replicas owned by another field manager.
	t.Run("scaled-outside-pulumi-then-up-conflicts", func(t *testing.T) {
		// `kubectl scale` writes .spec.replicas through the scale subresource as field
		// manager "kubectl"; the next up that changes the replica count is refused by
		// server-side apply (the provider does not force), naming the field and the manager.
		status, out, err := s.c.Patch(ctx, "/apis/apps/v1/namespaces/"+ns+"/statefulsets/qwen3-8b/scale?fieldManager=kubectl", []byte(`{"spec":{"replicas":3}}`))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, "%s", out)
		setConfig(t, session, "models[1].replicas", "4")
		_, err = session.Up(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas`)
	})
}

// TestOldDefaultsDoNotFit: nodes of the old EKS default types (m6i.large system nodes, a
// g6.xlarge GPU node group) cannot hold today's application layer. The config-time check
// refuses the config, so the test deploys the application layer as `existing` into nodes of
// those types: `up` fails (bounded waits) and the scheduler says why, in its own words.
func TestOldDefaultsDoNotFit(t *testing.T) {
	root, err := testcluster.Root()
	require.NoError(t, err)
	// One 1-GPU model at its default size (4 CPU, 16Gi), as in stacks' TestCapacityRefusesTheOldEKSDefaults.
	oneModel := `[{"huggingfaceId":"Qwen/Qwen3-8B","modelName":"qwen3-8b"}]`
	cfg := stackConfig(t, root, "eks", map[string]string{
		"eks":    `{"region":"us-west-2","cluster":{"systemInstanceType":"m6i.large"},"gpuNodeGroup":{"instanceTypes":["g6.xlarge"]}}`,
		"models": oneModel,
	})
	checkErr := stacks.CheckCapacity(cfg)
	require.Error(t, checkErr, "the config-time check refuses the old defaults")
	assert.Contains(t, checkErr.Error(), "eks.gpuNodeGroup.instanceTypes")
	assert.Contains(t, checkErr.Error(), "eks.cluster.systemNodeCount")

	s := startSim(t, stackShape(t, cfg), false)
	ns := "llm-old"
	var models any
	require.NoError(t, json.Unmarshal([]byte(oneModel), &models))
	// A pod that fits nowhere never becomes Ready: 30 s of waiting is plenty.
	session := s.open(t, "old-eks", appStackFile(t, root, "eks", cfg, map[string]any{"models": models}), appLayer(ns), istioSidecars(cfg), shortWaits(30*time.Second))
	_, err = session.Up(context.Background())
	require.Error(t, err, "the old node types cannot hold the application layer")
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.Contains(line, "timed out waiting to be Ready") {
			t.Logf("up failed as it must: %s", strings.TrimSpace(line))
		}
	}
	assert.Contains(t, err.Error(), "'qwen3-8b' timed out waiting to be Ready", "the provider's wait for the model")

	all, err := simcluster.Pods(context.Background(), s.c, "", "")
	require.NoError(t, err)
	pending := map[string]string{}
	for _, p := range all {
		if p.Spec.NodeName == "" {
			pending[p.Namespace+"/"+p.Name] = simcluster.PendingReason(p)
			t.Logf("Pending %s/%s: %s", p.Namespace, p.Name, simcluster.PendingReason(p))
		}
	}
	modelReason := pending[ns+"/qwen3-8b-0"]
	require.NotEmpty(t, modelReason, "the model's pod is Pending: %v", pending)
	assert.Contains(t, modelReason, "Insufficient cpu", "a g6.xlarge cannot hold 4 CPUs (plus its agents)")
	assert.Contains(t, modelReason, "didn't match Pod's node affinity/selector", "the system nodes are not GPU nodes")
	// Something of the system pool's does not fit either (the gateway and Open WebUI with
	// their sidecars): the GPU nodes refuse it by their taint, the m6i.large nodes for want of
	// room.
	var system string
	for name, reason := range pending {
		if name != ns+"/qwen3-8b-0" && strings.Contains(reason, "untolerated taint") && strings.Contains(reason, "Insufficient") {
			system = name + ": " + reason
		}
	}
	assert.NotEmpty(t, system, "a system-pool pod is refused by the GPU nodes' taint and the system nodes' size: %v", pending)
}

// modelPods are a model's live pods (not being deleted).
func modelPods(t *testing.T, c *testcluster.Cluster, namespace string, labels map[string]string) []corev1.Pod {
	t.Helper()
	pods, err := simcluster.Pods(context.Background(), c, namespace, selector(labels))
	require.NoError(t, err)
	var out []corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func total(used map[string]int64) int64 {
	var n int64
	for _, v := range used {
		n += v
	}
	return n
}

// withReplicas is the gke stack file's config with one model's replica count changed.
func withReplicas(t *testing.T, root string, model, replicas int) spec.Config {
	t.Helper()
	cfg := stackConfig(t, root, "gke", nil)
	var models []map[string]any
	b, err := json.Marshal(cfg.Models)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &models))
	models[model]["replicas"] = replicas
	b, err = json.Marshal(models)
	require.NoError(t, err)
	return stackConfig(t, root, "gke", map[string]string{"models": string(b)})
}

// gpuWatch polls the cluster while an `up` runs: the most GPUs requested by scheduled pods at
// once, and every pod seen unschedulable.
type gpuWatch struct {
	done          chan struct{}
	wg            sync.WaitGroup
	peak          int64
	unschedulable map[string]string
}

func watchGPUs(t *testing.T, c *testcluster.Cluster, namespace string) *gpuWatch {
	w := &gpuWatch{done: make(chan struct{}), unschedulable: map[string]string{}}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			pods, err := simcluster.Pods(context.Background(), c, namespace, "")
			if err != nil {
				t.Errorf("watching pods: %v", err)
				return
			}
			var n int64
			for _, p := range pods {
				if p.Spec.NodeName != "" {
					n += podGPUs(p)
				} else if r := simcluster.PendingReason(p); strings.Contains(r, "nodes are available") {
					w.unschedulable[p.Name] = r
				}
			}
			w.peak = max(w.peak, n)
		}
	}()
	return w
}

func (w *gpuWatch) stop() (int64, map[string]string) {
	close(w.done)
	w.wg.Wait()
	return w.peak, w.unschedulable
}
