package stacks

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
)

// cloudLookups answers the invokes the cloud components make.
func cloudLookups() *pulumimock.Mocks {
	return &pulumimock.Mocks{CallResults: map[string]resource.PropertyMap{
		"aws:index/getAvailabilityZones:getAvailabilityZones": resource.NewPropertyMapFromMap(map[string]any{
			"names": []any{"us-west-2a", "us-west-2b", "us-west-2c"},
			"id":    "us-west-2",
		}),
		// Every zone offers the stacks' GPU types (EC2 filtered by instance type).
		"aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": resource.NewPropertyMapFromMap(map[string]any{
			"id": "us-west-2", "locations": []any{"us-west-2a", "us-west-2b", "us-west-2c"},
		}),
	}}
}

func run(t testing.TB, config map[string]string, secretKeys ...string) (*pulumimock.Mocks, *Outputs, error) {
	t.Helper()
	var out *Outputs
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error {
		var err error
		out, err = Program(ctx)
		return err
	}, pulumimock.WithConfig(config), pulumimock.WithSecretKeys(secretKeys...), pulumimock.WithRecorder(cloudLookups()))
	return m, out, err
}

func count(m *pulumimock.Mocks, typ string) int { return len(m.ByType(typ)) }

// TestStackFiles runs the whole program on each stack file in the repo.
func TestStackFiles(t *testing.T) {
	for _, tc := range []struct {
		stack  string
		models int
		cloud  string // component type of the cloud step, "" for existing
	}{
		{"dev", 1, ""},
		{"gke", 2, gke.Type},
		{"eks", 2, eks.Type},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			config := pulumimock.StackConfig(t, "../Pulumi."+tc.stack+".yaml")
			m, out, err := run(t, config)
			require.NoError(t, err)

			assert.Equal(t, tc.models, count(m, model.Type))
			assert.Equal(t, 1, count(m, addons.Type))
			assert.Equal(t, 1, count(m, gateway.Type))
			assert.Equal(t, 1, count(m, webui.Type))
			assert.Equal(t, 1, count(m, edge.Type))
			assert.Equal(t, 1, count(m, "pulumi:providers:kubernetes"))
			if tc.cloud != "" {
				assert.Equal(t, 1, count(m, tc.cloud))
			}
			assert.Len(t, out.Models, tc.models)
			assertEveryKubernetesResourceUsesTheClusterProvider(t, m)

			// nginx resolves the model Services' names at start: the
			// gateway's pods come after the Services exist.
			gw := m.Find(t, "kubernetes:apps/v1:Deployment", "gateway")
			for _, mod := range m.ByType(model.Type) {
				svc := m.Find(t, "kubernetes:core/v1:Service", mod.Name)
				assert.Contains(t, gw.DependsOn, svc.URN, "gateway waits for %s's Service", mod.Name)
				hl := m.Find(t, "kubernetes:core/v1:Service", mod.Name+"-headless")
				assert.Contains(t, gw.DependsOn, hl.URN, "gateway waits for %s's headless Service", mod.Name)
			}
		})
	}
}

func assertEveryKubernetesResourceUsesTheClusterProvider(t *testing.T, m *pulumimock.Mocks) {
	t.Helper()
	n := 0
	for _, r := range m.Resources() {
		if !strings.HasPrefix(r.Type, "kubernetes:") {
			continue
		}
		n++
		assert.Contains(t, r.Provider, "pulumi:providers:kubernetes::cluster::", "%s %s uses the default provider", r.Type, r.Name)
	}
	assert.Greater(t, n, 5)
}

// TestBadConfigDeclaresNothing: config errors stop the program before any
// resource exists.
func TestBadConfigDeclaresNothing(t *testing.T) {
	m, _, err := run(t, map[string]string{
		"cloud":  "gke",
		"models": `[{"huggingfaceId":"a/b","modelName":"qwen3-0.6b","replicas":0}]`,
	})
	require.Error(t, err)
	for _, key := range []string{"gke.project", "gke.region", "models[0].replicas"} {
		assert.Contains(t, err.Error(), key)
	}
	assert.Empty(t, m.Resources())
}

// TestSecretsStaySecret fails if any Kubernetes object other than a Secret
// carries the HF token, a gateway key or the WebUI secret key, or if a
// Secret or the kubeconfig output holds one as anything but a Pulumi secret.
func TestSecretsStaySecret(t *testing.T) {
	const token, key1, key2, uiKey = "hf_supersecretvalue123", "sk-gatewaykey-456", "sk-second-key-789", "webui-secret-key-444"
	config := pulumimock.StackConfig(t, "../Pulumi.gke.yaml")
	config["hfToken"] = token
	config["gatewayApiKeys"] = `["` + key1 + `","` + key2 + `"]`
	config["webuiSecretKey"] = uiKey
	m, out, err := run(t, config, "hfToken", "gatewayApiKeys", "webuiSecretKey")
	require.NoError(t, err)

	hf := m.Find(t, "kubernetes:core/v1:Secret", "hf-token")
	assert.Equal(t, []string{"stringData"}, pulumimock.SecretPaths(hf.Inputs))
	// A credential, not a model: the render summary lists models by this label.
	hfSecret := pulumimock.View[corev1.Secret](t, hf)
	assert.Equal(t, "credentials", hfSecret.Labels["app.kubernetes.io/component"])
	keys := m.Find(t, "kubernetes:core/v1:Secret", "gateway-keys")
	assert.Equal(t, []string{"stringData"}, pulumimock.SecretPaths(keys.Inputs))
	pulumimock.AssertOnlyInSecrets(t, m, token, key1, key2, uiKey)

	kubeconfig, secret := pulumimock.Await(t, out.Kubeconfig)
	assert.True(t, secret, "the kubeconfig output is secret")
	assert.Contains(t, kubeconfig, "gke-gcloud-auth-plugin")
}

// TestEmptySecretsAreUnset: Pulumi.yaml defaults the optional secrets to
// empty, which must mean "not configured", not "an empty token".
func TestEmptySecretsAreUnset(t *testing.T) {
	m, _, err := run(t, map[string]string{
		"models":  `[{"huggingfaceId":"a/b","modelName":"m"}]`,
		"hfToken": "", "webuiSecretKey": "", "gatewayApiKeys": "[]",
	}, "hfToken", "webuiSecretKey", "gatewayApiKeys")
	require.NoError(t, err)
	assert.False(t, m.Has("kubernetes:core/v1:Secret", "hf-token"))
	assert.False(t, m.Has("kubernetes:core/v1:Secret", "gateway-keys"))
	assert.Equal(t, []string{"stringData", "data"}, m.Find(t, "kubernetes:core/v1:Secret", "webui").IgnoreChanges, "the session key is generated")
}

// TestPlainTextSecretsAreRefused: a secret key set without --secret would
// sit in plain text in the stack file; the program refuses it.
func TestPlainTextSecretsAreRefused(t *testing.T) {
	m, _, err := run(t, map[string]string{
		"models":  `[{"huggingfaceId":"a/b","modelName":"m"}]`,
		"hfToken": "hf_plain",
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "hfToken: is stored in plain text")
	assert.Empty(t, m.Resources())
}

// TestMisspeltTopLevelKeysAreRefused: a typo in a top-level key of the project's namespace is
// an error with a suggestion, like a typo in a nested key; other namespaces are not ours.
func TestMisspeltTopLevelKeysAreRefused(t *testing.T) {
	config := pulumimock.StackConfig(t, "../Pulumi.dev.yaml")
	config["gatway"] = `{"replicas": 3}`
	config["modles"] = `[]`
	_, _, err := run(t, config)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `gatway: unknown key; did you mean "gateway"?`)
	assert.Contains(t, err.Error(), `modles: unknown key; did you mean "models"?`)

	config = pulumimock.StackConfig(t, "../Pulumi.dev.yaml")
	_, _, err = run(t, config)
	require.NoError(t, err, "every key the dev stack sets is known")
}
