package simcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/render"
	"github.com/llm-platform/llm-platform/internal/simcluster"
	"github.com/llm-platform/llm-platform/internal/testcluster"
	"github.com/llm-platform/llm-platform/stacks"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// sim is a simulated cluster with the platform's CRDs, shaped like one stack's pools.
type sim struct {
	c     *testcluster.Cluster
	root  string
	state string
}

// startSim starts the control plane with kube-scheduler and kwok, installs Istio's and Argo
// CD's CRDs (Istio is "preinstalled") and registers the shape. With addOnsFit, it waits until
// the clouds' and add-ons' placeholder pods run.
func startSim(t *testing.T, shape simcluster.Shape, addOnsFit bool) *sim {
	t.Helper()
	testcluster.RequireBinaries(t, append(slices.Clone(testcluster.SimulatedBinaries), "pulumi", "pulumi-resource-kubernetes")...)
	root, err := testcluster.Root()
	require.NoError(t, err)
	start := time.Now()
	c := testcluster.StartWith(t, testcluster.Options{Scheduler: true, KWOK: true})
	ctx := context.Background()
	crds, err := testcluster.PlatformCRDFiles()
	require.NoError(t, err)
	_, err = c.InstallCRDs(ctx, crds...)
	require.NoError(t, err)
	require.NoError(t, simcluster.Setup(ctx, c, shape))
	if shape.PerNode != (capacity.Resources{}) || len(shape.AddOns) > 0 {
		if addOnsFit {
			require.NoError(t, simcluster.WaitPodsReady(ctx, c, simcluster.OverheadNamespace, 2*time.Minute), "the clouds' and add-ons' pods fit the pools")
		}
	}
	t.Logf("simulated cluster: %d nodes Ready in %s", len(shape.Nodes), time.Since(start).Round(time.Second))
	return &sim{c: c, root: root, state: t.TempDir()}
}

// stackConfig is a stack file's config, parsed and validated as `pulumi up` would.
func stackConfig(t *testing.T, root, stack string, overrides map[string]string) spec.Config {
	t.Helper()
	raw := pulumimock.StackConfig(t, filepath.Join(root, "Pulumi."+stack+".yaml"))
	maps.Copy(raw, overrides)
	cfg, err := spec.Parse(raw)
	require.NoError(t, err)
	require.NoError(t, spec.Validate(&cfg))
	return cfg
}

// appLayer is the config that deploys a stack's application layer into the simulated cluster:
// cloud "existing", Istio preinstalled (its CRDs are served; no Helm release), Argo CD off, a
// namespace. The GPU selector goes into the stack file (appStackFile).
func appLayer(namespace string) map[string]string {
	return map[string]string{
		"cloud":                       spec.CloudExisting,
		"namespace":                   namespace,
		"platform.istio.enabled":      "false",
		"platform.istio.preinstalled": "true",
		"platform.argocd.enabled":     "false",
	}
}

// stackShape is the shape of a GKE or EKS stack's cluster: its node pools (the GPU pool at its
// maximum) and what the clouds and the add-ons run on them, as the config-time check counts it.
func stackShape(t *testing.T, cfg spec.Config) simcluster.Shape {
	t.Helper()
	pools, err := stacks.NodePools(cfg)
	require.NoError(t, err)
	return simcluster.Shape{
		Nodes: simcluster.Nodes(pools), PerNode: stacks.NodeOverhead(cfg), AddOns: stacks.AddOnPods(cfg),
		Volumes: simcluster.DefaultVolumes,
	}
}

// appStackFile writes a copy of the repository's stack file with existing.nodeSelector set to
// the selector the stack's cloud component gives GPU models (gke: the accelerator label, eks:
// nvidia.com/gpu.present), without the cloud's own keys, and the top-level keys in replace
// replaced, and returns its path. It goes into the file, not through `pulumi
// config set --path`, which would turn "true" into a boolean.
func appStackFile(t *testing.T, root, stack string, cfg spec.Config, replace map[string]any) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Pulumi."+stack+".yaml"))
	require.NoError(t, err)
	var file map[string]any
	require.NoError(t, yaml.Unmarshal(b, &file))
	config, _ := file["config"].(map[string]any)
	require.NotNil(t, config, "Pulumi.%s.yaml has a config section", stack)
	// The application layer runs as cloud "existing", which refuses a cloud's own keys
	// (nothing would read them); the cluster's shape came from them already (stackShape).
	delete(config, pulumimock.Project+":gke")
	delete(config, pulumimock.Project+":eks")
	if sel := stacks.ModelNodeSelector(cfg); len(sel) > 0 {
		config[pulumimock.Project+":existing"] = map[string]any{"nodeSelector": sel}
	}
	for k, v := range replace {
		config[pulumimock.Project+":"+k] = v
	}
	out, err := yaml.Marshal(file)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "Pulumi."+stack+".yaml")
	require.NoError(t, os.WriteFile(path, out, 0o644))
	return path
}

// open prepares a stack (its stack file: file) against the simulated cluster, with the
// provider's normal waits (no skipAwait; bounded by waitLimit); transforms are the test's own,
// if any.
func (s *sim) open(t *testing.T, stack, file string, config map[string]string, transforms ...pulumi.ResourceTransform) *render.Session {
	t.Helper()
	session, err := render.OpenCluster(context.Background(), render.ClusterOptions{
		Options: render.Options{
			Root: s.root, Stack: stack, StackFile: file, StateDir: s.state,
			Program: func(ctx *pulumi.Context) error {
				for _, tr := range append([]pulumi.ResourceTransform{shortWaits(waitLimit)}, transforms...) {
					if err := ctx.RegisterStackTransform(tr); err != nil {
						return err
					}
				}
				return stacks.Run(ctx)
			},
			Log: logWriter{t},
		},
		Kubeconfig: s.c.Kubeconfig,
		Config:     config,
	})
	require.NoError(t, err)
	return session
}

// up runs `pulumi up` and logs how long it took.
func up(t *testing.T, s *render.Session, what string) auto.UpResult {
	t.Helper()
	start := time.Now()
	res, err := s.Up(context.Background())
	require.NoError(t, err, "up: %s", what)
	t.Logf("up (%s): %v in %s", what, *res.Summary.ResourceChanges, time.Since(start).Round(time.Second))
	return res
}

// setConfig sets one config value by path.
func setConfig(t *testing.T, s *render.Session, key, value string) {
	t.Helper()
	require.NoError(t, s.Stack.SetConfigWithOptions(context.Background(), "llm-platform:"+key, auto.ConfigValue{Value: value}, &auto.ConfigOptions{Path: true}))
}

// waitLimit bounds every workload's readiness wait. The waits are the provider's own; only
// their limit changes: a model's is its startup probe's budget (an hour), and a simulated pod is
// Ready within seconds or never, so a failing test (and the old defaults' test, which must fail)
// ends in minutes.
const waitLimit = 90 * time.Second

// shortWaits bounds every workload's readiness wait with the resource option (which wins
// over the provider's pulumi.com/timeoutSeconds annotation).
func shortWaits(timeout time.Duration) pulumi.ResourceTransform {
	return func(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		if args.Type != "kubernetes:apps/v1:StatefulSet" && args.Type != "kubernetes:apps/v1:Deployment" {
			return nil
		}
		opts := args.Opts
		opts.CustomTimeouts = &pulumi.CustomTimeouts{Create: timeout.String(), Update: timeout.String()}
		return &pulumi.ResourceTransformResult{Props: args.Props, Opts: opts}
	}
}

// istioSidecars adds what Istio's injection webhook would add to every pod of the app namespace
// when the stack injects sidecars (the edge's strict mutual TLS): a container requesting the
// sidecar's resources (addons.SidecarRequests, as the config-time check counts it). There is no
// istiod here to inject it; without this every pod would be 100m / 128Mi lighter than in
// production.
func istioSidecars(cfg spec.Config) pulumi.ResourceTransform {
	return func(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		if !cfg.Edge.Enabled || !cfg.Edge.StrictMTLS ||
			(args.Type != "kubernetes:apps/v1:Deployment" && args.Type != "kubernetes:apps/v1:StatefulSet") {
			return nil
		}
		if outsideMesh(args.Props) {
			return nil
		}
		r := addons.SidecarRequests
		sidecar := pulumi.Map{
			"name":  pulumi.String("istio-proxy"),
			"image": pulumi.String("docker.io/istio/proxyv2"),
			"resources": pulumi.Map{"requests": pulumi.Map{
				"cpu":    pulumi.String(fmt.Sprintf("%dm", r.MilliCPU)),
				"memory": pulumi.String(fmt.Sprintf("%dMi", r.Memory>>20)),
			}},
		}
		props, ok := render.EditMap(args.Props, render.PodSpecPath, func(pod pulumi.Map) {
			containers, ok := pod["containers"].(pulumi.Array)
			if !ok {
				panic(fmt.Sprintf("%s %s: spec.template.spec.containers is %T", args.Type, args.Name, pod["containers"]))
			}
			pod["containers"] = append(slices.Clone(containers), sidecar)
		})
		if !ok {
			panic(fmt.Sprintf("%s %s: no spec.template.spec in its props", args.Type, args.Name))
		}
		return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
	}
}

// outsideMesh: the pod template opts out of injection (webui.NoSidecarLabel "false"), as the
// in-cluster PostgreSQL does; the webhook would add nothing to it.
func outsideMesh(props pulumi.Map) bool {
	out := false
	render.EditMap(props, []string{"spec", "template", "metadata"}, func(meta pulumi.Map) {
		labels, _ := meta["labels"].(pulumi.Map)
		v, _ := labels[webui.NoSidecarLabel].(pulumi.String)
		out = v == "false"
	})
	return out
}

// workloads are the namespace's Deployments and StatefulSets by kind/name with their
// (desired, ready) replicas.
func workloads(t *testing.T, c *testcluster.Cluster, namespace string) map[string][2]int32 {
	t.Helper()
	ctx := context.Background()
	out := map[string][2]int32{}
	var deps appsv1.DeploymentList
	_, err := c.Get(ctx, "/apis/apps/v1/namespaces/"+namespace+"/deployments", &deps)
	require.NoError(t, err)
	for _, d := range deps.Items {
		out["Deployment/"+d.Name] = [2]int32{*d.Spec.Replicas, d.Status.ReadyReplicas}
	}
	var sts appsv1.StatefulSetList
	_, err = c.Get(ctx, "/apis/apps/v1/namespaces/"+namespace+"/statefulsets", &sts)
	require.NoError(t, err)
	for _, s := range sts.Items {
		out["StatefulSet/"+s.Name] = [2]int32{*s.Spec.Replicas, s.Status.ReadyReplicas}
	}
	return out
}

// assertAllReady: every workload has all its replicas Ready (the provider waited for it; this
// reads it back), and every pod of the namespace is bound to a node and Ready.
func assertAllReady(t *testing.T, c *testcluster.Cluster, namespace string) {
	t.Helper()
	w := workloads(t, c, namespace)
	require.NotEmpty(t, w)
	for name, r := range w {
		assert.Equal(t, r[0], r[1], "%s: %d of %d replicas Ready", name, r[1], r[0])
	}
	pods, err := simcluster.Pods(context.Background(), c, namespace, "")
	require.NoError(t, err)
	for _, p := range pods {
		assert.NotEmpty(t, p.Spec.NodeName, "%s is not scheduled: %s", p.Name, simcluster.PendingReason(p))
		assert.True(t, simcluster.PodReady(p), "%s is not Ready", p.Name)
	}
	t.Logf("%s: %d workloads, %d pods, all Ready", namespace, len(w), len(pods))
}

// nodes by name.
func nodes(t *testing.T, c *testcluster.Cluster) map[string]corev1.Node {
	t.Helper()
	var list corev1.NodeList
	_, err := c.Get(context.Background(), "/api/v1/nodes", &list)
	require.NoError(t, err)
	out := map[string]corev1.Node{}
	for _, n := range list.Items {
		out[n.Name] = n
	}
	return out
}

func gpuNode(n corev1.Node) bool {
	q, ok := n.Status.Allocatable[simcluster.GPUResource]
	return ok && !q.IsZero()
}

func podGPUs(p corev1.Pod) int64 {
	var n int64
	for _, c := range p.Spec.Containers {
		if q, ok := c.Resources.Requests[simcluster.GPUResource]; ok {
			n += q.Value()
		}
	}
	return n
}

func daemonPod(p corev1.Pod) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}

// assertPlacement: every pod that requests GPUs runs on a GPU node, and nothing else does
// (but the per-node agents, which run everywhere). It returns the GPUs in use per node.
func assertPlacement(t *testing.T, c *testcluster.Cluster) map[string]int64 {
	t.Helper()
	all := nodes(t, c)
	pods, err := simcluster.Pods(context.Background(), c, "", "")
	require.NoError(t, err)
	used := map[string]int64{}
	for _, p := range pods {
		if p.Spec.NodeName == "" || daemonPod(p) {
			continue
		}
		n := all[p.Spec.NodeName]
		if podGPUs(p) > 0 {
			assert.True(t, gpuNode(n), "%s/%s requests GPUs but runs on %s", p.Namespace, p.Name, n.Name)
			used[n.Name] += podGPUs(p)
		} else {
			assert.False(t, gpuNode(n), "%s/%s requests no GPU but runs on GPU node %s", p.Namespace, p.Name, n.Name)
		}
	}
	return used
}

// assertPDBsAllowOne: every PodDisruptionBudget of the namespace allows a disruption now.
func assertPDBsAllowOne(t *testing.T, c *testcluster.Cluster, namespace string, want int) {
	t.Helper()
	var list policyv1.PodDisruptionBudgetList
	require.Eventually(t, func() bool {
		_, err := c.Get(context.Background(), "/apis/policy/v1/namespaces/"+namespace+"/poddisruptionbudgets", &list)
		require.NoError(t, err)
		if len(list.Items) < want {
			return false
		}
		for _, p := range list.Items {
			if p.Status.ObservedGeneration < p.Generation || p.Status.DisruptionsAllowed < 1 {
				return false
			}
		}
		return true
	}, time.Minute, 250*time.Millisecond, "%d PodDisruptionBudgets in %s, each allowing a disruption: %+v", want, namespace, list.Items)
	for _, p := range list.Items {
		t.Logf("PDB %s: %d healthy of %d expected, %d disruption(s) allowed", p.Name, p.Status.CurrentHealthy, p.Status.ExpectedPods, p.Status.DisruptionsAllowed)
	}
}

// evict asks the eviction API to evict a pod, as `kubectl drain` does; it returns the status
// (201 evicted, 429 refused by a PodDisruptionBudget) and the message.
func evict(t *testing.T, c *testcluster.Cluster, p corev1.Pod) (int, string) {
	t.Helper()
	body, err := json.Marshal(policyv1.Eviction{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "Eviction"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
	})
	require.NoError(t, err)
	status, out, err := c.Do(context.Background(), http.MethodPost, "/api/v1/namespaces/"+p.Namespace+"/pods/"+p.Name+"/eviction", body)
	require.NoError(t, err)
	var st metav1.Status
	_ = json.Unmarshal(out, &st)
	return status, st.Message
}

// patch sends a JSON merge patch.
func patch(t *testing.T, c *testcluster.Cluster, path, body string) {
	t.Helper()
	status, out, err := c.Patch(context.Background(), path, []byte(body))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "PATCH %s: %s", path, out)
}

func selector(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return url.QueryEscape(strings.Join(parts, ","))
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
