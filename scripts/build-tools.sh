#!/usr/bin/env bash
# Builds the offline main job's tools into ./bin from the pinned modules in tools/:
#   bin/pulumi                      the Pulumi CLI   (tools/pulumi, a `tool` of that module)
#   bin/pulumi-resource-kubernetes  the provider     (tools/kubernetes-provider)
# Each is rebuilt only when missing or when its module changed (a stamp of the module's files).
# Cold, the CLI takes about 10 minutes on 2 cores; the Go build cache makes later builds fast.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mkdir -p bin
export GOWORK=off GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# moddir MOD: the module's directory in the module cache, downloading it first. `go list -m
# -f '{{.Dir}}'` alone prints an empty line until the module is downloaded (a fresh machine), and an
# empty path turns into '/cmd/...' further down; fail here instead, naming the module.
moddir() {
	local dir
	if ! go mod download "$1"; then
		echo "build-tools: cannot download $1 (in $(pwd)/go.mod); check GOPROXY / network access to the Go module proxy" >&2
		exit 1
	fi
	dir=$(go list -m -f '{{.Dir}}' "$1")
	if [[ -z "$dir" || ! -d "$dir" ]]; then
		echo "build-tools: module $1 has no directory in the module cache ($(go env GOMODCACHE)) after download" >&2
		exit 1
	fi
	printf '%s\n' "$dir"
}

# A tool is out of date when its module or this script changed.
stamp() { cat "tools/$1"/go.mod "tools/$1"/go.sum "${BASH_SOURCE[0]}" "tools/$1"/*.go 2>/dev/null | sha256sum | cut -c1-16 || true; }
fresh() { [[ -x "bin/$1" && -f "bin/.$1.stamp" && "$(cat "bin/.$1.stamp")" == "$(stamp "$2")" ]]; }

if fresh pulumi pulumi; then
	echo "build-tools: bin/pulumi is up to date"
else
	echo "build-tools: building bin/pulumi (slow when cold)"
	(
		cd tools/pulumi
		# The CLI reports its version from this variable; the Automation API
		# checks it before using newer flags.
		version=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
		go build -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
			-o ../../bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
	)
	stamp pulumi >bin/.pulumi.stamp
fi

if fresh pulumi-resource-kubernetes kubernetes-provider; then
	echo "build-tools: bin/pulumi-resource-kubernetes is up to date"
else
	echo "build-tools: building bin/pulumi-resource-kubernetes"
	(
		cd tools/kubernetes-provider
		# The provider's main embeds its module's schema and mapping; copy them
		# from the module cache (they are not committed).
		dir=$(moddir github.com/pulumi/pulumi-kubernetes/provider/v4)
		install -m 644 "$dir/cmd/pulumi-resource-kubernetes/schema.json" schema-embed.json
		install -m 644 "$dir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" terraform-mapping-embed.json
		version=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi-kubernetes/provider/v4)
		# That pseudo-version is the v4.25.0 release; say so to the engine.
		[[ "$version" == v4.0.0-20260115033456-f47bc2d6f199 ]] && version=v4.25.0
		go build -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${version#v}" \
			-o ../../bin/pulumi-resource-kubernetes .
	)
	stamp kubernetes-provider >bin/.pulumi-resource-kubernetes.stamp
fi
bin/pulumi version
