package main

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"

	"github.com/llm-platform/llm-platform/components/edge"
	"github.com/llm-platform/llm-platform/components/gateway"
	"github.com/llm-platform/llm-platform/components/model"
	"github.com/llm-platform/llm-platform/components/webui"
	"github.com/llm-platform/llm-platform/internal/argcheck"
)

// component is one resource of the package: its type token, the Go types the schema is
// generated from, and how to construct it.
type component struct {
	token     string
	short     string       // the token's last part, for messages (Model)
	args      reflect.Type // the Args struct (inputs)
	component reflect.Type // the component struct (outputs: its pulumi-tagged fields)
	construct func(ctx *pulumi.Context, name string, inputs provider.ConstructInputs, opts pulumi.ResourceOption) (pulumi.ComponentResource, error)
}

// components are the package's resources: the Go constructors, called exactly as a Go
// program calls them, so both get the same objects and the same errors.
var components = []component{
	goComponent(model.Type, model.New),
	goComponent(gateway.Type, gateway.New),
	goComponent(webui.Type, webui.New),
	goComponent(edge.Type, edge.New),
}

// goComponent adapts a component's New to Construct: the inputs are checked against the Args'
// types and tags, copied into the Args, and handed to New.
func goComponent[A any, C pulumi.ComponentResource](token string, newFn func(*pulumi.Context, string, A, ...pulumi.ResourceOption) (C, error)) component {
	short := token[strings.LastIndex(token, ":")+1:]
	return component{
		token:     token,
		short:     short,
		args:      reflect.TypeFor[A](),
		component: reflect.TypeFor[C]().Elem(),
		construct: func(ctx *pulumi.Context, name string, inputs provider.ConstructInputs, opts pulumi.ResourceOption) (pulumi.ComponentResource, error) {
			var args A
			if err := decode(short, name, inputs, &args); err != nil {
				return nil, err
			}
			return newFn(ctx, name, args, opts)
		},
	}
}

func construct(ctx *pulumi.Context, typ, name string, inputs provider.ConstructInputs, opts pulumi.ResourceOption) (*provider.ConstructResult, error) {
	for _, c := range components {
		if c.token == typ {
			res, err := c.construct(ctx, name, inputs, opts)
			if err != nil {
				return nil, err
			}
			return provider.NewConstructResult(res)
		}
	}
	return nil, fmt.Errorf("unknown resource type %s; this package (%s %s) has %s", typ, Name, Version, strings.Join(tokens(), ", "))
}

func tokens() []string {
	var out []string
	for _, c := range components {
		out = append(out, c.token)
	}
	return out
}

// decode checks the inputs against args' Go type (every required input present, every value
// of its field's type, no unknown input) and copies them into args. The messages name the
// input by its path, as the Go API's own checks (package argcheck) do.
func decode(short, name string, inputs provider.ConstructInputs, args any) error {
	m, err := inputs.Map()
	if err != nil {
		return fmt.Errorf("%s %q: reading the inputs: %w", short, name, err)
	}
	raw := make(map[string]any, len(m))
	for k, v := range m {
		raw[k] = v
	}
	var errs []error
	checkObject(raw, reflect.TypeOf(args).Elem(), "", func(path, format string, a ...any) {
		errs = append(errs, argcheck.Invalid(short, name, path, format, a...))
	}, func(path string) {
		errs = append(errs, argcheck.Missing(short, name, path))
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := inputs.CopyTo(args); err != nil {
		return fmt.Errorf("%s %q: %w", short, name, err)
	}
	return nil
}

type (
	invalidFunc func(path, format string, a ...any)
	missingFunc func(path string)
)

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// checkObject checks an object's properties against struct t's tagged fields.
func checkObject(obj map[string]any, t reflect.Type, prefix string, invalid invalidFunc, missing missingFunc) {
	known := map[string]bool{}
	for _, f := range fields(t) {
		tag, optional, _ := argcheck.Tag(f)
		if _, skip := notExposed[t.Name()+"."+f.Name]; skip && prefix == "" {
			continue
		}
		known[tag] = true
		v, ok := obj[tag]
		if !ok || v == nil {
			if !optional {
				missing(join(prefix, tag))
			}
			continue
		}
		checkValue(v, f.Type, join(prefix, tag), invalid, missing)
	}
	var unknown []string
	for k := range obj {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		var names []string
		for n := range known {
			names = append(names, n)
		}
		slices.Sort(names)
		invalid(join(prefix, k), "is not an input here; the inputs are %s", strings.Join(names, ", "))
	}
}

// checkValue checks one value (as the SDK decodes the engine's: pulumi.String, Float64, Bool,
// Array, Map, or an Output for secrets and other resources' outputs) against Go type t.
func checkValue(v any, t reflect.Type, path string, invalid invalidFunc, missing missingFunc) {
	if _, isOutput := v.(pulumi.Output); isOutput {
		// Unknown or secret until the engine resolves it: Input fields take it as it is, plain
		// fields must be known when the component is planned.
		if _, ok := inputElements[t]; !ok && !(t.Kind() == reflect.Interface && t.Implements(inputType)) {
			invalid(path, "must be a plain value, known when the component is planned (not a secret or another resource's output)")
		}
		return
	}
	if elem, ok := inputElements[t]; ok {
		t = elem
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	got := describe(v)
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(pulumi.String); !ok {
			invalid(path, "expected a string, got %s", got)
		}
	case reflect.Bool:
		if _, ok := v.(pulumi.Bool); !ok {
			invalid(path, "expected a boolean, got %s", got)
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, ok := v.(pulumi.Float64)
		if !ok || float64(n) != math.Trunc(float64(n)) {
			invalid(path, "expected an integer, got %s", got)
		}
	case reflect.Float64, reflect.Float32:
		if _, ok := v.(pulumi.Float64); !ok {
			invalid(path, "expected a number, got %s", got)
		}
	case reflect.Slice:
		arr, ok := v.(pulumi.Array)
		if !ok {
			invalid(path, "expected a list, got %s", got)
			return
		}
		for i, e := range arr {
			checkValue(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), invalid, missing)
		}
	case reflect.Map:
		obj, ok := v.(pulumi.Map)
		if !ok {
			invalid(path, "expected an object (a map of strings), got %s", got)
			return
		}
		for k, e := range obj {
			checkValue(e, t.Elem(), path+"."+k, invalid, missing)
		}
	case reflect.Struct:
		obj, ok := v.(pulumi.Map)
		if !ok {
			invalid(path, "expected an object, got %s", got)
			return
		}
		raw := make(map[string]any, len(obj))
		for k, e := range obj {
			raw[k] = e
		}
		checkObject(raw, t, path, invalid, missing)
	}
}

// describe names a decoded value's type, with the value for scalars.
func describe(v any) string {
	switch v := v.(type) {
	case pulumi.String:
		return fmt.Sprintf("a string (%q)", string(v))
	case pulumi.Float64:
		return fmt.Sprintf("a number (%v)", float64(v))
	case pulumi.Bool:
		return fmt.Sprintf("a boolean (%v)", bool(v))
	case pulumi.Array:
		return "a list"
	case pulumi.Map:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
