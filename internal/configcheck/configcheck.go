// Package configcheck collects the problems of a configuration value, each error starting
// with the key path of the setting it is about. A component's Validate(path) takes the path
// its caller keeps the value under ("spec." in the component package, "models[0]." in the
// stack config), so both report a mistake in the same words under their own key paths.
package configcheck

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Problems collects errors "<Prefix><key>: <message>".
type Problems struct {
	Prefix string
	Errs   []error
}

// Add records a problem of key.
func (p *Problems) Add(key, format string, args ...any) {
	p.Errs = append(p.Errs, fmt.Errorf("%s: %s", p.At(key), fmt.Sprintf(format, args...)))
}

// At is key's full path, for messages that name another setting.
func (p *Problems) At(key string) string { return p.Prefix + key }

// OneOf records a value that is not one of allowed.
func (p *Problems) OneOf(key, value string, allowed []string) {
	if msg := OneOf(value, allowed); msg != "" {
		p.Add(key, "%s", msg)
	}
}

// Quantity records a value that is not a Kubernetes quantity of at least min.
func (p *Problems) Quantity(key, value, min string) {
	if msg := Quantity(value, min); msg != "" {
		p.Add(key, "%s", msg)
	}
}

// OneOf says what is wrong with an enum-like value ("" when nothing).
func OneOf(value string, allowed []string) string {
	if slices.Contains(allowed, value) {
		return ""
	}
	return fmt.Sprintf("%q is not allowed; use one of %s", value, strings.Join(allowed, ", "))
}

// Quantity says what is wrong with a size ("" when nothing): it must be a Kubernetes quantity
// of at least min.
func Quantity(value, min string) string {
	q, err := resource.ParseQuantity(value)
	if err != nil {
		return fmt.Sprintf("%q is not a Kubernetes quantity; write it like \"50Gi\"", value)
	}
	if q.Cmp(resource.MustParse(min)) < 0 {
		return fmt.Sprintf("%q is too small; use at least %s", value, min)
	}
	return ""
}
