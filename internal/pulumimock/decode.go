package pulumimock

// Reading recorded inputs: as plain Go values, redacted, or decoded into typed structs.

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/require"
)

// Plain converts a property map into plain Go values (what encoding/json
// produces), unwrapping secrets and outputs; unknown values become nil.
func Plain(props resource.PropertyMap) map[string]any {
	return plainValue(resource.NewProperty(props)).(map[string]any)
}

func plainValue(v resource.PropertyValue) any { return convert(v, false) }

// Redacted is Plain with every secret replaced by the marker "[secret]".
func Redacted(props resource.PropertyMap) any { return convert(resource.NewProperty(props), true) }

// convert is a property value as plain Go values; with redact, every secret becomes a marker.
func convert(v resource.PropertyValue, redact bool) any {
	switch {
	case redact && (v.IsSecret() || v.IsOutput() && v.OutputValue().Secret):
		return "[secret]"
	case v.IsSecret():
		return convert(v.SecretValue().Element, redact)
	case v.IsOutput():
		if !v.OutputValue().Known {
			return nil
		}
		return convert(v.OutputValue().Element, redact)
	case v.IsComputed(), v.IsNull():
		return nil
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = convert(e, redact)
		}
		return out
	case v.IsArray():
		out := make([]any, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			out = append(out, convert(e, redact))
		}
		return out
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return v.V
}

// DecodeInto strictly decodes a resource's inputs into out (a k8s.io/api
// type): a field the type does not know fails, so typos cannot hide.
func DecodeInto(props resource.PropertyMap, out any) error {
	raw, err := json.Marshal(Plain(props))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}

// Decode finds the resource typ/name and decodes its inputs into a T.
func Decode[T any](t testing.TB, m *Mocks, typ, name string) T {
	t.Helper()
	var out T
	r := m.Find(t, typ, name)
	require.NoError(t, DecodeInto(r.Inputs, &out), "decoding %s %s", typ, name)
	return out
}

// View decodes a resource's inputs into T, a partial view with just the
// fields a test reads (cloud resources and Helm values have no k8s.io/api
// type to decode strictly into).
func View[T any](t testing.TB, r Resource) T {
	t.Helper()
	raw, err := json.Marshal(Plain(r.Inputs))
	require.NoError(t, err)
	var out T
	require.NoError(t, json.Unmarshal(raw, &out), "decoding %s %s into %T", r.Type, r.Name, out)
	return out
}
