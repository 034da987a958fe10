package testcluster_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/version"

	"github.com/llm-platform/llm-platform/internal/testcluster"
)

// TestCluster starts the control plane, installs the platform's CRDs and
// checks what a client sees: the pinned version, the admin's rights, the
// controllers at work, the CRDs served.
func TestCluster(t *testing.T) {
	c := testcluster.Start(t)
	ctx := context.Background()

	var v version.Info
	found, err := c.Get(ctx, "/version", &v)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "v1.37.2", v.GitVersion, "scripts/build-tools.sh stamps the version")
	assert.Equal(t, "37", v.Minor)

	kubeconfig, err := os.ReadFile(c.Kubeconfig)
	require.NoError(t, err)
	assert.Contains(t, string(kubeconfig), "server: "+c.URL)

	// The admin is in system:masters: RBAC lets it create anything.
	status, body, err := c.Do(ctx, http.MethodPost, "/api/v1/namespaces",
		[]byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"probe"}}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status, string(body))

	names, err := installPlatformCRDs(t, c)
	require.NoError(t, err)
	assert.Contains(t, names, "virtualservices.networking.istio.io")
	assert.Contains(t, names, "peerauthentications.security.istio.io")
	assert.Contains(t, names, "applications.argoproj.io")
	assert.Contains(t, names, "scaledobjects.keda.sh")
	for _, crd := range []string{"podmonitors", "servicemonitors", "prometheusrules"} {
		assert.Contains(t, names, crd+".monitoring.coreos.com")
	}

	// Served: an empty list, not a 404.
	var list struct {
		Kind  string `json:"kind"`
		Items []any  `json:"items"`
	}
	found, err = c.Get(ctx, "/apis/networking.istio.io/v1/namespaces/probe/virtualservices", &list)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "VirtualServiceList", list.Kind)
	found, err = c.Get(ctx, "/apis/argoproj.io/v1alpha1/namespaces/probe/applications", &list)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "ApplicationList", list.Kind)

	// The controller manager runs: it gives every namespace its default
	// ServiceAccount.
	require.Eventually(t, func() bool {
		var sa corev1.ServiceAccount
		found, err := c.Get(ctx, "/api/v1/namespaces/probe/serviceaccounts/default", &sa)
		return err == nil && found
	}, 2*time.Minute, 200*time.Millisecond, "kube-controller-manager creates the default ServiceAccount")
}

func installPlatformCRDs(t *testing.T, c *testcluster.Cluster) ([]string, error) {
	t.Helper()
	files, err := testcluster.PlatformCRDFiles()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if !strings.HasSuffix(f, ".yaml") {
			t.Errorf("%s: not a YAML file", f)
		}
	}
	return c.InstallCRDs(context.Background(), files...)
}

// tb records what RequireBinaries does instead of ending the test.
type tb struct {
	testing.TB
	fatal, skip string
}

func (r *tb) Helper()                      {}
func (r *tb) Fatal(args ...any)            { r.fatal = fmt.Sprint(args...) }
func (r *tb) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *tb) Skip(args ...any)             { r.skip = fmt.Sprint(args...) }

// TestRequireBinaries: a missing tool skips on a laptop and fails in CI,
// naming the script that builds it.
func TestRequireBinaries(t *testing.T) {
	t.Setenv("CI", "")
	r := &tb{TB: t}
	testcluster.RequireBinaries(r, "no-such-tool")
	assert.Empty(t, r.fatal)
	assert.Contains(t, r.skip, "bin/no-such-tool not built: run scripts/build-tools.sh")

	t.Setenv("CI", "true")
	r = &tb{TB: t}
	testcluster.RequireBinaries(r, "no-such-tool")
	assert.Empty(t, r.skip)
	assert.Contains(t, r.fatal, "bin/no-such-tool not built: run scripts/build-tools.sh")
	assert.Contains(t, r.fatal, "in CI")
}

// TestSimulatedCluster: with kube-scheduler and kwok, a pod is bound to a simulated Node that
// kwok keeps Ready, and kwok reports it Running and Ready; a pod that fits no node stays
// Pending with the scheduler's reason.
func TestSimulatedCluster(t *testing.T) {
	c := testcluster.StartWith(t, testcluster.Options{Scheduler: true, KWOK: true})
	ctx := context.Background()
	post := func(path, body string) {
		t.Helper()
		status, out, err := c.Do(ctx, http.MethodPost, path, []byte(body))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, status, "%s", out)
	}
	post("/api/v1/nodes", `{"apiVersion":"v1","kind":"Node","metadata":{"name":"sim-0",
		"annotations":{"`+testcluster.KWOKNodeAnnotation+`":"`+testcluster.KWOKNodeValue+`"}},
		"status":{"capacity":{"cpu":"2","memory":"4Gi","pods":"10"},"allocatable":{"cpu":"2","memory":"4Gi","pods":"10"}}}`)
	pod := func(name, cpu string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"none",
			"resources":{"requests":{"cpu":"` + cpu + `"}}}]}}`
	}
	// The default ServiceAccount comes from the controller manager a moment after start.
	require.Eventually(t, func() bool {
		found, err := c.Get(ctx, "/api/v1/namespaces/default/serviceaccounts/default", &corev1.ServiceAccount{})
		return err == nil && found
	}, time.Minute, 200*time.Millisecond)
	post("/api/v1/namespaces/default/pods", pod("fits", "1"))
	post("/api/v1/namespaces/default/pods", pod("too-big", "3"))

	var p corev1.Pod
	require.Eventually(t, func() bool {
		_, err := c.Get(ctx, "/api/v1/namespaces/default/pods/fits", &p)
		require.NoError(t, err)
		return p.Spec.NodeName == "sim-0" && p.Status.Phase == corev1.PodRunning && podCondition(p, corev1.PodReady) != nil &&
			podCondition(p, corev1.PodReady).Status == corev1.ConditionTrue
	}, 2*time.Minute, 200*time.Millisecond, "the pod runs on the simulated node: %+v", p.Status)

	var node corev1.Node
	_, err := c.Get(ctx, "/api/v1/nodes/sim-0", &node)
	require.NoError(t, err)
	assert.Equal(t, "2", node.Status.Allocatable.Cpu().String(), "kwok keeps the Node's allocatable")

	require.Eventually(t, func() bool {
		_, err := c.Get(ctx, "/api/v1/namespaces/default/pods/too-big", &p)
		require.NoError(t, err)
		cond := podCondition(p, corev1.PodScheduled)
		return cond != nil && cond.Status == corev1.ConditionFalse
	}, time.Minute, 200*time.Millisecond)
	assert.Contains(t, podCondition(p, corev1.PodScheduled).Message, "Insufficient cpu")
}

func podCondition(p corev1.Pod, typ corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == typ {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}
