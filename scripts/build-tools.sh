#!/usr/bin/env bash
# Builds the tools the main job and the end-to-end tests run into ./bin, from the pinned modules
# in tools/:
#   bin/pulumi                      the Pulumi CLI   (tools/pulumi, a `tool` of that module)
#   bin/pulumi-resource-kubernetes  the provider     (tools/kubernetes-provider)
#   bin/kube-apiserver, bin/kube-controller-manager, bin/kube-scheduler
#                                                    (tools/kubernetes, k8s.io/kubernetes v1.37.2)
#   bin/etcd                                         (tools/etcd)
#   bin/kwok                                         (tools/kwok, sigs.k8s.io/kwok v0.8.0)
# Each is rebuilt only when missing or when its module changed (a stamp of the module's files).
# Cold on 2 cores: the CLI about 10-20 minutes, the provider 15-20, the Kubernetes pair 5-12 (3.2
# GB peak), etcd 1-2; the Go build cache makes later builds take seconds.
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

# The control plane the end-to-end tests run (internal/testcluster): a real
# kube-apiserver, kube-controller-manager and kube-scheduler (the simulated
# cluster's) from tools/kubernetes, etcd from tools/etcd. One `go build` per
# module builds the Kubernetes binaries, so the packages they share compile once.
if fresh kube-apiserver kubernetes && fresh kube-controller-manager kubernetes && fresh kube-scheduler kubernetes; then
	echo "build-tools: bin/kube-apiserver, bin/kube-controller-manager and bin/kube-scheduler are up to date"
else
	echo "build-tools: building bin/kube-apiserver, bin/kube-controller-manager and bin/kube-scheduler (cold: 5-12 minutes and 3.2 GB peak on 2 cores; seconds when warm)"
	(
		cd tools/kubernetes
		version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
		minor=${version#v*.}
		minor=${minor%%.*}
		# Unstamped, the binaries report v0.0.0-master and clients
		# (the provider's discovery, kubectl) see an impossible version.
		ldflags=""
		for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
			ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
		done
		go build -ldflags "$ldflags" -o ../../bin/ \
			k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
			k8s.io/kubernetes/cmd/kube-scheduler
	)
	stamp kubernetes >bin/.kube-apiserver.stamp
	stamp kubernetes >bin/.kube-controller-manager.stamp
	stamp kubernetes >bin/.kube-scheduler.stamp
fi

if fresh etcd etcd; then
	echo "build-tools: bin/etcd is up to date"
else
	echo "build-tools: building bin/etcd (cold: about 1-2 minutes)"
	(
		cd tools/etcd
		go build -o ../../bin/etcd go.etcd.io/etcd/server/v3
	)
	stamp etcd >bin/.etcd.stamp
fi

# The kwok controller the simulated cluster runs (internal/testcluster with Options.KWOK).
if fresh kwok kwok; then
	echo "build-tools: bin/kwok is up to date"
else
	echo "build-tools: building bin/kwok (cold: 2-7 minutes on 2 cores, 1.2 GB peak; about 20 s warm)"
	(
		cd tools/kwok
		go build -o ../../bin/kwok sigs.k8s.io/kwok/cmd/kwok
	)
	stamp kwok >bin/.kwok.stamp
fi
bin/kube-apiserver --version
bin/etcd --version | sed -n 1p
bin/kwok --version
