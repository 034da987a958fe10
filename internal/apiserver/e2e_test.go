package apiserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/render"
	"github.com/llm-platform/llm-platform/internal/testcluster"
	"github.com/llm-platform/llm-platform/stacks"
)

// skipAwaitAnnotation turns off the Kubernetes provider's readiness wait for
// one object. This cluster has no kubelet and no scheduler: no pod ever
// becomes ready, and a Deployment would be awaited for ten minutes. There is
// no provider-wide switch, so a stack transform puts it on every object; the
// program itself never sets it.
const skipAwaitAnnotation = "pulumi.com/skipAwait"

// waitForAnnotation replaces the provider's readiness wait with a condition of our own. For
// Deployments and StatefulSets skipAwait would also skip the wait for their deletion
// (pulumi-kubernetes issues 1232 and 3154), so a replacement would be created while the old
// object is still being deleted, which no real `up` does. They wait for their own UID
// instead: at once on create, and until the object is gone on delete, as in production.
const waitForAnnotation = "pulumi.com/waitFor"

// awaitsDeletion are the kinds that get waitForAnnotation instead of skipAwaitAnnotation.
var awaitsDeletion = map[string]bool{
	"kubernetes:apps/v1:Deployment":  true,
	"kubernetes:apps/v1:StatefulSet": true,
}

// noAwait is the annotation a test object carries, and its value.
func noAwait(typ string) (annotation, value string) {
	if awaitsDeletion[typ] {
		return waitForAnnotation, "jsonpath={.metadata.uid}"
	}
	return skipAwaitAnnotation, "true"
}

// helmTypePrefix: Helm releases are not Kubernetes objects of their own.
const helmTypePrefix = "kubernetes:helm.sh/"

// TestAgainstAPIServer applies whole stacks through the real engine and
// Kubernetes provider to a real API server with Istio's and Argo CD's CRDs,
// reads every object back, and checks updates, removals and destroy.
func TestAgainstAPIServer(t *testing.T) {
	testcluster.RequireBinaries(t, append(slices.Clone(testcluster.Binaries), "pulumi", "pulumi-resource-kubernetes")...)
	root, err := testcluster.Root()
	require.NoError(t, err)
	c := testcluster.Start(t)
	ctx := context.Background()
	crds, err := testcluster.PlatformCRDFiles()
	require.NoError(t, err)
	_, err = c.InstallCRDs(ctx, crds...)
	require.NoError(t, err)
	state := t.TempDir()

	t.Run("dev", func(t *testing.T) {
		s := open(t, c, root, state, "dev", filepath.Join(root, "Pulumi.dev.yaml"), "llm-dev", nil, nil)
		objs := upAndCheck(t, c, s)
		assertKinds(t, objs, "Namespace", "StatefulSet", "Deployment", "Gateway", "VirtualService", "PeerAuthentication", "DestinationRule")
		assertVirtualService(t, c, "llm-dev", false)
		destroyAndCheck(t, c, s, "llm-dev")
	})

	t.Run("gpu", func(t *testing.T) {
		secrets := map[string]string{"gatewayApiKeys[0]": "sk-e2e-first", "gatewayApiKeys[1]": "sk-e2e-second"}
		s := open(t, c, root, state, "gpu", filepath.Join(root, "internal/apiserver/testdata/Pulumi.gpu.yaml"), "llm-gpu", secrets, nil)
		objs := upAndCheck(t, c, s)
		assertKinds(t, objs, "StatefulSet", "Secret", "Gateway", "VirtualService", "PeerAuthentication")
		assertVirtualService(t, c, "llm-gpu", true)

		// GPU requests survive the round trip as the scheduler will read them.
		var sts appsv1.StatefulSet
		found, err := c.Get(ctx, "/apis/apps/v1/namespaces/llm-gpu/statefulsets/gemma-3-27b-it", &sts)
		require.NoError(t, err)
		require.True(t, found, "the gemma model's StatefulSet")
		gpus := sts.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceName("nvidia.com/gpu")]
		assert.Equal(t, resource.MustParse("2"), gpus)
		assert.Equal(t, int32(2), *sts.Spec.Replicas)
		assert.Equal(t, "true", sts.Spec.Template.Spec.NodeSelector["nvidia.com/gpu.present"])

		// The API keys live in a Secret, never in plain objects.
		assertOnlyInSecrets(t, c, objs, "sk-e2e-first", "sk-e2e-second")
		assertPodSecurity(t, c, "llm-gpu")

		// Changing one model's settings. vLLM's arguments are in the pod template, which a
		// StatefulSet takes in place (its controller rolls the pods): nothing is replaced.
		// Its cache size is in the volume claim template, which Kubernetes never changes on
		// a StatefulSet: that one object is replaced, and nothing else.
		stsKey := "apps/v1/StatefulSet/llm-gpu/qwen3-8b"
		uids := liveUIDs(t, c, objs)
		changes := upWith(t, s, "llm-platform:models[0].maxModelLen", "8192")
		assert.Zero(t, changes["replace"], "new vLLM arguments replace nothing: %v", changes)
		assert.Positive(t, changes["update"], "the StatefulSet is updated: %v", changes)
		assert.Equal(t, uids, liveUIDs(t, c, objs), "every object keeps its identity")
		assert.Contains(t, modelArgs(t, c, "llm-gpu", "qwen3-8b"), "8192", "the new --max-model-len reached the StatefulSet")
		// The adapter and the drain as the API server stores them: vLLM's LoRA flags, the
		// preStop sleep and a grace period of drainSeconds + 15.
		var drained appsv1.StatefulSet
		_, err = c.Get(ctx, "/apis/apps/v1/namespaces/llm-gpu/statefulsets/qwen3-8b", &drained)
		require.NoError(t, err)
		pod := drained.Spec.Template.Spec
		assert.Subset(t, pod.Containers[0].Args, []string{"--enable-lora", "--lora-modules", "--max-lora-rank", "64", "--shutdown-timeout", "565"})
		assert.Equal(t, []string{"sleep", "35"}, pod.Containers[0].Lifecycle.PreStop.Exec.Command)
		assert.Equal(t, int64(615), *pod.TerminationGracePeriodSeconds)

		changes = upWith(t, s, "llm-platform:models[0].pvcSize", "120Gi")
		assert.Equal(t, 1, changes["replace"], "only the StatefulSet whose claim template changed is replaced: %v", changes)
		for key, uid := range liveUIDs(t, c, objs) {
			if key == stsKey {
				assert.NotEqual(t, uids[key], uid, "%s is replaced (its claim template is immutable)", key)
			} else {
				assert.Equal(t, uids[key], uid, "%s was replaced, but only the claim size of another object changed", key)
			}
		}
		var live appsv1.StatefulSet
		_, err = c.Get(ctx, "/apis/apps/v1/namespaces/llm-gpu/statefulsets/qwen3-8b", &live)
		require.NoError(t, err)
		require.Len(t, live.Spec.VolumeClaimTemplates, 1)
		assert.Equal(t, resource.MustParse("120Gi"), live.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage])
		objs = declared(t, s)
		checkLive(t, c, objs)

		// Removing a model deletes its objects and nothing else: every other
		// object keeps its identity (a replaced object, deleted and created
		// again under the same name, has a new UID: its pods restart at once).
		before := objs
		uids = liveUIDs(t, c, before)
		require.NoError(t, s.Stack.RemoveConfigWithOptions(ctx, "llm-platform:models[1]", &auto.ConfigOptions{Path: true}))
		res, err := s.Up(ctx)
		require.NoError(t, err)
		after := declared(t, s)
		var gone []string
		for key, o := range before {
			if _, ok := after[key]; ok {
				continue
			}
			gone = append(gone, key)
			assert.Equal(t, "gemma-3-27b-it", o.labels()["app.kubernetes.io/instance"], "%s was deleted but does not belong to the removed model", key)
			found, err := c.Get(ctx, o.path(t, c), &map[string]any{})
			require.NoError(t, err)
			assert.False(t, found, "%s is still in the API server", key)
		}
		assert.NotEmpty(t, gone, "the removed model's objects leave the state")
		assert.Contains(t, gone, "apps/v1/StatefulSet/llm-gpu/gemma-3-27b-it")
		for key := range after {
			assert.Contains(t, before, key, "removing a model added %s", key)
		}
		changes = *res.Summary.ResourceChanges
		assert.GreaterOrEqual(t, changes["delete"], len(gone), "deleted resources (the objects and the model's component)")
		for key, uid := range liveUIDs(t, c, after) {
			assert.Equal(t, uids[key], uid, "%s was deleted and created again (replaced) when a model was removed", key)
		}
		for op := range changes {
			assert.Contains(t, []string{"same", "update", "delete"}, op, "removing a model must only delete and update: %v", changes)
		}
		checkLive(t, c, after)

		destroyAndCheck(t, c, s, "llm-gpu")
	})

	t.Run("argocd", func(t *testing.T) {
		// Argo CD's Applications are declared after its Helm release. The
		// chart cannot run here (no pods, no chart repository), so a test
		// transform installs an empty local chart of the same name and
		// version instead: the Release goes through Helm against this API
		// server, and the Applications meet Argo CD's real CRD.
		s := openWith(t, c, root, state, "argocd", filepath.Join(root, "Pulumi.dev.yaml"), "llm-argocd", map[string]string{
			"platform.argocd.enabled":                "true",
			"platform.argocd.apps[0].name":           "demo",
			"platform.argocd.apps[0].repoURL":        "https://github.com/argoproj/argocd-example-apps",
			"platform.argocd.apps[0].path":           "guestbook",
			"platform.argocd.apps[0].targetRevision": "HEAD",
		}, nil, emptyCharts(t.TempDir()))
		objs := upAndCheck(t, c, s)
		var app map[string]any
		found, err := c.Get(ctx, "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/demo", &app)
		require.NoError(t, err)
		require.True(t, found, "the Application is in the API server")
		assertKinds(t, objs, "Application")
		spec, _ := app["spec"].(map[string]any)
		source, _ := spec["source"].(map[string]any)
		assert.Equal(t, "guestbook", source["path"])
		destroyAndCheck(t, c, s, "llm-argocd")
		found, err = c.Get(ctx, "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/demo", &app)
		require.NoError(t, err)
		assert.False(t, found, "destroy deletes the Application")
	})

	// KEDA owns a scaled model's replica count: after it scaled the StatefulSet (here through
	// the /scale subresource, as the HPA it drives does), an `up` that changes the model's pod
	// template does not set the count back, and the next preview shows no diff.
	t.Run("autoscaling", func(t *testing.T) {
		ns := "llm-autoscale"
		s := openWith(t, c, root, state, "autoscale", filepath.Join(root, "Pulumi.dev.yaml"), ns, map[string]string{
			"models[0].autoscaling.enabled":     "true",
			"models[0].autoscaling.minReplicas": "0",
			"models[0].autoscaling.maxReplicas": "2",
			"platform.keda.prometheusURL":       "http://prometheus.monitoring.svc.cluster.local:9090",
		}, nil, emptyCharts(t.TempDir()))
		objs := upAndCheck(t, c, s)
		assertKinds(t, objs, "ScaledObject")
		stsPath := "/apis/apps/v1/namespaces/" + ns + "/statefulsets/qwen3-0-6b"
		replicas := func() int32 {
			var sts appsv1.StatefulSet
			found, err := c.Get(ctx, stsPath, &sts)
			require.NoError(t, err)
			require.True(t, found)
			return *sts.Spec.Replicas
		}
		assert.Equal(t, int32(0), replicas(), "a model that scales to zero starts at zero")

		code, body, err := c.Patch(ctx, stsPath+"/scale", []byte(`{"spec":{"replicas":2}}`))
		require.NoError(t, err)
		require.Equal(t, 200, code, "%s", body)
		changes := upWith(t, s, "llm-platform:models[0].maxModelLen", "2048")
		assert.Positive(t, changes["update"], "the StatefulSet's template changed: %v", changes)
		assert.Contains(t, modelArgs(t, c, ns, "qwen3-0-6b"), "2048")
		assert.Equal(t, int32(2), replicas(), "an update of the model leaves KEDA's count alone")
		_, err = s.PreviewNoChanges(ctx)
		require.NoError(t, err, "after KEDA scaled and an up, a preview shows no diff")
		destroyAndCheck(t, c, s, ns)
	})

	// A pod spec that breaks the namespace's Pod Security level: the Deployment is accepted
	// (admission judges pods), and its ReplicaSet cannot create a single pod, with Pod
	// Security admission's reason. (The API server also sends a warning on the Deployment;
	// the provider does not print it, so the test cannot read it in the output.)
	t.Run("webui-team", func(t *testing.T) { webUITeam(t, c, root, state) })

	t.Run("broken-pod-security", func(t *testing.T) {
		ns := "llm-hostnetwork"
		s := open(t, c, root, state, "hostnetwork", filepath.Join(root, "Pulumi.dev.yaml"), ns, nil, hostNetworkGateway())
		_, err := s.Up(ctx)
		require.NoError(t, err, "Pod Security judges pods, not Deployments")
		require.Eventually(t, func() bool {
			return replicaFailure(t, c, ns, "gateway") != ""
		}, time.Minute, 250*time.Millisecond, "the gateway's ReplicaSet reports its refused pods")
		assert.Contains(t, replicaFailure(t, c, ns, "gateway"), `violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`)
		assert.Empty(t, pods(t, c, ns, "gateway"), "no gateway pod was admitted")
		destroyAndCheck(t, c, s, ns)
	})

	// A bad route must be refused by the API server, and `up` must fail
	// with the server's own words: a field of the wrong type (server-side
	// apply's typed patch against the CRD's schema) and a value the CRD's CEL
	// rule forbids (Istio refuses "0s", which does not mean "no timeout").
	for _, tc := range []struct {
		name    string
		timeout pulumi.Input
		message string
	}{
		{"wrong-type", pulumi.Float64(30), ".spec.http[0].timeout: expected string, got"},
		{"zero-timeout", pulumi.String("0s"), "must be a valid duration greater than 1ms"},
	} {
		t.Run("broken-"+tc.name, func(t *testing.T) {
			ns := "llm-" + tc.name
			s := open(t, c, root, state, tc.name, filepath.Join(root, "Pulumi.dev.yaml"), ns, nil, breakRoute(tc.timeout))
			_, err := s.Up(ctx)
			require.Error(t, err, "a VirtualService whose route timeout is %v must be refused", tc.timeout)
			assert.Contains(t, err.Error(), tc.message)
			assert.Contains(t, err.Error(), "VirtualService")
			destroyAndCheck(t, c, s, ns)
		})
	}
}

// open prepares a stack against the test cluster. Istio is "preinstalled" (its
// CRDs are in the API server; the program installs no Helm release, which would
// need the charts' repositories and running pods), Argo CD is off for the same
// reason, and each stack has a namespace of its own.
func open(t *testing.T, c *testcluster.Cluster, root, state, stack, file, namespace string, secrets map[string]string, extra pulumi.ResourceTransform) *render.Session {
	t.Helper()
	return openWith(t, c, root, state, stack, file, namespace, nil, secrets, extra)
}

// openWith is open with more config values by path.
func openWith(t *testing.T, c *testcluster.Cluster, root, state, stack, file, namespace string, config, secrets map[string]string, extra pulumi.ResourceTransform) *render.Session {
	t.Helper()
	cfg := map[string]string{
		"namespace":                   namespace,
		"platform.istio.enabled":      "false",
		"platform.istio.preinstalled": "true",
		"platform.argocd.enabled":     "false",
	}
	maps.Copy(cfg, config)
	s, err := render.OpenCluster(context.Background(), render.ClusterOptions{
		Options: render.Options{
			Root: root, Stack: stack, StackFile: file, StateDir: state,
			Program: program(t, extra), Log: logWriter{t},
		},
		Kubeconfig: c.Kubeconfig,
		Config:     cfg,
		Secrets:    secrets,
	})
	require.NoError(t, err)
	return s
}

// program is the real program with the test's stack transforms: skipAwait on
// every Kubernetes object, then the test's own (if any).
func program(t *testing.T, extra pulumi.ResourceTransform) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		if err := ctx.RegisterStackTransform(func(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
			if !args.Custom || !strings.HasPrefix(args.Type, "kubernetes:") || strings.HasPrefix(args.Type, helmTypePrefix) {
				return nil
			}
			meta, ok := args.Props["metadata"].(pulumi.Map)
			if !ok {
				t.Errorf("%s %s: metadata is %T, cannot add %s", args.Type, args.Name, args.Props["metadata"], skipAwaitAnnotation)
				return nil
			}
			annotations := pulumi.Map{}
			if old, ok := meta["annotations"].(pulumi.Map); ok {
				maps.Copy(annotations, old)
			}
			key, value := noAwait(args.Type)
			annotations[key] = pulumi.String(value)
			meta = maps.Clone(meta)
			meta["annotations"] = annotations
			props := maps.Clone(args.Props)
			props["metadata"] = meta
			return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
		}); err != nil {
			return err
		}
		if extra != nil {
			if err := ctx.RegisterStackTransform(extra); err != nil {
				return err
			}
		}
		return stacks.Run(ctx)
	}
}

// breakRoute sets the first HTTP route's timeout of every VirtualService.
func breakRoute(timeout pulumi.Input) pulumi.ResourceTransform {
	return func(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		if args.Type != "kubernetes:networking.istio.io/v1:VirtualService" {
			return nil
		}
		spec, _ := args.Props["spec"].(pulumi.Map)
		routes, _ := spec["http"].(pulumi.Array)
		if len(routes) == 0 {
			return nil
		}
		route, _ := routes[0].(pulumi.Map)
		route = maps.Clone(route)
		route["timeout"] = timeout
		routes = slices.Clone(routes)
		routes[0] = route
		spec = maps.Clone(spec)
		spec["http"] = routes
		props := maps.Clone(args.Props)
		props["spec"] = spec
		return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
	}
}

// emptyCharts points every Helm release at an empty local chart with the
// same name and version (written under dir), and turns off Helm's wait.
func emptyCharts(dir string) pulumi.ResourceTransform {
	return func(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		if args.Type != "kubernetes:helm.sh/v3:Release" {
			return nil
		}
		name, _ := args.Props["chart"].(pulumi.String)
		version, _ := args.Props["version"].(pulumi.String)
		chart := filepath.Join(dir, string(name)+"-"+string(version))
		if err := os.MkdirAll(chart, 0o755); err != nil {
			panic(err)
		}
		meta := fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\ntype: application\n", name, version)
		if err := os.WriteFile(filepath.Join(chart, "Chart.yaml"), []byte(meta), 0o644); err != nil {
			panic(err)
		}
		props := maps.Clone(args.Props)
		props["chart"] = pulumi.String(chart)
		delete(props, "repositoryOpts")
		props["skipAwait"] = pulumi.Bool(true)
		return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
	}
}

// upWith sets one config value (by path) and runs up; it returns the change counts.
func upWith(t *testing.T, s *render.Session, key, value string) map[string]int {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.Stack.SetConfigWithOptions(ctx, key, auto.ConfigValue{Value: value}, &auto.ConfigOptions{Path: true}))
	res, err := s.Up(ctx)
	require.NoError(t, err, "up with %s=%s", key, value)
	return *res.Summary.ResourceChanges
}

// modelArgs are a model StatefulSet's vLLM arguments as the API server holds them.
func modelArgs(t *testing.T, c *testcluster.Cluster, namespace, name string) []string {
	t.Helper()
	var sts appsv1.StatefulSet
	found, err := c.Get(context.Background(), "/apis/apps/v1/namespaces/"+namespace+"/statefulsets/"+name, &sts)
	require.NoError(t, err)
	require.True(t, found, name)
	return sts.Spec.Template.Spec.Containers[0].Args
}

// upAndCheck runs up, checks every declared object in the API server, then
// runs up again and expects no change.
func upAndCheck(t *testing.T, c *testcluster.Cluster, s *render.Session) map[string]object {
	t.Helper()
	ctx := context.Background()
	_, err := s.Up(ctx)
	require.NoError(t, err, "up against the API server")
	objs := declared(t, s)
	require.NotEmpty(t, objs)
	checkLive(t, c, objs)
	t.Logf("%d declared objects read back from the API server", len(objs))

	res, err := s.Up(ctx)
	require.NoError(t, err, "second up")
	for op, n := range *res.Summary.ResourceChanges {
		assert.Equal(t, string(apitype.OpSame), op, "the second up would %s %d resources", op, n)
	}
	return objs
}

// destroyAndCheck destroys the stack and waits until the namespace and
// everything in it are gone (the controller manager finalizes it).
func destroyAndCheck(t *testing.T, c *testcluster.Cluster, s *render.Session, namespace string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.Destroy(ctx))
	n, err := s.ResourceCount(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "destroy leaves the state empty")
	require.Eventually(t, func() bool {
		found, err := c.Get(ctx, "/api/v1/namespaces/"+namespace, &corev1.Namespace{})
		return err == nil && !found
	}, 3*time.Minute, 250*time.Millisecond, "namespace %s is deleted", namespace)
	// Nothing of ours is left anywhere (cluster-scoped or in other namespaces).
	for _, path := range []string{
		"/apis/networking.istio.io/v1/virtualservices",
		"/apis/networking.istio.io/v1/gateways",
		"/apis/security.istio.io/v1/peerauthentications",
		"/apis/apps/v1/statefulsets",
		"/apis/apps/v1/deployments",
		"/api/v1/services",
		"/api/v1/secrets",
		"/api/v1/configmaps",
	} {
		var list struct {
			Items []metav1.PartialObjectMetadata `json:"items"`
		}
		_, err := c.Get(ctx, path+"?labelSelector=app.kubernetes.io/part-of%3Dllm-platform", &list)
		require.NoError(t, err)
		for _, o := range list.Items {
			assert.NotEqual(t, namespace, o.Namespace, "%s %s/%s survives destroy", path, o.Namespace, o.Name)
		}
	}
}

// object is one Kubernetes object in the stack's state: what the program set.
type object struct {
	Type   string
	Inputs map[string]any
}

func (o object) str(keys ...string) string {
	var v any = o.Inputs
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

func (o object) labels() map[string]string {
	meta, _ := o.Inputs["metadata"].(map[string]any)
	raw, _ := meta["labels"].(map[string]any)
	out := map[string]string{}
	for k, v := range raw {
		out[k], _ = v.(string)
	}
	return out
}

func (o object) key() string {
	return strings.Join([]string{o.str("apiVersion"), o.str("kind"), o.str("metadata", "namespace"), o.str("metadata", "name")}, "/")
}

func (o object) path(t *testing.T, c *testcluster.Cluster) string {
	t.Helper()
	p, err := c.ObjectPath(context.Background(), o.str("apiVersion"), o.str("kind"), o.str("metadata", "namespace"), o.str("metadata", "name"))
	require.NoError(t, err, o.key())
	return p
}

// liveUIDs reads each object's UID from the API server.
func liveUIDs(t *testing.T, c *testcluster.Cluster, objs map[string]object) map[string]string {
	t.Helper()
	out := map[string]string{}
	for key, o := range objs {
		var meta metav1.PartialObjectMetadata
		found, err := c.Get(context.Background(), o.path(t, c), &meta)
		require.NoError(t, err)
		require.True(t, found, key)
		out[key] = string(meta.UID)
	}
	return out
}

// declared lists the Kubernetes objects in the stack's state, by
// apiVersion/kind/namespace/name.
func declared(t *testing.T, s *render.Session) map[string]object {
	t.Helper()
	dep, err := s.Stack.Export(context.Background())
	require.NoError(t, err)
	var st struct {
		Resources []struct {
			Type   string         `json:"type"`
			Custom bool           `json:"custom"`
			Inputs map[string]any `json:"inputs"`
		} `json:"resources"`
	}
	require.NoError(t, json.Unmarshal(dep.Deployment, &st))
	out := map[string]object{}
	for _, r := range st.Resources {
		if !r.Custom || !strings.HasPrefix(r.Type, "kubernetes:") || strings.HasPrefix(r.Type, helmTypePrefix) {
			continue
		}
		o := object{Type: r.Type, Inputs: r.Inputs}
		require.NotEmpty(t, o.str("metadata", "name"), "%s has no name in its inputs", r.Type)
		out[o.key()] = o
	}
	return out
}

// checkLive reads every declared object from the API server and checks that
// each field the program set is there with the value it set (the server adds
// defaults and status; it must not drop or change what we declared).
func checkLive(t *testing.T, c *testcluster.Cluster, objs map[string]object) {
	t.Helper()
	ctx := context.Background()
	for _, key := range slices.Sorted(maps.Keys(objs)) {
		o := objs[key]
		var live map[string]any
		found, err := c.Get(ctx, o.path(t, c), &live)
		require.NoError(t, err, key)
		if !assert.True(t, found, "%s is declared but not in the API server", key) {
			continue
		}
		want := maps.Clone(o.Inputs)
		if o.str("kind") == "Secret" {
			// stringData is write-only: the server folds it into data.
			if sd, ok := want["stringData"].(map[string]any); ok && !isSecret(sd) {
				data, _ := live["data"].(map[string]any)
				for k := range sd {
					assert.Contains(t, data, k, "%s: data", key)
				}
			}
			delete(want, "stringData")
		}
		name, value := noAwait(o.Type)
		assert.Equal(t, value, annotation(live, name), "%s: the test's transform reached the object", key)
		assert.True(t, appliedServerSide(live), "%s: the provider applies with server-side apply", key)
		for _, diff := range subset("", want, live) {
			t.Errorf("%s: %s", key, diff)
		}
	}
}

// appliedServerSide: some field manager owns fields through server-side
// apply (operation Apply), as the provider does by default.
func appliedServerSide(obj map[string]any) bool {
	meta, _ := obj["metadata"].(map[string]any)
	fields, _ := meta["managedFields"].([]any)
	for _, f := range fields {
		if m, _ := f.(map[string]any); m["operation"] == "Apply" {
			return true
		}
	}
	return false
}

func annotation(obj map[string]any, name string) string {
	meta, _ := obj["metadata"].(map[string]any)
	a, _ := meta["annotations"].(map[string]any)
	s, _ := a[name].(string)
	return s
}

// isSecret reports a Pulumi secret as the state stores it (encrypted).
func isSecret(v any) bool {
	m, ok := v.(map[string]any)
	return ok && m["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"
}

// subset lists where got lacks or differs from a field set in want.
// Quantities compare by value ("1.5Gi" is stored as "1536Mi"); an empty value
// the server omits counts as present; secrets are not comparable here.
func subset(path string, want, got any) []string {
	if want == nil || isSecret(want) {
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			if got == nil && len(w) == 0 {
				return nil
			}
			return []string{fmt.Sprintf("%s: want an object, the server has %v", path, got)}
		}
		var out []string
		keys := slices.Sorted(maps.Keys(w))
		for _, k := range keys {
			if strings.HasPrefix(k, "__") { // the engine's bookkeeping
				continue
			}
			out = append(out, subset(path+"."+k, w[k], g[k])...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			if got == nil && len(w) == 0 {
				return nil
			}
			return []string{fmt.Sprintf("%s: want a list, the server has %v", path, got)}
		}
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %d items, the server has %d", path, len(w), len(g))}
		}
		var out []string
		for i := range w {
			out = append(out, subset(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	}
	if got == nil && reflect.ValueOf(want).IsZero() {
		return nil // "" / false / 0, omitted by the server's encoding
	}
	if reflect.DeepEqual(want, got) {
		return nil
	}
	if ws, ok := want.(string); ok {
		if gs, ok := got.(string); ok {
			wq, err1 := resource.ParseQuantity(ws)
			gq, err2 := resource.ParseQuantity(gs)
			if err1 == nil && err2 == nil && wq.Cmp(gq) == 0 {
				return nil
			}
		}
	}
	return []string{fmt.Sprintf("%s: the program set %#v, the server has %#v", path, want, got)}
}

func assertKinds(t *testing.T, objs map[string]object, kinds ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, o := range objs {
		have[o.str("kind")] = true
	}
	for _, k := range kinds {
		assert.True(t, have[k], "the stack declares a %s", k)
	}
}

// assertVirtualService decodes the edge's VirtualService as the API server
// stores it into the program's own type.
func assertVirtualService(t *testing.T, c *testcluster.Cluster, namespace string, tls bool) {
	t.Helper()
	path, err := c.ObjectPath(context.Background(), "networking.istio.io/v1", "VirtualService", namespace, "")
	require.NoError(t, err)
	var list struct {
		Items []pulumimock.CustomResource[edge.VirtualServiceSpec] `json:"items"`
	}
	found, err := c.Get(context.Background(), path, &list)
	require.NoError(t, err)
	require.True(t, found)
	require.Len(t, list.Items, 1)
	vs := list.Items[0].Spec
	require.NotEmpty(t, vs.HTTP)
	assert.Equal(t, "api", vs.HTTP[0].Name)
	var gw struct {
		Items []map[string]any `json:"items"`
	}
	gpath, err := c.ObjectPath(context.Background(), "networking.istio.io/v1", "Gateway", namespace, "")
	require.NoError(t, err)
	_, err = c.Get(context.Background(), gpath, &gw)
	require.NoError(t, err)
	require.Len(t, gw.Items, 1)
	spec, err := json.Marshal(gw.Items[0]["spec"])
	require.NoError(t, err)
	assert.Equal(t, tls, strings.Contains(string(spec), `"credentialName":"llm-tls"`), "the Gateway's TLS credential: %s", spec)
}

// assertOnlyInSecrets: secret values appear in no object but Secrets, as
// the API server stores them (where a leak would be visible to anyone who can
// read ConfigMaps or pod specs), and in some Secret.
func assertOnlyInSecrets(t *testing.T, c *testcluster.Cluster, objs map[string]object, values ...string) {
	t.Helper()
	inSecrets := ""
	for _, key := range slices.Sorted(maps.Keys(objs)) {
		o := objs[key]
		var live map[string]any
		_, err := c.Get(context.Background(), o.path(t, c), &live)
		require.NoError(t, err)
		b, err := json.Marshal(live)
		require.NoError(t, err)
		if o.str("kind") == "Secret" {
			data, _ := live["data"].(map[string]any)
			for _, v := range data {
				s, _ := v.(string)
				plain, _ := base64.StdEncoding.DecodeString(s)
				inSecrets += string(plain) + "\n"
			}
			continue
		}
		for _, v := range values {
			assert.NotContains(t, string(b), v, "%s holds a secret value", key)
		}
	}
	for _, v := range values {
		assert.Contains(t, inSecrets, v, "a Secret holds the value")
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
