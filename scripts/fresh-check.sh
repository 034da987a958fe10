#!/usr/bin/env bash
# Proves the README's set-up commands on a fresh machine: clones the repository (its committed
# HEAD, nothing from the work tree) into a temporary directory and runs the commands there with
# GOMODCACHE pointed at an empty directory, so a step that only worked because a module was already
# downloaded (or bin/, .state/, out/ were left over from a previous run) fails here.
#
#   scripts/fresh-check.sh            make render, then make test   (the README's two commands)
#   scripts/fresh-check.sh ci         CI=true bash .ci/run           (what CI runs)
#   scripts/fresh-check.sh render     only make render
#   COLD=1 scripts/fresh-check.sh     the same with an empty Go build cache too: a new machine
#
# Each step's wall time is printed, with the tools it built and how long each took; a `make render`
# that runs first must leave exactly its two tools in bin/ (the CLI and the Kubernetes provider,
# built or linked to installed ones: see scripts/build-tools.sh), or the check fails.
#
# Without COLD=1 the Go build cache stays warm (GOCACHE is left alone). Go keys compiled packages by
# their source directory, so the clone and the module cache live at one fixed place, FRESH_DIR
# (default $TMPDIR/llm-platform-fresh), emptied first: the first check compiles everything once
# (about as long as a cold build), later ones reuse those packages and take minutes; the module
# downloads (about 1.5 GB) are always real. With COLD=1, GOCACHE is FRESH_DIR/gocache, empty: the
# whole cold path (about an hour on 2 cores for render + test; several GB of disk). FRESH_DIR is
# removed afterwards unless KEEP=1.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(render test)
for step in "${steps[@]}"; do
	case "$step" in
	render | test | ci) ;;
	*)
		echo "fresh-check: unknown step '$step' (use render, test or ci)" >&2
		exit 2
		;;
	esac
done

tmp=${FRESH_DIR:-${TMPDIR:-/tmp}/llm-platform-fresh}
wipe() {
	# The module cache is read-only by design; make it removable first.
	chmod -R u+w "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
wipe
mkdir -p "$tmp"
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then
		echo "fresh-check: kept $tmp"
	else
		wipe
	fi
}
trap cleanup EXIT

git clone --quiet "$root" "$tmp/p"
export GOMODCACHE="$tmp/mod"
mkdir -p "$GOMODCACHE"
cache="GOCACHE=$(go env GOCACHE) (warm)"
if [ "${COLD:-0}" = 1 ]; then
	export GOCACHE="$tmp/gocache"
	mkdir -p "$GOCACHE"
	cache="GOCACHE=$GOCACHE (empty)"
fi
cd "$tmp/p"
echo "fresh-check: clone of $(git rev-parse --short HEAD) in $tmp/p, GOMODCACHE=$GOMODCACHE (empty), $cache"

# built LOG: the tools a step built, with their times ("built bin/X in Ns" lines of build-tools.sh).
built() {
	sed -n 's/^build-tools: built \(.*\) in \([0-9]*s\)$/\1 (\2)/p' "$1" | paste -sd ';' - | sed 's/;/; /g'
}

summary=()
for step in "${steps[@]}"; do
	case "$step" in
	render | test) cmd=(make "$step") ;;
	ci) cmd=(env CI=true bash .ci/run) ;;
	esac
	first_tools=0
	[ -e bin ] || first_tools=1
	echo "fresh-check: running ${cmd[*]}"
	start=$(date +%s)
	if ! "${cmd[@]}" 2>&1 | tee "$tmp/$step.log"; then
		echo "fresh-check: FAILED: ${cmd[*]} after $(($(date +%s) - start)) s on a fresh clone" >&2
		exit 1
	fi
	took=$(($(date +%s) - start))
	tools=$(built "$tmp/$step.log")
	line="${cmd[*]} passed in $took s; built: ${tools:-nothing}"
	echo "fresh-check: $line"
	summary+=("$line")
	if [ "$step" = render ] && [ "$first_tools" = 1 ]; then
		have=$(cd bin && find . -mindepth 1 -maxdepth 1 ! -name '.*' -printf '%f\n' | sort | paste -sd ' ' -)
		if [ "$have" != "pulumi pulumi-resource-kubernetes" ]; then
			echo "fresh-check: FAILED: make render on a fresh clone left '$have' in bin/, not exactly the CLI and the provider" >&2
			exit 1
		fi
	fi
done
echo "fresh-check: summary ($cache, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)):"
printf '  %s\n' "${summary[@]}"
