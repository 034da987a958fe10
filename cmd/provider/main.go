// Command provider is the component package: the plugin pulumi-resource-llm-platform, which
// serves the platform's components (Model, Gateway, WebUI, Edge, and the whole application
// layer as Platform) to programs in any Pulumi language (TypeScript, Python, YAML, ...).
//
//	go build -o bin/pulumi-resource-llm-platform ./cmd/provider
//	go run ./cmd/provider -schema > cmd/provider/schema.json   # or: go generate ./cmd/provider
//
// The engine starts it like any provider plugin; it implements Construct only (components are
// made of Kubernetes resources, which the Kubernetes provider the caller passes creates).
package main

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
)

// Name is the package's name (the first part of every type token, llm-platform:index:*).
const Name = "llm-platform"

// Version is the package's version, reported to the engine and written into the schema.
const Version = "0.1.0"

//go:embed schema.json
var schema []byte

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "-schema" || os.Args[1] == "--schema") {
		out, err := generateSchema(repoRoot())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(out)
		return
	}
	err := provider.MainWithOptions(provider.Options{
		Name:      Name,
		Version:   Version,
		Schema:    schema,
		Construct: construct,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", Name, err)
		os.Exit(1)
	}
}

// repoRoot is the repository around the working directory (go generate runs in cmd/provider),
// for the doc comments the schema's descriptions come from.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
