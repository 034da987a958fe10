package apiserver_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/llm-platform/llm-platform/internal/testcluster"
)

// webUITeam applies Open WebUI for a team (the in-cluster PostgreSQL with its backup CronJob,
// two replicas, their Redis, OIDC) through the real engine and provider: the API server
// validates every new object, admission lets their pods in at the namespace's Pod Security
// level, a second up changes nothing (the generated passwords stay), the passwords and the OIDC
// client secret live only in Secrets, and destroy removes it all.
func webUITeam(t *testing.T, c *testcluster.Cluster, root, state string) {
	ctx := context.Background()
	ns := "llm-team"
	s := openWith(t, c, root, state, "team", filepath.Join(root, "Pulumi.dev.yaml"), ns, map[string]string{
		"webui.database.kind":  "in-cluster",
		"webui.storageClass":   "shared-rwx",
		"edge.hosts[0]":        "chat.example.com",
		"webui.oidc.issuerUrl": "https://accounts.google.com",
		"webui.oidc.clientId":  "e2e.apps.googleusercontent.com",
	}, map[string]string{"webuiOidcClientSecret": "e2e-oidc-client-secret"}, nil)
	objs := upAndCheck(t, c, s)
	assertKinds(t, objs, "StatefulSet", "PodDisruptionBudget", "CronJob", "NetworkPolicy", "ConfigMap", "PersistentVolumeClaim")

	var ui appsv1.StatefulSet
	found, err := c.Get(ctx, "/apis/apps/v1/namespaces/"+ns+"/statefulsets/open-webui", &ui)
	require.NoError(t, err)
	require.True(t, found, "Open WebUI runs as a StatefulSet on PostgreSQL")
	assert.Equal(t, int32(2), *ui.Spec.Replicas)
	assert.Equal(t, appsv1.OrderedReadyPodManagement, ui.Spec.PodManagementPolicy)
	var pdb policyv1.PodDisruptionBudget
	found, err = c.Get(ctx, "/apis/policy/v1/namespaces/"+ns+"/poddisruptionbudgets/open-webui", &pdb)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, 1, pdb.Spec.MaxUnavailable.IntValue())

	// The StatefulSet controller creates the pods, and Pod Security (baseline, audit restricted)
	// admits each of them: Open WebUI, its Redis, the PostgreSQL server.
	for _, component := range []string{"webui", "redis", "database"} {
		require.Eventually(t, func() bool { return len(pods(t, c, ns, component)) > 0 }, time.Minute, 250*time.Millisecond,
			"the controllers create %s pods and Pod Security admits them", component)
	}
	secrets := []string{"e2e-oidc-client-secret"}
	for _, name := range []string{"open-webui-postgres", "open-webui-postgres-admin", "open-webui-redis"} {
		secrets = append(secrets, liveSecret(t, c, ns, name, "password"))
	}
	assertOnlyInSecrets(t, c, objs, secrets...)
	destroyAndCheck(t, c, s, ns)
}

// liveSecret is a Secret's key as the API server keeps it.
func liveSecret(t *testing.T, c *testcluster.Cluster, namespace, name, key string) string {
	t.Helper()
	var s corev1.Secret
	found, err := c.Get(context.Background(), "/api/v1/namespaces/"+namespace+"/secrets/"+name, &s)
	require.NoError(t, err)
	require.True(t, found, "Secret %s", name)
	v := string(s.Data[key]) // JSON's base64, decoded
	require.NotEmpty(t, v, "Secret %s has %s", name, key)
	return v
}
