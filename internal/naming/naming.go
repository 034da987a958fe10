// Package naming derives Kubernetes object names from user-facing names.
//
// Users name models the way they serve them ("qwen3-0.6b", "Qwen/Qwen3-8B");
// Kubernetes wants DNS-1035 labels for Services. One function does the
// mapping so every component agrees on the name of every object.
package naming

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxLen leaves room for the suffixes components add ("-cache", "-hf-token")
// and for the StatefulSet pod and controller-revision names built from it,
// which must stay within 63 characters.
const MaxLen = 40

// KubeName maps a user-facing name to a DNS-1035 label: lower case, every run
// of characters outside [a-z0-9] becomes one '-', and leading/trailing '-' are
// dropped. It fails when nothing usable is left, when the result does not start
// with a letter, or when it is longer than MaxLen.
func KubeName(name string) (string, error) {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	out := b.String()
	switch {
	case out == "":
		return "", fmt.Errorf("%q has no letters or digits to build a Kubernetes name from; use a name like \"qwen3-0.6b\"", name)
	case len(out) > MaxLen:
		return "", fmt.Errorf("%q becomes %q, longer than %d characters; use a shorter name", name, out, MaxLen)
	}
	if errs := validation.IsDNS1035Label(out); len(errs) > 0 {
		return "", fmt.Errorf("%q becomes %q, not a valid Kubernetes name (%s); start the name with a letter", name, out, strings.Join(errs, "; "))
	}
	return out, nil
}
