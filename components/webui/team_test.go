package webui_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/llm-platform/llm-platform/components/redis"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

const (
	statefulSet = "kubernetes:apps/v1:StatefulSet"
	secretType  = "kubernetes:core/v1:Secret"
	netpolType  = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	pdbType     = "kubernetes:policy/v1:PodDisruptionBudget"
)

func teamArgs(kind string) webui.Args {
	args := baseArgs()
	args.Config.Database.Kind = kind
	args.Config.StorageClass = "nfs-rwx"
	return args
}

func podEnv(t *testing.T, spec corev1.PodSpec) map[string]corev1.EnvVar {
	t.Helper()
	require.NotEmpty(t, spec.Containers)
	out := map[string]corev1.EnvVar{}
	for _, e := range spec.Containers[0].Env {
		out[e.Name] = e
	}
	return out
}

// assertFromSecret: the variable is read from the Secret's key, never a literal.
func assertFromSecret(t *testing.T, env map[string]corev1.EnvVar, name, secret, key string) {
	t.Helper()
	e, ok := env[name]
	require.True(t, ok, "%s is set", name)
	assert.Empty(t, e.Value, "%s is never a literal", name)
	require.NotNil(t, e.ValueFrom, name)
	require.NotNil(t, e.ValueFrom.SecretKeyRef, name)
	assert.Equal(t, secret, e.ValueFrom.SecretKeyRef.Name, name)
	assert.Equal(t, key, e.ValueFrom.SecretKeyRef.Key, name)
}

func storedSecret(t *testing.T, m *pulumimock.Mocks, name, key string) string {
	t.Helper()
	s := pulumimock.Decode[corev1.Secret](t, m, secretType, name)
	v := s.StringData[key]
	require.NotEmpty(t, v, "Secret %s holds %s", name, key)
	return v
}

// TestInClusterTeam: the default team setup on the in-cluster PostgreSQL. Two replicas that start
// and update one at a time, a budget that keeps one serving, a shared ReadWriteMany data claim,
// Redis between them, every URL and password only in Secrets.
func TestInClusterTeam(t *testing.T) {
	m, _ := deploy(t, teamArgs(webui.DatabaseInCluster))
	assert.Empty(t, m.ByType("kubernetes:apps/v1:Deployment"), "PostgreSQL runs Open WebUI as a StatefulSet")
	sts := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "webui")
	assert.Equal(t, int32(2), *sts.Spec.Replicas, "two replicas by default with PostgreSQL")
	assert.Equal(t, appsv1.OrderedReadyPodManagement, sts.Spec.PodManagementPolicy, "one pod at a time runs the migrations")
	assert.Equal(t, appsv1.RollingUpdateStatefulSetStrategyType, sts.Spec.UpdateStrategy.Type)
	r := m.Find(t, statefulSet, "webui")
	assert.Equal(t, "30m", r.CreateTimeout, "two starts one after another, 10 minutes each, plus scheduling")
	assert.Equal(t, "30m", r.UpdateTimeout)

	pdb := pulumimock.Decode[policyv1.PodDisruptionBudget](t, m, pdbType, "webui")
	assert.Equal(t, 1, pdb.Spec.MaxUnavailable.IntValue())
	assert.Equal(t, webui.Selector("open-webui"), pdb.Spec.Selector.MatchLabels)

	claim := pulumimock.Decode[corev1.PersistentVolumeClaim](t, m, "kubernetes:core/v1:PersistentVolumeClaim", "webui")
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, claim.Spec.AccessModes, "uploads are shared")
	assert.Equal(t, "nfs-rwx", *claim.Spec.StorageClassName)

	env := podEnv(t, sts.Spec.Template.Spec)
	assertFromSecret(t, env, "DATABASE_URL", "open-webui-credentials", "database-url")
	assertFromSecret(t, env, "PGVECTOR_DB_URL", "open-webui-credentials", "database-url")
	assertFromSecret(t, env, "WEBSOCKET_REDIS_URL", "open-webui-credentials", "redis-url")
	assertFromSecret(t, env, "REDIS_URL", "open-webui-credentials", "redis-url")
	assertFromSecret(t, env, "WEBUI_SECRET_KEY", "open-webui", "webui-secret-key")
	for name, want := range map[string]string{
		"VECTOR_DB": "pgvector", "WEBSOCKET_MANAGER": "redis", "ENABLE_WEBSOCKET_SUPPORT": "True",
		"REDIS_KEY_PREFIX": "open-webui", "ENABLE_PERSISTENT_CONFIG": "False",
	} {
		assert.Equal(t, want, env[name].Value, name)
	}
	assert.NotContains(t, env, "PGSSLMODE", "the in-cluster server speaks plain PostgreSQL inside the namespace")

	rolePassword := storedSecret(t, m, "webui-postgres", "password")
	adminPassword := storedSecret(t, m, "webui-postgres-admin", "password")
	redisPassword := storedSecret(t, m, "webui-redis", redis.PasswordKey)
	url := storedSecret(t, m, "webui-credentials", "database-url")
	assert.Equal(t, "postgresql://openwebui:"+rolePassword+"@open-webui-postgres.llm.svc.cluster.local:5432/openwebui", url)
	assert.Equal(t, "redis://:"+redisPassword+"@open-webui-redis.llm.svc.cluster.local:6379/0", storedSecret(t, m, "webui-credentials", "redis-url"))
	assert.Equal(t, []string{"stringData"}, pulumimock.SecretPaths(m.Find(t, secretType, "webui-credentials").Inputs))
	pulumimock.AssertOnlyInSecrets(t, m, rolePassword, adminPassword, redisPassword)
}

// TestInClusterPostgresIsFenced: the server runs outside the mesh as the image's user, its
// NetworkPolicy admits Open WebUI and the backup Job only, and the init files are the ones
// PostgresInitFiles renders.
func TestInClusterPostgresIsFenced(t *testing.T) {
	m, _ := deploy(t, teamArgs(webui.DatabaseInCluster))
	pg := pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "webui-postgres")
	assert.Equal(t, "false", pg.Spec.Template.Labels[webui.NoSidecarLabel])
	assert.Equal(t, int64(999), *pg.Spec.Template.Spec.SecurityContext.RunAsUser)
	env := podEnv(t, pg.Spec.Template.Spec)
	assertFromSecret(t, env, "POSTGRES_PASSWORD", "open-webui-postgres-admin", "password")
	assertFromSecret(t, env, "OPENWEBUI_PASSWORD", "open-webui-postgres", "password")
	assert.Equal(t, "pgvector/pgvector:0.8.6-pg17-bookworm", pg.Spec.Template.Spec.Containers[0].Image)

	policy := pulumimock.Decode[networkingv1.NetworkPolicy](t, m, netpolType, "webui-postgres")
	assert.Equal(t, webui.PostgresSelector("open-webui"), policy.Spec.PodSelector.MatchLabels)
	require.Len(t, policy.Spec.Ingress, 1)
	var from []map[string]string
	for _, p := range policy.Spec.Ingress[0].From {
		from = append(from, p.PodSelector.MatchLabels)
	}
	assert.ElementsMatch(t, []map[string]string{webui.Selector("open-webui"), webui.BackupSelector("open-webui")}, from)
	require.Len(t, policy.Spec.Ingress[0].Ports, 1)
	assert.Equal(t, 5432, policy.Spec.Ingress[0].Ports[0].Port.IntValue())

	files, err := webui.PostgresInitFiles()
	require.NoError(t, err)
	init := pulumimock.Decode[corev1.ConfigMap](t, m, "kubernetes:core/v1:ConfigMap", "webui-postgres-init")
	assert.Equal(t, files, init.Data)

	cron := pulumimock.Decode[batchv1.CronJob](t, m, "kubernetes:batch/v1:CronJob", "webui-postgres-backup")
	assert.Equal(t, "17 3 * * *", cron.Spec.Schedule)
	assert.Equal(t, batchv1.ForbidConcurrent, cron.Spec.ConcurrencyPolicy)
	job := cron.Spec.JobTemplate.Spec.Template
	assert.Equal(t, "false", job.Labels[webui.NoSidecarLabel], "a sidecar would keep the Job from finishing")
	for k, v := range webui.BackupSelector("open-webui") {
		assert.Equal(t, v, job.Labels[k], "the server's policy admits the Job's pods")
	}
	jobEnv := podEnv(t, job.Spec)
	assertFromSecret(t, jobEnv, "PGPASSWORD", "open-webui-postgres", "password")
	assert.Equal(t, "7", jobEnv["KEEP"].Value)
}

// TestManagedDatabase: the cloud's instance, reached by the URL handed in (a secret); TLS
// required, nothing of the in-cluster server declared.
func TestManagedDatabase(t *testing.T) {
	args := teamArgs(webui.DatabaseManaged)
	const url = "postgresql://openwebui:s3cret-pw@10.20.0.3:5432/openwebui"
	args.DatabaseURL = pulumi.ToSecret(pulumi.String(url)).(pulumi.StringOutput)
	args.DatabaseTLS = true
	m, _ := deploy(t, args)
	assert.False(t, m.Has(statefulSet, "webui-postgres"))
	assert.Empty(t, m.ByType("kubernetes:batch/v1:CronJob"))
	env := podEnv(t, pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "webui").Spec.Template.Spec)
	assert.Equal(t, "require", env["PGSSLMODE"].Value, "no connection without TLS")
	assert.Equal(t, url, storedSecret(t, m, "webui-credentials", "database-url"))
	pulumimock.AssertOnlyInSecrets(t, m, "s3cret-pw")
}

// TestOneReplicaOnPostgreSQL: no Redis and no budget (one pod has nothing to share or keep), and
// the data claim stays ReadWriteOnce: the same claim the SQLite UI had, so switching keeps it.
func TestOneReplicaOnPostgreSQL(t *testing.T) {
	args := teamArgs(webui.DatabaseInCluster)
	one := 1
	args.Config.Replicas = &one
	args.Config.StorageClass = ""
	m, _ := deploy(t, args)
	assert.False(t, m.Has(statefulSet, "webui-redis"), "no Redis for one replica")
	assert.Empty(t, m.ByType(pdbType), "no budget for one replica")
	env := podEnv(t, pulumimock.Decode[appsv1.StatefulSet](t, m, statefulSet, "webui").Spec.Template.Spec)
	assert.NotContains(t, env, "WEBSOCKET_MANAGER")
	claim := pulumimock.Decode[corev1.PersistentVolumeClaim](t, m, "kubernetes:core/v1:PersistentVolumeClaim", "webui")
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, claim.Spec.AccessModes)
	assert.Equal(t, "open-webui-data", claim.Name)
}

// TestOwnRedisAdmitsOnlyTheUI: the Redis several replicas share is fenced to Open WebUI's pods.
func TestOwnRedisAdmitsOnlyTheUI(t *testing.T) {
	m, _ := deploy(t, teamArgs(webui.DatabaseInCluster))
	policy := pulumimock.Decode[networkingv1.NetworkPolicy](t, m, netpolType, "webui-redis")
	assert.Equal(t, redis.Selector("open-webui-redis"), policy.Spec.PodSelector.MatchLabels)
	require.Len(t, policy.Spec.Ingress, 1)
	require.Len(t, policy.Spec.Ingress[0].From, 1)
	assert.Equal(t, webui.Selector("open-webui"), policy.Spec.Ingress[0].From[0].PodSelector.MatchLabels)
}

// TestGivenRedisIsUsed: a Redis handed in (the tenants' one) replaces the component's own.
func TestGivenRedisIsUsed(t *testing.T) {
	args := teamArgs(webui.DatabaseInCluster)
	args.RedisURL = pulumi.ToSecret(pulumi.String("redis://:shared-pw@tenants-redis.llm.svc.cluster.local:6379/0")).(pulumi.StringOutput)
	m, _ := deploy(t, args)
	assert.False(t, m.Has(statefulSet, "webui-redis"))
	assert.Equal(t, "redis://:shared-pw@tenants-redis.llm.svc.cluster.local:6379/0", storedSecret(t, m, "webui-credentials", "redis-url"))
	pulumimock.AssertOnlyInSecrets(t, m, "shared-pw")
}

// TestOIDC: single sign-on's environment, the client secret from the credentials Secret.
func TestOIDC(t *testing.T) {
	args := baseArgs()
	args.Config.OIDC = webui.OIDCConfig{
		IssuerURL: "https://login.example.com/realms/corp", ClientID: "open-webui", ProviderName: "Corp SSO",
		Scopes: "openid email profile groups", AllowedDomains: []string{"example.com", "example.org"},
		RolesClaim: "groups", AdminRoles: []string{"llm-admins"}, UserRoles: []string{"llm-users", "staff"},
		LocalLogin: false,
	}
	args.OIDCClientSecret = pulumi.ToSecret(pulumi.String("oidc-client-s3cret")).(pulumi.StringOutput)
	args.PublicURL = "https://chat.example.com"
	m, _ := deploy(t, args)
	vars := env(t, m)
	for name, want := range map[string]string{
		"WEBUI_URL":                     "https://chat.example.com",
		"OPENID_PROVIDER_URL":           "https://login.example.com/realms/corp/.well-known/openid-configuration",
		"OPENID_REDIRECT_URI":           "https://chat.example.com/oauth/oidc/callback",
		"OAUTH_CLIENT_ID":               "open-webui",
		"OAUTH_PROVIDER_NAME":           "Corp SSO",
		"OAUTH_SCOPES":                  "openid email profile groups",
		"OAUTH_ALLOWED_DOMAINS":         "example.com,example.org",
		"ENABLE_OAUTH_SIGNUP":           "True",
		"OAUTH_MERGE_ACCOUNTS_BY_EMAIL": "False",
		"ENABLE_LOGIN_FORM":             "False",
		"ENABLE_OAUTH_ROLE_MANAGEMENT":  "True",
		"OAUTH_ROLES_CLAIM":             "groups",
		"OAUTH_ADMIN_ROLES":             "llm-admins",
		"OAUTH_ALLOWED_ROLES":           "llm-users,staff,llm-admins",
	} {
		assert.Equal(t, want, vars[name].Value, name)
	}
	assertFromSecret(t, vars, "OAUTH_CLIENT_SECRET", "open-webui-credentials", "oidc-client-secret")
	pulumimock.AssertOnlyInSecrets(t, m, "oidc-client-s3cret")
}

// TestBadArgsAreRefused: the component's own checks, by input path, before anything is declared.
func TestBadArgsAreRefused(t *testing.T) {
	two := 2
	cases := map[string]struct {
		edit func(*webui.Args)
		want string
	}{
		"replicas with SQLite": {func(a *webui.Args) { a.Config.Replicas = &two; a.Config.StorageClass = "nfs" }, "config.replicas: is 2"},
		"OIDC without a client secret": {func(a *webui.Args) {
			a.Config.OIDC.IssuerURL, a.Config.OIDC.ClientID, a.PublicURL = "https://accounts.google.com", "id", "https://chat.example.com"
		}, "oidcClientSecret: is not set"},
		"OIDC without a public URL": {func(a *webui.Args) {
			a.Config.OIDC.IssuerURL, a.Config.OIDC.ClientID = "https://accounts.google.com", "id"
			a.OIDCClientSecret = pulumi.String("x")
		}, "publicUrl: is required"},
		"managed without a URL":    {func(a *webui.Args) { a.Config.Database.Kind = webui.DatabaseManaged; a.Config.StorageClass = "nfs" }, "databaseUrl: is required"},
		"a URL SQLite never reads": {func(a *webui.Args) { a.DatabaseURL = pulumi.String("postgresql://u:p@h/db") }, "databaseUrl: is set"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := baseArgs()
			tc.edit(&args)
			m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
				_, err := webui.New(ctx, "webui", args)
				return err
			})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, m.Resources(), "nothing is declared")
		})
	}
}

// TestNonPostgresURLFails: a MySQL URL handed in fails the deployment, and its text (with the
// password) is not in the error.
func TestNonPostgresURLFails(t *testing.T) {
	args := teamArgs(webui.DatabaseExternal)
	args.DatabaseURL = pulumi.ToSecret(pulumi.String("mysql://root:hunter2@db:3306/webui")).(pulumi.StringOutput)
	_, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		_, err := webui.New(ctx, "webui", args)
		return err
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `databaseUrl: is a "mysql" URL, not PostgreSQL`)
	assert.False(t, strings.Contains(err.Error(), "hunter2"), "the URL's password is never repeated")
}
