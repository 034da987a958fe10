package webui_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

func deploy(t *testing.T, args webui.Args) (*pulumimock.Mocks, *webui.WebUI) {
	t.Helper()
	var w *webui.WebUI
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		w, err = webui.New(ctx, "webui", args)
		return err
	})
	require.NoError(t, err)
	return m, w
}

func baseArgs() webui.Args {
	return webui.Args{
		Name:         webui.DefaultName,
		Config:       spec.Defaults().WebUI,
		Namespace:    "llm",
		GatewayURL:   pulumi.String("http://llm-gateway.llm.svc.cluster.local/v1"),
		DefaultModel: pulumi.String("qwen3-8b"),
	}
}

func env(t *testing.T, m *pulumimock.Mocks) map[string]corev1.EnvVar {
	t.Helper()
	dep := pulumimock.Decode[appsv1.Deployment](t, m, "kubernetes:apps/v1:Deployment", "webui")
	require.Len(t, dep.Spec.Template.Spec.Containers, 1)
	out := map[string]corev1.EnvVar{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e
	}
	return out
}

// TestFirstAdminIsCreatedFromASecret: with sign-up off, Open WebUI (the pinned version)
// refuses every sign-up, the first one too; it creates WEBUI_ADMIN_EMAIL at its first start
// instead. The password reaches it only from a Secret, and is generated when not given.
func TestFirstAdminIsCreatedFromASecret(t *testing.T) {
	m, w := deploy(t, baseArgs())
	vars := env(t, m)
	assert.Equal(t, "False", vars["ENABLE_SIGNUP"].Value)
	assert.Equal(t, "admin@llm-platform.local", vars["WEBUI_ADMIN_EMAIL"].Value)
	assert.Equal(t, "Admin", vars["WEBUI_ADMIN_NAME"].Value)
	pw := vars["WEBUI_ADMIN_PASSWORD"]
	assert.Empty(t, pw.Value, "the password is never a literal")
	require.NotNil(t, pw.ValueFrom)
	require.NotNil(t, pw.ValueFrom.SecretKeyRef)
	assert.Equal(t, "open-webui-admin", pw.ValueFrom.SecretKeyRef.Name)
	assert.Equal(t, "password", pw.ValueFrom.SecretKeyRef.Key)

	secret := m.Find(t, "kubernetes:core/v1:Secret", "webui-admin")
	assert.Equal(t, []string{"stringData"}, pulumimock.SecretPaths(secret.Inputs))
	assert.Equal(t, []string{"stringData", "data"}, secret.IgnoreChanges, "the generated password is applied once")
	stored := pulumimock.Decode[corev1.Secret](t, m, "kubernetes:core/v1:Secret", "webui-admin")
	generated := stored.StringData["password"]
	assert.Len(t, generated, 64, "32 random bytes, hex")

	got, isSecret := pulumimock.Await(t, w.AdminPassword)
	assert.Equal(t, generated, got, "the output is the password the Secret holds")
	assert.True(t, isSecret)
	pulumimock.AssertOnlyInSecrets(t, m, generated)
}

func TestConfiguredAdminPasswordIsApplied(t *testing.T) {
	args := baseArgs()
	args.Config.AdminEmail = "ops@example.com"
	args.AdminPassword = pulumi.ToSecret(pulumi.String("correct horse battery staple")).(pulumi.StringOutput)
	m, w := deploy(t, args)
	assert.Equal(t, "ops@example.com", env(t, m)["WEBUI_ADMIN_EMAIL"].Value)
	secret := m.Find(t, "kubernetes:core/v1:Secret", "webui-admin")
	assert.Empty(t, secret.IgnoreChanges, "a configured password is kept in step with the config")
	got, isSecret := pulumimock.Await(t, w.AdminPassword)
	assert.Equal(t, "correct horse battery staple", got)
	assert.True(t, isSecret)
	pulumimock.AssertOnlyInSecrets(t, m, "correct horse battery staple")
}

// TestSessionKeyAndPasswordAreSeparate: rotating one never touches the other.
func TestSessionKeyAndPasswordAreSeparate(t *testing.T) {
	args := baseArgs()
	args.SecretKey = pulumi.ToSecret(pulumi.String("session-key")).(pulumi.StringOutput)
	m, _ := deploy(t, args)
	key := m.Find(t, "kubernetes:core/v1:Secret", "webui")
	admin := m.Find(t, "kubernetes:core/v1:Secret", "webui-admin")
	assert.Empty(t, key.IgnoreChanges)
	assert.NotEmpty(t, admin.IgnoreChanges)
	vars := env(t, m)
	assert.Equal(t, "open-webui", vars["WEBUI_SECRET_KEY"].ValueFrom.SecretKeyRef.Name)
}
