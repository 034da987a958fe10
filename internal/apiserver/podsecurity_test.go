package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llm-platform/llm-platform/internal/render"
	"github.com/llm-platform/llm-platform/internal/testcluster"
)

const psaLabel = "pod-security.kubernetes.io/"

// assertPodSecurity checks the app namespace's Pod Security labels, that the controller
// manager's pods for every workload were admitted under them, and, with a server-side dry run
// in a namespace enforcing restricted, that the gateway's pods meet restricted while Open
// WebUI's do not (its image runs as root), in the API server's own words.
func assertPodSecurity(t *testing.T, c *testcluster.Cluster, namespace string) {
	t.Helper()
	ctx := context.Background()
	var ns corev1.Namespace
	found, err := c.Get(ctx, "/api/v1/namespaces/"+namespace, &ns)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "baseline", ns.Labels[psaLabel+"enforce"])
	assert.Equal(t, "restricted", ns.Labels[psaLabel+"audit"])

	// No kubelet runs them, but creating them is admission's judgement: a pod that broke
	// baseline would never exist, and its ReplicaSet would say why.
	for _, component := range []string{"gateway", "webui", "model"} {
		require.Eventually(t, func() bool {
			return len(pods(t, c, namespace, component)) > 0
		}, time.Minute, 250*time.Millisecond, "the controllers create %s pods and Pod Security admits them", component)
	}

	restricted := namespace + "-restricted"
	createNamespace(t, c, restricted, map[string]string{psaLabel + "enforce": "restricted", psaLabel + "enforce-version": "latest"})
	for _, tc := range []struct {
		deployment string
		refusal    string // "" = admitted
	}{
		{"llm-gateway", ""},
		{"open-webui", `violates PodSecurity "restricted:latest": unrestricted capabilities`},
	} {
		var d appsv1.Deployment
		found, err := c.Get(ctx, "/apis/apps/v1/namespaces/"+namespace+"/deployments/"+tc.deployment, &d)
		require.NoError(t, err)
		require.True(t, found, tc.deployment)
		pod := corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{GenerateName: tc.deployment + "-", Labels: d.Spec.Template.Labels},
			Spec:       d.Spec.Template.Spec,
		}
		body, err := json.Marshal(pod)
		require.NoError(t, err)
		var status int
		var out []byte
		// The namespace's default ServiceAccount, which admission looks up, comes from the
		// controller manager a moment after the namespace.
		require.Eventually(t, func() bool {
			status, out, err = c.Do(ctx, http.MethodPost, "/api/v1/namespaces/"+restricted+"/pods?dryRun=All", body)
			return err == nil && (status != http.StatusForbidden || !serviceAccountMissing(out))
		}, time.Minute, 250*time.Millisecond, "dry-run create of %s's pod: %v %s", tc.deployment, err, out)
		if tc.refusal == "" {
			assert.Equal(t, http.StatusCreated, status, "%s's pod under restricted: %s", tc.deployment, out)
		} else {
			assert.Equal(t, http.StatusForbidden, status, "%s's pod under restricted: %s", tc.deployment, out)
			var st metav1.Status
			require.NoError(t, json.Unmarshal(out, &st))
			assert.Contains(t, st.Message, tc.refusal)
			assert.Contains(t, st.Message, "runAsNonRoot != true")
		}
	}
	status, out, err := c.Do(ctx, http.MethodDelete, "/api/v1/namespaces/"+restricted, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "%s", out)
}

// serviceAccountMissing: the refusal is the ServiceAccount admission plugin's, not Pod
// Security's.
func serviceAccountMissing(body []byte) bool {
	var st metav1.Status
	return json.Unmarshal(body, &st) == nil && st.Details != nil && st.Details.Kind == "serviceaccounts"
}

func pods(t *testing.T, c *testcluster.Cluster, namespace, component string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	_, err := c.Get(context.Background(), "/api/v1/namespaces/"+namespace+"/pods?labelSelector="+
		url.QueryEscape("app.kubernetes.io/component="+component), &list)
	require.NoError(t, err)
	return list.Items
}

func createNamespace(t *testing.T, c *testcluster.Cluster, name string, labels map[string]string) {
	t.Helper()
	body, err := json.Marshal(corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
	})
	require.NoError(t, err)
	status, out, err := c.Do(context.Background(), http.MethodPost, "/api/v1/namespaces", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status, "%s", out)
}

// hostNetworkGateway puts the gateway's pods on the node's network, which Pod Security
// baseline forbids.
func hostNetworkGateway() pulumi.ResourceTransform {
	return func(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		if args.Type != "kubernetes:apps/v1:Deployment" || args.Name != "gateway" {
			return nil
		}
		props, ok := render.EditMap(args.Props, render.PodSpecPath, func(pod pulumi.Map) {
			pod["hostNetwork"] = pulumi.Bool(true)
		})
		if !ok {
			panic(fmt.Sprintf("the gateway Deployment's props have no spec.template.spec: %#v", args.Props))
		}
		return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
	}
}

// replicaFailure is the ReplicaSet controller's message for pods it could not create.
func replicaFailure(t *testing.T, c *testcluster.Cluster, namespace, component string) string {
	t.Helper()
	var list appsv1.ReplicaSetList
	_, err := c.Get(context.Background(), "/apis/apps/v1/namespaces/"+namespace+"/replicasets?labelSelector="+
		url.QueryEscape("app.kubernetes.io/component="+component), &list)
	require.NoError(t, err)
	for _, rs := range list.Items {
		for _, cond := range rs.Status.Conditions {
			if cond.Type == appsv1.ReplicaSetReplicaFailure {
				return cond.Message
			}
		}
	}
	return ""
}
