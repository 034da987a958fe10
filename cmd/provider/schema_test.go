package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/internal/argcheck"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	require.NoError(t, err)
	return r
}

// The committed schema.json is what the Go types generate: a field added to, removed from or
// retyped in an Args (or a changed doc comment) fails here until the schema is regenerated.
func TestSchemaIsGeneratedFromTheGoArgs(t *testing.T) {
	want, err := generateSchema(root(t))
	require.NoError(t, err)
	got, err := os.ReadFile("schema.json")
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "cmd/provider/schema.json is stale: run `go generate ./cmd/provider` and commit it")
}

// Every tagged Args field is in the schema with its optionality, checked against reflection
// independently of the generator's own walk.
func TestSchemaHasEveryArgsField(t *testing.T) {
	var spec packageSpec
	require.NoError(t, json.Unmarshal(schema, &spec))
	for _, c := range components {
		r, ok := spec.Resources[c.token]
		require.True(t, ok, c.token)
		required := map[string]bool{}
		for _, n := range r.RequiredInputs {
			required[n] = true
		}
		n := 0
		for _, f := range fields(c.args) {
			name, optional, _ := argcheck.Tag(f)
			if _, skip := notExposed[c.args.Name()+"."+f.Name]; skip {
				assert.NotContains(t, r.InputProperties, name)
				continue
			}
			n++
			p, ok := r.InputProperties[name]
			if assert.True(t, ok, "%s: input %s missing", c.token, name) {
				assert.NotEmpty(t, p.Description, "%s.%s has no description", c.token, name)
				assert.Equal(t, !optional, required[name], "%s.%s: optionality", c.token, name)
			}
		}
		assert.Len(t, r.InputProperties, n, "%s: the schema has inputs the Go Args do not", c.token)
	}
	for name, o := range spec.Types {
		for pname, p := range o.Properties {
			assert.NotEmpty(t, p.Description, "%s.%s has no description", name, pname)
		}
	}
}

// An Args field the schema does not know fails generation-equality: simulate one added to
// model.Args (reflect.StructOf) and check the generated schema differs from the committed one.
func TestANewArgsFieldChangesTheSchema(t *testing.T) {
	base := reflect.TypeFor[model.Args]()
	var fs []reflect.StructField
	for i := range base.NumField() {
		fs = append(fs, base.Field(i))
	}
	fs = append(fs, reflect.StructField{Name: "Extra", Type: reflect.TypeFor[int](), Tag: `pulumi:"extra"`})
	saved := components
	t.Cleanup(func() { components = saved })
	components = append([]component(nil), saved...)
	components[0].args = reflect.StructOf(fs)
	// A StructOf type has no package: give its fields descriptions under the empty name.
	for _, f := range fs {
		descriptions[".."+f.Name] = "a field"
		t.Cleanup(func() { delete(descriptions, ".."+f.Name) })
	}
	descriptions["."] = "Args with an extra field"
	t.Cleanup(func() { delete(descriptions, ".") })
	got, err := generateSchema(root(t))
	require.NoError(t, err)
	committed, err := os.ReadFile("schema.json")
	require.NoError(t, err)
	assert.NotEqual(t, string(committed), string(got))
	assert.Contains(t, string(got), `"extra"`)
}
