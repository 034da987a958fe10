package main

import (
	"errors"
	"fmt"
	"maps"
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
	"github.com/llm-platform/llm-platform/stacks"
)

// component is one resource of the package: its type token, the Go types the schema is
// generated from, and how to construct it.
type component struct {
	token     string
	short     string       // the token's last part, for messages (Model)
	args      reflect.Type // the Args struct (inputs)
	component reflect.Type // the component struct (outputs: its pulumi-tagged fields)
	// defaults, for Platform, are its inputs' defaults (the stack config's): the schema
	// documents them and makes every property below the top level optional.
	defaults  any
	construct func(ctx *pulumi.Context, name string, inputs provider.ConstructInputs, opts pulumi.ResourceOption) (pulumi.ComponentResource, error)
}

// components are the package's resources: the Go constructors, called exactly as a Go
// program calls them, so both get the same objects and the same errors.
var components = []component{
	goComponent(model.Type, model.New),
	goComponent(gateway.Type, gateway.New),
	goComponent(webui.Type, webui.New),
	goComponent(edge.Type, edge.New),
	platformComponent(),
}

// platformComponent is the whole application layer: its plain inputs are decoded and
// validated as a stack config (stacks.ReadPlatformInputs, with the stack's defaults and
// messages), then stacks.NewPlatform declares what the stack program declares on a cluster.
func platformComponent() component {
	const short = "Platform"
	return component{
		token:     stacks.PlatformType,
		short:     short,
		args:      reflect.TypeFor[stacks.PlatformArgs](),
		component: reflect.TypeFor[stacks.Platform](),
		defaults:  stacks.PlatformDefaults(),
		construct: func(ctx *pulumi.Context, name string, inputs provider.ConstructInputs, opts pulumi.ResourceOption) (pulumi.ComponentResource, error) {
			t := reflect.TypeFor[stacks.PlatformArgs]()
			var errs []error
			invalid := func(path, format string, a ...any) {
				errs = append(errs, argcheck.Invalid(short, name, path, format, a...))
			}
			// Below the top level nothing is required here: the stack config's defaults fill
			// it, and its validation names what is still missing.
			missing := func(path string) {
				if !strings.ContainsAny(path, ".[") {
					errs = append(errs, argcheck.Missing(short, name, path))
				}
			}
			raw, err := rawInputs(inputs, t, invalid)
			if err != nil {
				return nil, fmt.Errorf("%s %q: reading the inputs: %w", short, name, err)
			}
			checkObject(raw, t, "", invalid, missing)
			if len(errs) > 0 {
				return nil, errors.Join(errs...)
			}
			plain := map[string]any{}
			for k, v := range raw {
				if _, ok := v.(unresolved); !ok {
					plain[k] = v
				}
			}
			in, err := stacks.ReadPlatformInputs(plain, inputs.CopyTo)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", short, name, err)
			}
			return stacks.NewPlatform(ctx, name, in, opts)
		},
	}
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
	t := reflect.TypeOf(args).Elem()
	var errs []error
	invalid := func(path, format string, a ...any) {
		errs = append(errs, argcheck.Invalid(short, name, path, format, a...))
	}
	missing := func(path string) { errs = append(errs, argcheck.Missing(short, name, path)) }
	raw, err := rawInputs(inputs, t, invalid)
	if err != nil {
		return fmt.Errorf("%s %q: reading the inputs: %w", short, name, err)
	}
	checkObject(raw, t, "", invalid, missing)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := inputs.CopyTo(args); err != nil {
		return fmt.Errorf("%s %q: %w", short, name, err)
	}
	return nil
}

// unresolved stands for an input that is another resource's output or a secret: an Input
// field takes it as it is; its value is not known here to be checked.
type unresolved struct{}

var anyType = reflect.TypeFor[any]()

// rawInputs are the inputs as plain Go values (string, float64, bool, []any, map[string]any),
// one CopyTo per input into a field of type any: what the engine sent, before the SDK converts
// it to the Args' types (and reports a wrong type without saying where).
func rawInputs(inputs provider.ConstructInputs, t reflect.Type, invalid invalidFunc) (map[string]any, error) {
	m, err := inputs.Map()
	if err != nil {
		return nil, err
	}
	plain := map[string]bool{}
	for _, f := range fields(t) {
		tag, _, _ := argcheck.Tag(f)
		plain[tag] = !isInput(f.Type)
	}
	raw := make(map[string]any, len(m))
	for key := range m {
		holder := reflect.New(reflect.StructOf([]reflect.StructField{{
			Name: "V", Type: anyType, Tag: reflect.StructTag(fmt.Sprintf(`pulumi:%q`, key)),
		}}))
		if err := inputs.CopyTo(holder.Interface()); err != nil {
			if p, known := plain[key]; known && p {
				invalid(key, "must be a plain value, known when the component is planned (not a secret or another resource's output)")
				continue
			}
			raw[key] = unresolved{}
			continue
		}
		raw[key] = holder.Elem().Field(0).Interface()
	}
	return raw, nil
}

func isInput(t reflect.Type) bool {
	_, ok := inputElements[t]
	return ok || (t.Kind() == reflect.Interface && t.Implements(inputType))
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

// checkValue checks one plain value against Go type t.
func checkValue(v any, t reflect.Type, path string, invalid invalidFunc, missing missingFunc) {
	if _, ok := v.(unresolved); ok {
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
		if _, ok := v.(string); !ok {
			invalid(path, "expected a string, got %s", got)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			invalid(path, "expected a boolean, got %s", got)
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, ok := v.(float64)
		if !ok || n != math.Trunc(n) {
			invalid(path, "expected an integer, got %s", got)
		}
	case reflect.Float64, reflect.Float32:
		if _, ok := v.(float64); !ok {
			invalid(path, "expected a number, got %s", got)
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			invalid(path, "expected a list, got %s", got)
			return
		}
		for i, e := range arr {
			checkValue(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), invalid, missing)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			invalid(path, "expected an object (a map of strings), got %s", got)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			checkValue(obj[k], t.Elem(), path+"."+k, invalid, missing)
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			invalid(path, "expected an object, got %s", got)
			return
		}
		checkObject(obj, t, path, invalid, missing)
	}
}

// describe names a plain value's type, with the value for scalars.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("a string (%q)", v)
	case float64:
		return fmt.Sprintf("a number (%v)", v)
	case bool:
		return fmt.Sprintf("a boolean (%v)", v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
