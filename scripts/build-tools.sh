#!/usr/bin/env bash
# Builds the tools the main job and the end-to-end tests run into ./bin, from the pinned modules
# in tools/:
#   bin/pulumi                      the Pulumi CLI   (tools/pulumi, a `tool` of that module)
#   bin/pulumi-resource-kubernetes  the provider     (tools/kubernetes-provider)
#   bin/pulumi-language-yaml        the Pulumi YAML language host (tools/pulumi-yaml,
#                                   github.com/pulumi/pulumi-yaml v1.25.0): runs examples/yaml
#   bin/kube-apiserver, bin/kube-controller-manager, bin/kube-scheduler
#                                                    (tools/kubernetes, k8s.io/kubernetes v1.37.2)
#   bin/etcd                                         (tools/etcd)
#   bin/kwok                                         (tools/kwok, sigs.k8s.io/kwok v0.8.0)
# Each is rebuilt only when missing or stale: its stamp (bin/.<tool>.stamp) is a hash of its
# module's files and of its own build function below, so adding a tool or editing a comment here
# rebuilds nothing else.
# Cold on 2 cores: the CLI about 10-20 minutes, the provider 15-20, the YAML host about 1 (0.6 GB
# peak), the Kubernetes trio 5-12 (3.2 GB peak), etcd 1-2, kwok 2-7 (1.2 GB peak); the Go build
# cache makes later builds take seconds.
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

# stamp MODULE FUNCTION: a hash of the tool's module (go.mod, go.sum, its Go files) and of the
# function that builds it.
stamp() {
	{
		cat "tools/$1"/go.mod "tools/$1"/go.sum "tools/$1"/*.go 2>/dev/null || true
		declare -f "$2"
	} | sha256sum | cut -c1-16
}
fresh() { [[ -x "bin/$1" && -f "bin/.$1.stamp" && "$(cat "bin/.$1.stamp")" == "$(stamp "$2" "$3")" ]]; }
# write_stamp TOOL MODULE FUNCTION. A new file, not a rewrite in place: bin/ may be a hard-linked
# copy shared with other work trees (cp -al), whose stamps must not change under them.
write_stamp() {
	stamp "$2" "$3" >"bin/.$1.stamp.new"
	mv -f "bin/.$1.stamp.new" "bin/.$1.stamp"
}

# tool NAME MODULE FUNCTION MESSAGE: build bin/NAME with FUNCTION (run in tools/MODULE) unless fresh.
tool() {
	if fresh "$1" "$2" "$3"; then
		echo "build-tools: bin/$1 is up to date"
		return
	fi
	echo "build-tools: building bin/$1 ($4)"
	local start=$SECONDS
	(cd "tools/$2" && "$3")
	write_stamp "$1" "$2" "$3"
	echo "build-tools: built bin/$1 in $((SECONDS - start))s"
}

build_pulumi() {
	# The CLI reports its version from this variable; the Automation API
	# checks it before using newer flags.
	local version
	version=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
	go build -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
		-o ../../bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_kubernetes_provider() {
	# The provider's main embeds its module's schema and mapping; copy them
	# from the module cache (they are not committed).
	local dir version
	dir=$(moddir github.com/pulumi/pulumi-kubernetes/provider/v4)
	install -m 644 "$dir/cmd/pulumi-resource-kubernetes/schema.json" schema-embed.json
	install -m 644 "$dir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" terraform-mapping-embed.json
	version=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi-kubernetes/provider/v4)
	# That pseudo-version is the v4.25.0 release; say so to the engine.
	[[ "$version" == v4.0.0-20260115033456-f47bc2d6f199 ]] && version=v4.25.0
	go build -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${version#v}" \
		-o ../../bin/pulumi-resource-kubernetes .
}

build_pulumi_yaml() {
	# The language host the engine starts for `runtime: yaml` (found on PATH, like the
	# provider). Stamped with its release, as the CLI is.
	local version
	version=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi-yaml)
	go build -ldflags "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=$version" \
		-o ../../bin/pulumi-language-yaml github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml
}

tool pulumi pulumi build_pulumi "slow when cold"
tool pulumi-resource-kubernetes kubernetes-provider build_kubernetes_provider "slow when cold"
tool pulumi-language-yaml pulumi-yaml build_pulumi_yaml "cold: about a minute"
bin/pulumi version

# The control plane the end-to-end tests run (internal/testcluster): a real
# kube-apiserver, kube-controller-manager and kube-scheduler (the simulated
# cluster's) from tools/kubernetes, etcd from tools/etcd. One `go build` per
# module builds the Kubernetes binaries, so the packages they share compile once.
build_kubernetes() {
	local version minor ldflags=""
	version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
	minor=${version#v*.}
	minor=${minor%%.*}
	# Unstamped, the binaries report v0.0.0-master and clients
	# (the provider's discovery, kubectl) see an impossible version.
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	go build -ldflags "$ldflags" -o ../../bin/ \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler
}
kube=(kube-apiserver kube-controller-manager kube-scheduler)
if fresh kube-apiserver kubernetes build_kubernetes && fresh kube-controller-manager kubernetes build_kubernetes &&
	fresh kube-scheduler kubernetes build_kubernetes; then
	echo "build-tools: bin/kube-apiserver, bin/kube-controller-manager and bin/kube-scheduler are up to date"
else
	echo "build-tools: building bin/kube-apiserver, bin/kube-controller-manager and bin/kube-scheduler (cold: 5-12 minutes and 3.2 GB peak on 2 cores; seconds when warm)"
	(cd tools/kubernetes && build_kubernetes)
	for b in "${kube[@]}"; do
		write_stamp "$b" kubernetes build_kubernetes
	done
fi

build_etcd() {
	go build -o ../../bin/etcd go.etcd.io/etcd/server/v3
}
tool etcd etcd build_etcd "cold: about 1-2 minutes"

# The kwok controller the simulated cluster runs (internal/testcluster with Options.KWOK).
build_kwok() {
	go build -o ../../bin/kwok sigs.k8s.io/kwok/cmd/kwok
}
tool kwok kwok build_kwok "cold: 2-7 minutes on 2 cores, 1.2 GB peak; about 20 s warm"
bin/kube-apiserver --version
bin/etcd --version | sed -n 1p
bin/kwok --version
