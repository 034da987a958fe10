// Package argcheck checks a component's Args against their `pulumi:"..."` tags, so a Go
// program and the component package (cmd/provider) report a missing required field the same
// way: by its input name, as the package's schema spells it.
//
// A field without ",optional" in its tag is required. What "unset" means depends on the Go
// type: an empty string, a nil pulumi.Input, an empty list or map. Numbers and booleans have no
// unset value in Go (0 and false are meaningful: a CPU model asks for 0 GPUs), so only the
// package, which sees whether a property was sent at all, can report those missing (Missing).
package argcheck

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Tag is a struct field's `pulumi:"name[,optional]"` tag, split.
func Tag(f reflect.StructField) (name string, optional, ok bool) {
	tag, has := f.Tag.Lookup("pulumi")
	if !has || tag == "" || !f.IsExported() {
		return "", false, false
	}
	parts := strings.Split(tag, ",")
	for _, p := range parts[1:] {
		if p == "optional" {
			optional = true
		}
	}
	return parts[0], optional, true
}

// Missing is the error for a required input that is not set; path is the input's name,
// dotted from the Args (spec.huggingfaceId, routes[0].upstream).
func Missing(component, name, path string) error {
	return fmt.Errorf("%s %q: %s: is required", component, name, path)
}

// Invalid is the error for an input whose value is wrong; path as in Missing.
func Invalid(component, name, path, format string, a ...any) error {
	return fmt.Errorf("%s %q: %s: %s", component, name, path, fmt.Sprintf(format, a...))
}

// Required reports every required field of args (a struct, or a pointer to one) that is
// unset, recursing into structs, pointers to structs and lists of structs. component is the
// component's type name (Model) and name the resource's name, for the messages.
func Required(component, name string, args any) error {
	v := reflect.ValueOf(args)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	var errs []error
	walk(v, "", func(path string) { errs = append(errs, Missing(component, name, path)) })
	return errors.Join(errs...)
}

func walk(v reflect.Value, prefix string, missing func(string)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, optional, ok := Tag(f)
		if !ok {
			continue
		}
		path := tag
		if prefix != "" {
			path = prefix + "." + tag
		}
		fv := v.Field(i)
		if !optional && unset(fv) {
			missing(path)
			continue
		}
		descend(fv, path, missing)
	}
}

func descend(fv reflect.Value, path string, missing func(string)) {
	switch fv.Kind() {
	case reflect.Struct:
		walk(fv, path, missing)
	case reflect.Pointer:
		if !fv.IsNil() && fv.Elem().Kind() == reflect.Struct {
			walk(fv.Elem(), path, missing)
		}
	case reflect.Slice:
		for j := range fv.Len() {
			descend(fv.Index(j), fmt.Sprintf("%s[%d]", path, j), missing)
		}
	}
}

// unset: the zero value of a type that has a meaningful "nothing" (strings, inputs, lists,
// maps, pointers); numbers and booleans are never unset here.
func unset(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return v.Len() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return false
}

// Within names the component and the resource before each problem a value's Validate(path)
// returned (errors that start with their input path), in Invalid's form.
func Within(component, name string, problems []error) []error {
	out := make([]error, len(problems))
	for i, p := range problems {
		out[i] = fmt.Errorf("%s %q: %w", component, name, p)
	}
	return out
}
