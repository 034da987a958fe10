// Package formertype keeps deployed stacks' URNs when a component's type token changes.
package formertype

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Aliased returns opts with an alias to each of a component's former type tokens: a stack
// deployed under an old token keeps its URN, and every child's (whose URNs include it), so the
// engine replaces nothing. opts is not modified.
func Aliased(opts []pulumi.ResourceOption, former ...string) []pulumi.ResourceOption {
	aliases := make([]pulumi.Alias, len(former))
	for i, t := range former {
		aliases[i] = pulumi.Alias{Type: pulumi.String(t)}
	}
	return append(opts[:len(opts):len(opts)], pulumi.Aliases(aliases))
}
