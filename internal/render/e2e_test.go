package render_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/render"
	"github.com/llm-platform/llm-platform/stacks"
)

// requireTools skips on a laptop without ./bin's tools, and fails in CI,
// where .ci/run builds them: this test must never silently skip there.
func requireTools(t *testing.T, root string) {
	t.Helper()
	for _, tool := range []string{"pulumi", "pulumi-resource-kubernetes"} {
		if _, err := os.Stat(filepath.Join(root, "bin", tool)); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("bin/%s is missing in CI: .ci/run must run scripts/build-tools.sh", tool)
			}
			t.Skipf("bin/%s not built; run scripts/build-tools.sh to run the end-to-end render test", tool)
		}
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestRenderEndToEnd runs stack configs through the real engine and the
// real Kubernetes provider in render mode, then checks the manifests
// strictly, against what the mocks see, and for idempotence.
func TestRenderEndToEnd(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	requireTools(t, root)
	for _, tc := range []struct {
		stack, file string
		models      int
	}{
		{"dev", filepath.Join(root, "Pulumi.dev.yaml"), 1},
		{"three", filepath.Join(root, "internal/render/testdata/Pulumi.three.yaml"), 3},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			ctx := context.Background()
			out, state := t.TempDir(), t.TempDir()
			s, err := render.Open(ctx, render.Options{
				Root: root, Stack: tc.stack, StackFile: tc.file,
				OutDir: out, StateDir: state, Program: stacks.Run, Log: logWriter{t},
			})
			require.NoError(t, err)
			_, err = s.Up(ctx)
			require.NoError(t, err)

			manifests, err := render.Read(out)
			require.NoError(t, err)
			require.NotEmpty(t, manifests)
			t.Log(render.Summary(manifests, out))

			assertStrictlyValid(t, manifests)
			assert.Equal(t, mockedKeys(t, tc.file, out), keys(manifests), "the engine renders what the mocks see")

			models := 0
			for _, m := range manifests {
				if m.Kind == "StatefulSet" {
					models++
				}
			}
			assert.Equal(t, tc.models, models)

			// A second run changes nothing: no random churn, stable names.
			prev, err := s.PreviewNoChanges(ctx)
			require.NoError(t, err, "preview after up must report no changes")
			for op, n := range prev.ChangeSummary {
				assert.Equal(t, apitype.OpSame, op, "%d resources would %s", n, op)
			}

			require.NoError(t, s.Destroy(ctx))
			n, err := s.ResourceCount(ctx)
			require.NoError(t, err)
			assert.Zero(t, n, "destroy leaves the state empty")
		})
	}
}

func assertStrictlyValid(t *testing.T, manifests []render.Manifest) {
	t.Helper()
	custom, rules, models := 0, 0, 0
	for _, m := range manifests {
		if m.Kind == "StatefulSet" {
			models++
		}
		if m.IsBuiltin() {
			_, err := m.Decode()
			assert.NoError(t, err)
			continue
		}
		custom++
		var err error
		switch m.APIVersion + "/" + m.Kind {
		case "networking.istio.io/v1/Gateway":
			var cr pulumimock.CustomResource[edge.GatewaySpec]
			err = m.DecodeInto(&cr)
			assert.Equal(t, addons.IngressSelector, cr.Spec.Selector)
		case "networking.istio.io/v1/VirtualService":
			var cr pulumimock.CustomResource[edge.VirtualServiceSpec]
			err = m.DecodeInto(&cr)
			assert.Equal(t, "api", cr.Spec.HTTP[0].Name)
		case "security.istio.io/v1/PeerAuthentication":
			var cr pulumimock.CustomResource[edge.PeerAuthenticationSpec]
			err = m.DecodeInto(&cr)
			assert.Equal(t, "STRICT", cr.Spec.MTLS.Mode)
		case "networking.istio.io/v1/DestinationRule":
			var cr pulumimock.CustomResource[edge.DestinationRuleSpec]
			err = m.DecodeInto(&cr)
			rules++
			assert.Equal(t, "ISTIO_MUTUAL", cr.Spec.TrafficPolicy.TLS.Mode)
			assert.True(t, strings.HasPrefix(cr.Spec.Host, cr.Metadata.Name+"."), "%s: the rule is named after its headless Service", cr.Spec.Host)
		default:
			t.Errorf("%s: unexpected kind %s/%s", m.Path, m.APIVersion, m.Kind)
		}
		assert.NoError(t, err)
	}
	assert.Equal(t, models, rules, "one mutual-TLS rule per model's headless Service")
	assert.Equal(t, 3+rules, custom, "Gateway, VirtualService, PeerAuthentication and the rules")
}

func keys(manifests []render.Manifest) []string {
	out := make([]string, 0, len(manifests))
	for _, m := range manifests {
		out = append(out, m.Key())
	}
	return out
}

// mockedKeys runs the same config under mocks and lists the Kubernetes
// objects the program declares.
func mockedKeys(t *testing.T, stackFile, out string) []string {
	t.Helper()
	config := pulumimock.StackConfig(t, stackFile)
	config["render"] = `{"dir":"` + out + `"}`
	m, err := pulumimock.Run(t, func(ctx *pulumi.Context) error { return stacks.Run(ctx) }, pulumimock.WithConfig(config))
	require.NoError(t, err)
	var manifests []render.Manifest
	for _, r := range m.Resources() {
		if !strings.HasPrefix(r.Type, "kubernetes:") {
			continue
		}
		obj := pulumimock.Plain(r.Inputs)
		meta, _ := obj["metadata"].(map[string]any)
		ns, _ := meta["namespace"].(string)
		name, _ := meta["name"].(string)
		manifests = append(manifests, render.Manifest{Kind: obj["kind"].(string), Namespace: ns, Name: name})
	}
	got := keys(manifests)
	slices.Sort(got)
	return got
}
