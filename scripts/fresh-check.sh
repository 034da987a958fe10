#!/usr/bin/env bash
# Proves the README's set-up commands on a fresh machine: clones the repository (its committed
# HEAD, nothing from the work tree) into a temporary directory and runs the commands there with
# GOMODCACHE pointed at an empty directory, so a step that only worked because a module was already
# downloaded (or bin/, .state/, out/ were left over from a previous run) fails here.
#
#   scripts/fresh-check.sh            make render, then make test   (the README's two commands)
#   scripts/fresh-check.sh ci         CI=true bash .ci/run           (what CI runs)
#   scripts/fresh-check.sh render     only make render
#
# The Go build cache stays warm (GOCACHE is left alone). Go keys compiled packages by their source
# directory, so the clone and the module cache live at one fixed place, FRESH_DIR (default
# $TMPDIR/llm-platform-fresh), emptied first: the first check compiles everything once (about as
# long as a cold build), later ones reuse those packages and take minutes; the module downloads
# (about 1.5 GB) are always real. FRESH_DIR is removed afterwards unless KEEP=1. Each step's wall
# time is printed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(render test)

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
cd "$tmp/p"
echo "fresh-check: clone of $(git rev-parse --short HEAD) in $tmp/p, GOMODCACHE=$GOMODCACHE (empty)"

for step in "${steps[@]}"; do
	case "$step" in
	render | test) cmd=(make "$step") ;;
	ci) cmd=(env CI=true bash .ci/run) ;;
	*)
		echo "fresh-check: unknown step '$step' (use render, test or ci)" >&2
		exit 2
		;;
	esac
	echo "fresh-check: running ${cmd[*]}"
	start=$(date +%s)
	if ! "${cmd[@]}"; then
		echo "fresh-check: FAILED: ${cmd[*]} after $(($(date +%s) - start)) s on a fresh clone" >&2
		exit 1
	fi
	echo "fresh-check: ${cmd[*]} passed in $(($(date +%s) - start)) s"
done
