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
#
#   scripts/build-tools.sh                  all eight (make tools, make test, .ci/run)
#   scripts/build-tools.sh pulumi pulumi-resource-kubernetes
#                                           only the named ones (make render: the two it runs)
#   scripts/build-tools.sh --plan [TOOL...] say what would be done and why; build nothing
#
# Each is rebuilt only when missing or stale: its stamp (bin/.<tool>.stamp) is a hash of its
# module's files and of its own build function below, so adding a tool or editing a comment here
# rebuilds nothing else. Two are not built when an installed one will do (one line says which and
# why): a `pulumi` on PATH at or above the pinned CLI (github.com/pulumi/pulumi/pkg/v3 in
# tools/pulumi/go.mod, same major version), and a Kubernetes provider plugin installed by the CLI
# (${PULUMI_HOME:-~/.pulumi}/plugins/resource-kubernetes-v<version>/) at or above the pinned
# provider. bin/ then holds a symbolic link to it, so the render still finds both in bin/ and keeps
# its own PULUMI_HOME and backend (internal/render): the user's credentials, backends and plugin cache
# are not read.
#
# The cold times below (step_info) are builds with empty caches, alone on a 2-core machine of this
# kind (README, "Set-up commands"); the Go build cache makes later builds take seconds. While a build
# runs, a line every BUILD_TOOLS_TICK seconds (default 60; 0 for none) says how long it has taken.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export GOWORK=off GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# The build steps, in build order (named after their tools/ module); one `go build` each.
all_steps=(pulumi kubernetes-provider pulumi-yaml kubernetes etcd kwok)

# step_info STEP: sets fn (its build function, run in tools/STEP), bins (what it builds into bin/),
# cold (its cold build, seconds; the Kubernetes trio's is what remained of a measured total) and what
# (for people).
step_info() {
	case $1 in
	pulumi) fn=build_pulumi bins=(pulumi) cold=380 what="the Pulumi CLI" ;;
	kubernetes-provider)
		fn=build_kubernetes_provider bins=(pulumi-resource-kubernetes) cold=787
		what="the Pulumi Kubernetes provider"
		;;
	pulumi-yaml) fn=build_pulumi_yaml bins=(pulumi-language-yaml) cold=66 what="the Pulumi YAML language host, 0.6 GB peak" ;;
	kubernetes)
		fn=build_kubernetes bins=(kube-apiserver kube-controller-manager kube-scheduler) cold=800
		what="the Kubernetes control plane, 3.2 GB peak"
		;;
	etcd) fn=build_etcd bins=(etcd) cold=49 what="etcd" ;;
	kwok) fn=build_kwok bins=(kwok) cold=137 what="the kwok controller, 1.2 GB peak" ;;
	*) return 1 ;;
	esac
}

usage() {
	local step names=()
	for step in "${all_steps[@]}"; do
		step_info "$step"
		names+=("${bins[@]}")
	done
	echo "usage: scripts/build-tools.sh [--plan] [TOOL...]   (no TOOL: all of them)"
	echo "tools: ${names[*]}"
}

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

# --- The build functions. Each one's text is part of its tools' stamps: editing one rebuilds them.

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

build_etcd() {
	go build -o ../../bin/etcd go.etcd.io/etcd/server/v3
}

# The kwok controller the simulated cluster runs (internal/testcluster with Options.KWOK).
build_kwok() {
	go build -o ../../bin/kwok sigs.k8s.io/kwok/cmd/kwok
}

# show_version STEP: what the built (or linked) tools say they are.
show_version() {
	case $1 in
	pulumi) bin/pulumi version ;;
	kubernetes) bin/kube-apiserver --version ;;
	etcd) bin/etcd --version | sed -n 1p ;;
	kwok) bin/kwok --version ;;
	esac
}

# --- Stamps: is bin/TOOL the build of the current tools/ module and build function?

# stamp MODULE FUNCTION: a hash of the tool's module (go.mod, go.sum, its Go files) and of the
# function that builds it.
stamp() {
	{
		cat "tools/$1"/go.mod "tools/$1"/go.sum "tools/$1"/*.go 2>/dev/null || true
		declare -f "$2"
	} | sha256sum | cut -c1-16
}
# fresh TOOL MODULE FUNCTION: bin/TOOL was built from them (a link to an installed tool has a
# stamp of its own, "linked ...", so it is never fresh: it is checked again each time).
fresh() { [[ -x "bin/$1" && -f "bin/.$1.stamp" && "$(cat "bin/.$1.stamp")" == "$(stamp "$2" "$3")" ]]; }
# set_stamp TOOL TEXT. A new file, not a rewrite in place: bin/ may be a hard-linked copy shared
# with other work trees (cp -al), whose stamps must not change under them.
set_stamp() {
	printf '%s\n' "$2" >"bin/.$1.stamp.new"
	mv -f "bin/.$1.stamp.new" "bin/.$1.stamp"
}
write_stamp() { set_stamp "$1" "$(stamp "$2" "$3")"; }

# why_stale STEP: why its tools need a build (after step_info STEP).
why_stale() {
	local b
	for b in "${bins[@]}"; do
		if [[ -L "bin/$b" ]]; then
			echo "bin/$b links an installed one that no longer qualifies"
			return
		elif [[ ! -x "bin/$b" ]]; then
			echo "not built yet"
			return
		fi
	done
	echo "tools/$1 or $fn changed since the last build"
}

# --- Installed tools that can stand in for a build: installed_pulumi, installed_provider.
# shellcheck source=scripts/installed-tools.sh
source "$root/scripts/installed-tools.sh"

# decide STEP: sets action (fresh, link or build), why and src (what a link points at).
decide() {
	local b all_fresh=1
	step_info "$1"
	src="" note=""
	for b in "${bins[@]}"; do
		fresh "$b" "$1" "$fn" || all_fresh=0
	done
	if ((all_fresh)); then
		action=fresh why="up to date"
		return
	fi
	case $1 in
	pulumi) installed_pulumi || true ;;
	kubernetes-provider) installed_provider || true ;;
	esac
	if [[ -n "$src" ]]; then
		action=link why=$note
		return
	fi
	action=build why=$(why_stale "$1")
	[[ -z "$note" ]] || why+="; $note"
}

# bin_names: "bin/a, bin/b" for the tools of the last step_info.
bin_names() {
	local s
	s=$(printf 'bin/%s, ' "${bins[@]}")
	echo "${s%, }"
}
# minutes SECONDS: a rounded-up duration for people.
minutes() {
	if (($1 < 60)); then echo "under a minute"; else echo "about $((($1 + 59) / 60)) min"; fi
}

# --- Which tools, then the plan, then the work.

plan_only=0 selected=" "
for arg in "$@"; do
	case $arg in
	--plan) plan_only=1 ;;
	-h | --help) usage && exit 0 ;;
	-*) usage >&2 && exit 2 ;;
	*)
		# The step that builds it: naming one of the Kubernetes trio builds the three (one `go build`).
		for step in "${all_steps[@]}" ""; do
			step_info "$step" && [[ " ${bins[*]} " == *" $arg "* ]] && break
		done
		[[ -n "$step" ]] || { echo "build-tools: unknown tool '$arg'" >&2 && usage >&2 && exit 2; }
		selected+="$step "
		;;
	esac
done
steps=() total=0
for step in "${all_steps[@]}"; do
	if [[ "$selected" == " " || "$selected" == *" $step "* ]]; then
		step_info "$step"
		steps+=("$step") total=$((total + ${#bins[@]}))
	fi
done

# The plan: one line per step saying what is done and why.
actions=() srcs=() labels=() todo=0 todo_cold=0 n=0
for step in "${steps[@]}"; do
	decide "$step"
	first=$((n + 1)) n=$((n + ${#bins[@]}))
	if ((first == n)); then label="tool $n of $total"; else label="tools $first-$n of $total"; fi
	labels+=("$label") actions+=("$action") srcs+=("$src")
	case $action in
	fresh) echo "build-tools: $label, $(bin_names) ($what): up to date" ;;
	link) echo "build-tools: $label, $(bin_names) ($what): not built, a link to $src: $why" ;;
	build)
		echo "build-tools: $label, $(bin_names) ($what): to build, $(minutes "$cold") cold: $why"
		todo=$((todo + ${#bins[@]})) todo_cold=$((todo_cold + cold))
		;;
	esac
done
if ((todo == 0)); then
	echo "build-tools: nothing to build"
else
	echo "build-tools: $todo of $total tools to build, $(minutes "$todo_cold") on 2 cores with an empty Go build cache (seconds when it is warm)"
fi
((plan_only)) && exit 0
mkdir -p bin

# The heartbeat of a long build: a line every BUILD_TOOLS_TICK seconds. Its sleep holds no copy of
# stdout, so nothing is left writing to it once the heartbeat is killed (on any exit).
heartbeat=""
stop_heartbeat() {
	[[ -z "$heartbeat" ]] || kill "$heartbeat" 2>/dev/null || true
	heartbeat=""
}
trap stop_heartbeat EXIT
start_heartbeat() {
	local tick=${BUILD_TOOLS_TICK:-60} start=$SECONDS
	((tick > 0)) || return 0
	while sleep "$tick" >/dev/null 2>&1; do
		echo "build-tools: still building $1: $((SECONDS - start)) s so far ($2 cold)"
	done &
	heartbeat=$!
}

# build STEP LABEL: run its build function in tools/STEP and stamp what it built.
build() {
	local start=$SECONDS b
	step_info "$1"
	echo "build-tools: $2: building $(bin_names) ($what): $(minutes "$cold") cold, $(minutes "$todo_cold") left in all when cold"
	# A link to an installed tool goes first: the build must never write through it.
	for b in "${bins[@]}"; do
		[[ ! -L "bin/$b" ]] || rm -f "bin/$b"
	done
	start_heartbeat "$(bin_names)" "$(minutes "$cold")"
	(cd "tools/$1" && "$fn")
	stop_heartbeat
	for b in "${bins[@]}"; do
		write_stamp "$b" "$1" "$fn"
	done
	echo "build-tools: built $(bin_names) in $((SECONDS - start))s"
}

# link STEP SRC: bin/TOOL becomes a link to the installed SRC; its stamp says so (never fresh).
link() {
	step_info "$1"
	ln -sfn "$2" "bin/${bins[0]}"
	set_stamp "${bins[0]}" "linked $2"
}

for i in "${!steps[@]}"; do
	case ${actions[i]} in
	link) link "${steps[i]}" "${srcs[i]}" ;;
	build)
		build "${steps[i]}" "${labels[i]}"
		todo_cold=$((todo_cold - cold))
		;;
	esac
done
for step in "${steps[@]}"; do
	show_version "$step"
done
