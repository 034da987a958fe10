# shellcheck shell=bash disable=SC2034 # src and note are this file's answers to build-tools.sh
# Sourced by scripts/build-tools.sh (run there, in the repository root): which installed tool can
# stand in for a build, and why (or why not), said in `note`:
#   installed_pulumi    the first `pulumi` on PATH outside bin/, at or above the pinned CLI
#                       (github.com/pulumi/pulumi/pkg/v3 in tools/pulumi/go.mod), same major version
#   installed_provider  the newest Kubernetes provider plugin the CLI installed
#                       (${PULUMI_HOME:-~/.pulumi}/plugins/resource-kubernetes-v<version>/) at or
#                       above the pinned provider (tools/kubernetes-provider/go.mod)
# Each sets src (the executable to link bin/ to) and returns 0 when one qualifies.

is_version() { [[ "$1" =~ ^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$ ]]; }
# version_at_least HAVE WANT: semantic versions (vX.Y.Z[-pre][+build]); a prerelease comes before
# its release.
version_at_least() {
	local have=${1#v} want=${2#v} i
	local -a h w
	have=${have%%+*} want=${want%%+*}
	IFS=. read -r -a h <<<"${have%%-*}"
	IFS=. read -r -a w <<<"${want%%-*}"
	for i in 0 1 2; do
		((10#${h[i]} > 10#${w[i]})) && return 0
		((10#${h[i]} < 10#${w[i]})) && return 1
	done
	[[ "$have" != *-* || "$want" == *-* ]]
}
# usable_version HAVE WANT: HAVE is WANT or newer within WANT's major version.
usable_version() {
	local hm=${1#v} wm=${2#v}
	is_version "$1" && [[ "${hm%%.*}" == "${wm%%.*}" ]] && version_at_least "$1" "$2"
}

# gomod_version MODULE MOD: the version tools/MODULE/go.mod requires of MOD (read from the file: no
# download).
gomod_version() {
	awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "tools/$1/go.mod"
}
# provider_release VERSION: the release a provider module version is. The same mapping is in
# build_kubernetes_provider, which keeps its copy so that the built provider's stamp stays valid.
provider_release() {
	[[ "$1" == v4.0.0-20260115033456-f47bc2d6f199 ]] && echo v4.25.0 || echo "$1"
}

# installed_pulumi: the first `pulumi` on PATH outside bin/ (the one the user runs), when it is at
# or above the pinned CLI. Sets src and note (why it is used, or why not).
installed_pulumi() {
	local want cand dir out have found="" bin_real=""
	want=$(gomod_version pulumi github.com/pulumi/pulumi/pkg/v3)
	[[ -d bin ]] && bin_real=$(cd bin && pwd -P)
	while IFS= read -r cand; do
		dir=$(cd "$(dirname "$cand")" && pwd)
		# Not ours: neither bin/pulumi itself nor a link into bin/ (a link to a link to itself).
		[[ "$(dirname "$(readlink -f "$cand")")" == "$bin_real" || "$(cd "$dir" && pwd -P)" == "$bin_real" ]] && continue
		found=$dir/pulumi
		break
	done < <(type -aP pulumi || true)
	if [[ -z "$found" ]]; then
		note="no pulumi on PATH"
		return 1
	fi
	if ! out=$(PULUMI_SKIP_UPDATE_CHECK=true "$found" version 2>/dev/null </dev/null); then
		note="pulumi on PATH ($found) failed to report its version"
		return 1
	fi
	have=${out%%$'\n'*}
	have=${have//[[:space:]]/}
	if ! is_version "$have"; then
		note="pulumi on PATH ($found) reports '$have', not a version"
		return 1
	elif ! usable_version "$have" "$want"; then
		note="pulumi on PATH ($found) is $have, older than the pinned $want"
		version_at_least "$have" "$want" && note="pulumi on PATH ($found) is $have, not a ${want%%.*} release like the pinned $want"
		return 1
	fi
	src=$found note="pulumi on PATH is $have, at or above the pinned $want"
}

# installed_provider: the newest Kubernetes provider plugin the CLI has installed that is at or
# above the pinned one. Sets src and note.
installed_provider() {
	local want plugins dir v best=""
	want=$(provider_release "$(gomod_version kubernetes-provider github.com/pulumi/pulumi-kubernetes/provider/v4)")
	plugins=${PULUMI_HOME:-${HOME:-}/.pulumi}/plugins
	for dir in "$plugins"/resource-kubernetes-v*; do
		v=${dir##*/resource-kubernetes-}
		# A .partial file beside the directory: the CLI has not finished installing it.
		[[ -d "$dir" && ! -e "$dir.partial" && -x "$dir/pulumi-resource-kubernetes" ]] || continue
		usable_version "$v" "$want" || continue
		if [[ -z "$best" ]] || version_at_least "$v" "$best"; then
			best=$v src=$dir/pulumi-resource-kubernetes
		fi
	done
	if [[ -z "$best" ]]; then
		note="no Kubernetes provider plugin at or above the pinned $want in $plugins"
		return 1
	fi
	note="the installed plugin is $best, at or above the pinned $want"
}
