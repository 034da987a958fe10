// Command pulumi-resource-kubernetes is the Pulumi Kubernetes provider, built
// from the Go module proxy for the offline main job (render mode). The two
// embedded files are the provider module's own schema and mapping, copied in
// by scripts/build-tools.sh and never committed.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var mapping []byte

func main() { provider.Serve("kubernetes", version.Version, schema, mapping) }
