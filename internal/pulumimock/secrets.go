package pulumimock

// Assertions on where secret values may appear in what the program declares.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// AssertOnlyInSecrets fails if any value appears in the inputs of a
// resource other than a Kubernetes Secret, or in a Secret's inputs as
// anything but a Pulumi secret. Each value must appear in some Secret.
func AssertOnlyInSecrets(t testing.TB, m *Mocks, values ...string) {
	t.Helper()
	found := map[string]bool{}
	for _, r := range m.Resources() {
		raw, err := json.Marshal(Plain(r.Inputs))
		require.NoError(t, err)
		for _, v := range values {
			if !strings.Contains(string(raw), v) {
				continue
			}
			if r.Type != "kubernetes:core/v1:Secret" {
				assert.Failf(t, "secret value outside a Secret", "%s %s carries %q", r.Type, r.Name, v)
				continue
			}
			found[v] = true
			assert.Contains(t, SecretPaths(r.Inputs), "stringData", "Secret %s holds %q as a Pulumi secret", r.Name, v)
		}
	}
	for _, v := range values {
		assert.True(t, found[v], "%q is in a Kubernetes Secret", v)
	}
}

// AssertSecretEverywhere is AssertOnlyInSecrets for values that cloud resources also take (a
// database password): among Kubernetes objects only Secrets may carry them, as Pulumi secrets,
// and any other resource only inside its secret properties.
func AssertSecretEverywhere(t testing.TB, m *Mocks, values ...string) {
	t.Helper()
	kube := &Mocks{}
	for _, r := range m.Resources() {
		if strings.HasPrefix(r.Type, "kubernetes:") {
			kube.resources = append(kube.resources, r)
			continue
		}
		raw, err := json.Marshal(convert(resource.NewProperty(r.Inputs), true))
		require.NoError(t, err)
		for _, v := range values {
			assert.NotContains(t, string(raw), v, "%s %s carries the value outside its secret properties", r.Type, r.Name)
		}
	}
	AssertOnlyInSecrets(t, kube, values...)
}

// SecretPaths returns the dotted paths of every secret value in props.
func SecretPaths(props resource.PropertyMap) []string {
	var out []string
	var walk func(path string, v resource.PropertyValue)
	walk = func(path string, v resource.PropertyValue) {
		switch {
		case v.IsSecret():
			out = append(out, path)
		case v.IsOutput() && v.OutputValue().Secret:
			out = append(out, path)
		case v.IsObject():
			for k, e := range v.ObjectValue() {
				walk(strings.TrimPrefix(path+"."+string(k), "."), e)
			}
		case v.IsArray():
			for i, e := range v.ArrayValue() {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("", resource.NewProperty(props))
	sort.Strings(out)
	return out
}
