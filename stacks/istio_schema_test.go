package stacks

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/internal/crdschema"
	"github.com/llm-platform/llm-platform/internal/pulumimock"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// TestIstioResourcesMatchIstiosCRDs runs the whole program for each stack and
// checks every Istio custom resource it declares against the CRDs of the
// Istio release we deploy (schema, enums, unknown fields and the CEL rules),
// as the API server would on `pulumi up`. Issue 23: a route `timeout: 0s`
// passed every mock test and was refused by every real cluster.
func TestIstioResourcesMatchIstiosCRDs(t *testing.T) {
	crds, err := crdschema.Istio()
	require.NoError(t, err, "the Istio CRDs are needed to check what the program declares")

	for _, tc := range []struct {
		stack string
		tls   bool // the stack configures edge.tls: the Gateway has an HTTPS server
	}{
		{"dev", false},
		{"gke", true},
		{"eks", false},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			m, _, err := run(t, pulumimock.StackConfig(t, "../Pulumi."+tc.stack+".yaml"))
			require.NoError(t, err)

			kinds := map[string]map[string]any{}
			for _, r := range m.Resources() {
				if !isIstioType(r.Type) {
					continue
				}
				obj := pulumimock.Plain(r.Inputs)
				kinds[obj["kind"].(string)] = obj
				errs := crds.Validate(obj)
				assert.Empty(t, errs, "%s %q would be refused by the API server with Istio's CRDs (%s):\n%v",
					r.Type, r.Name, versions.IstioModule, errs.ToAggregate())
			}

			// The checks above covered what matters: the routes, strict
			// mutual TLS and, where configured, the TLS server.
			require.Contains(t, kinds, "Gateway")
			require.Contains(t, kinds, "VirtualService")
			require.Contains(t, kinds, "PeerAuthentication", "strict mTLS is on by default")
			require.Contains(t, kinds, "DestinationRule", "the headless Services' mutual-TLS rules were checked")
			assert.Equal(t, "STRICT", istioField(kinds["PeerAuthentication"], "spec", "mtls", "mode"))
			servers, _ := istioField(kinds["Gateway"], "spec", "servers").([]any)
			var modes []any
			for _, s := range servers {
				modes = append(modes, istioField(s, "tls", "mode"))
			}
			if tc.tls {
				assert.Contains(t, modes, "SIMPLE", "the HTTPS server with its credential was checked")
			} else {
				assert.NotContains(t, modes, "SIMPLE")
			}
		})
	}
}

// isIstioType reports whether a Pulumi type token ("kubernetes:<group>/<version>:<Kind>")
// names an Istio custom resource.
func isIstioType(typ string) bool {
	rest, ok := strings.CutPrefix(typ, "kubernetes:")
	if !ok {
		return false
	}
	group, _, _ := strings.Cut(rest, "/")
	return strings.HasSuffix(group, ".istio.io")
}

// istioField walks nested JSON objects; nil when a key is missing.
func istioField(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
