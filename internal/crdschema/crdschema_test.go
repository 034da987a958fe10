package crdschema_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/llm-platform/llm-platform/internal/crdschema"
	"github.com/llm-platform/llm-platform/internal/versions"
)

// istio loads the pinned Istio CRDs; a missing module fails the test (never
// skips it): without the CRDs nothing here is checked.
func istio(t *testing.T) *crdschema.Validator {
	t.Helper()
	v, err := crdschema.Istio()
	require.NoError(t, err)
	return v
}

func virtualService(routes ...map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "VirtualService",
		"metadata":   map[string]any{"name": "llm-platform", "namespace": "llm"},
		"spec": map[string]any{
			"hosts":    []any{"*"},
			"gateways": []any{"llm-platform"},
			"http":     toAny(routes),
		},
	}
}

func route(name, timeout string) map[string]any {
	r := map[string]any{
		"name":    name,
		"match":   []any{map[string]any{"uri": map[string]any{"prefix": "/v1/"}}},
		"route":   []any{map[string]any{"destination": map[string]any{"host": "llm-gateway.llm.svc.cluster.local", "port": map[string]any{"number": 80}}}},
		"retries": map[string]any{"attempts": 0},
	}
	if timeout != "" {
		r["timeout"] = timeout
	}
	return r
}

func toAny(routes []map[string]any) []any {
	out := make([]any, len(routes))
	for i, r := range routes {
		out[i] = r
	}
	return out
}

func TestIstioCRDsLoad(t *testing.T) {
	v := istio(t)
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "networking.istio.io", Version: "v1", Kind: "Gateway"},
		{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"},
		{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthentication"},
	} {
		assert.Contains(t, v.Kinds(), gvk, "%s is in %s", gvk, versions.IstioModule)
	}
}

// TestZeroRouteTimeoutIsRefused is issue 23: Istio's CRD refuses "0s" as a
// route timeout with its own message; leaving the field out (no timeout)
// and a real duration are accepted.
func TestZeroRouteTimeoutIsRefused(t *testing.T) {
	v := istio(t)

	errs := v.Validate(virtualService(route("api", "0s")))
	require.Len(t, errs, 1, errs.ToAggregate())
	assert.Equal(t, "spec.http[0].timeout", errs[0].Field)
	assert.Equal(t, field.ErrorTypeInvalid, errs[0].Type)
	assert.Equal(t, "must be a valid duration greater than 1ms", errs[0].Detail)
	assert.Equal(t, `spec.http[0].timeout: Invalid value: "0s": must be a valid duration greater than 1ms`, errs[0].Error(),
		"the message the API server gives")

	assert.Empty(t, v.Validate(virtualService(route("api", ""), route("ui", "300s"))), "no timeout, or a real one, is fine")

	errs = v.Validate(virtualService(route("api", "forever")))
	require.NotEmpty(t, errs, "not a duration at all")
	assert.Equal(t, "spec.http[0].timeout", errs[0].Field)
}

func TestEnumAndTypeErrors(t *testing.T) {
	v := istio(t)
	pa := func(mode any) map[string]any {
		return map[string]any{
			"apiVersion": "security.istio.io/v1",
			"kind":       "PeerAuthentication",
			"metadata":   map[string]any{"name": "default", "namespace": "llm"},
			"spec":       map[string]any{"mtls": map[string]any{"mode": mode}},
		}
	}
	assert.Empty(t, v.Validate(pa("STRICT")))

	errs := v.Validate(pa("STRICTEST"))
	require.NotEmpty(t, errs)
	assert.Equal(t, "spec.mtls.mode", errs[0].Field)
	assert.Equal(t, field.ErrorTypeNotSupported, errs[0].Type)
	assert.Contains(t, errs[0].Error(), `"STRICT"`, "the message lists the allowed values")

	errs = v.Validate(pa(3))
	require.NotEmpty(t, errs)
	assert.Equal(t, "spec.mtls.mode", errs[0].Field)
	assert.Equal(t, field.ErrorTypeTypeInvalid, errs[0].Type)
}

func TestUnknownFieldsAndMetadata(t *testing.T) {
	v := istio(t)

	vs := virtualService(route("api", ""))
	vs["spec"].(map[string]any)["http"].([]any)[0].(map[string]any)["timout"] = "10s"
	errs := v.Validate(vs)
	require.Len(t, errs, 1, errs.ToAggregate())
	assert.Equal(t, "spec.http[0].timout", errs[0].Field, "a typo is an error, not silently dropped")
	_, stillThere := vs["spec"].(map[string]any)["http"].([]any)[0].(map[string]any)["timout"]
	assert.True(t, stillThere, "Validate does not modify its argument")

	noNamespace := virtualService(route("api", ""))
	noNamespace["metadata"] = map[string]any{"name": "Not_A_Name"}
	fields := map[string]bool{}
	for _, e := range v.Validate(noNamespace) {
		fields[e.Field] = true
	}
	assert.True(t, fields["metadata.name"], "names must be DNS subdomains")
	assert.True(t, fields["metadata.namespace"], "VirtualService is namespaced")
}

func TestUnknownKindSaysWhatIsMissing(t *testing.T) {
	v := istio(t)
	errs := v.Validate(map[string]any{"apiVersion": "networking.istio.io/v9", "kind": "VirtualService", "metadata": map[string]any{"name": "x"}})
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "version v9 is not served")
	assert.Contains(t, errs[0].Error(), "v1")

	errs = v.Validate(map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application"})
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "no CRD loaded for this group and kind")

	errs = v.Validate(map[string]any{"spec": map[string]any{}})
	require.Len(t, errs, 1)
	assert.Equal(t, "apiVersion", errs[0].Field)
}

// widgetCRDs is a small stream: a non-CRD document to skip, and a CRD with
// an enum, a CEL rule with a message and a nested array.
const widgetCRDs = `
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-crd}
---
# comment-only documents are skipped too
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, enum: [red, blue]}
              parts:
                type: array
                items: {type: string}
                x-kubernetes-list-type: set
            x-kubernetes-validations:
            - rule: "!has(self.parts) || size(self.parts) <= self.size"
              message: no more parts than size
  - name: v0
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
`

func TestLoadAndValidateSmallCRD(t *testing.T) {
	v, err := crdschema.Load(strings.NewReader(widgetCRDs))
	require.NoError(t, err)
	assert.Equal(t, []schema.GroupVersionKind{{Group: "example.com", Version: "v1", Kind: "Widget"}}, v.Kinds(),
		"only served versions of CRDs; the ConfigMap is skipped")

	widget := func(spec map[string]any) map[string]any {
		return map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w"}, "spec": spec}
	}
	// Numbers as encoding/json decodes them (float64) are fine.
	assert.Empty(t, v.Validate(widget(map[string]any{"size": float64(2), "color": "red", "parts": []any{"a", "b"}})))

	errs := v.Validate(widget(map[string]any{"size": 1, "parts": []any{"a", "b"}}))
	require.Len(t, errs, 1, errs.ToAggregate())
	assert.Equal(t, "spec", errs[0].Field)
	assert.Equal(t, "no more parts than size", errs[0].Detail, "the rule's own message")

	errs = v.Validate(widget(map[string]any{"size": 0, "color": "green", "parts": []any{"a", "a"}}))
	fields := map[string]field.ErrorType{}
	for _, e := range errs {
		fields[e.Field] = e.Type
	}
	assert.Equal(t, field.ErrorTypeInvalid, fields["spec.size"], "minimum: %v", errs)
	assert.Equal(t, field.ErrorTypeNotSupported, fields["spec.color"], "enum: %v", errs)
	assert.Equal(t, field.ErrorTypeDuplicate, fields["spec.parts[1]"], "list-type set: %v", errs)

	_, err = crdschema.Load(strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"))
	assert.ErrorContains(t, err, "no apiextensions.k8s.io/v1 CustomResourceDefinition")
}

func TestModuleFileNamesTheModuleOnFailure(t *testing.T) {
	// No proxy and (for this made-up module) no cache: the download fails
	// without the network, and the error must say which module.
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "")
	_, err := crdschema.ModuleFile("example.com/no-such-module@v1.0.0", "crds.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "example.com/no-such-module@v1.0.0")

	_, err = crdschema.ModuleFile("istio.io/istio", crdschema.IstioCRDFile)
	assert.ErrorContains(t, err, "want module@version")
}

// TestZeroMeansDifferentThingsPerField backs docs/istio.md: "0s" disables
// a DestinationRule's TCP idle timeout (that field has no rule) but is
// refused for its HTTP idle timeout and for a retry's per-try timeout.
func TestZeroMeansDifferentThingsPerField(t *testing.T) {
	v := istio(t)
	dr := func(pool map[string]any) map[string]any {
		return map[string]any{
			"apiVersion": "networking.istio.io/v1",
			"kind":       "DestinationRule",
			"metadata":   map[string]any{"name": "llm-gateway", "namespace": "llm"},
			"spec": map[string]any{
				"host":          "llm-gateway.llm.svc.cluster.local",
				"trafficPolicy": map[string]any{"connectionPool": pool},
			},
		}
	}
	assert.Empty(t, v.Validate(dr(map[string]any{"tcp": map[string]any{"idleTimeout": "0s"}})), "tcp.idleTimeout: 0s disables it")

	errs := v.Validate(dr(map[string]any{"http": map[string]any{"idleTimeout": "0s"}}))
	require.Len(t, errs, 1, errs.ToAggregate())
	assert.Equal(t, "spec.trafficPolicy.connectionPool.http.idleTimeout", errs[0].Field)
	assert.Equal(t, "must be a valid duration greater than 1ms", errs[0].Detail)

	r := route("api", "")
	r["retries"] = map[string]any{"attempts": 2, "perTryTimeout": "0s"}
	errs = v.Validate(virtualService(r))
	require.Len(t, errs, 1, errs.ToAggregate())
	assert.Equal(t, "spec.http[0].retries.perTryTimeout", errs[0].Field)

	assert.Empty(t, v.Validate(virtualService(route("api", "1ms"))), "1ms itself is accepted")
}
