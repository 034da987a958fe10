#!/usr/bin/env bash
# Checks the GitHub Actions workflows in .github/workflows/:
#   1. actionlint (the version pinned in tools/actionlint/go.mod) passes on them;
#   2. actionlint really fails on a deliberately broken copy (so check 1 can catch something);
#   3. the workflows run the same test command as README.md and .ci/run.
#
# Usage: scripts/check-workflows.sh [REPO_ROOT]      (default: the repository holding this script)
#
# Environment:
#   TEST_CMD            the project's test command (default: "make test")
#   REQUIRE_SHELLCHECK  set to 1 to fail when shellcheck is missing. actionlint runs shellcheck on
#                       every `run:` script when it is on PATH, and silently skips that otherwise.
#                       Debian/Ubuntu: apt-get install -y shellcheck (GitHub's runners have it).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "${1:-$script_dir/..}" && pwd)
test_cmd=${TEST_CMD:-make test}
# actionlint and its go.mod live beside this script's repository, not necessarily in $root:
# this lets the check run over a throwaway copy of a repository too.
tools_dir="$script_dir/../tools/actionlint"

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
pass() { echo "ok:   $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== building actionlint from $(cd "$tools_dir" && pwd)/go.mod"
# GOWORK=off: the tools module stands alone, whatever go.work the main repository may grow.
GOWORK=off go -C "$tools_dir" build -o bin/actionlint github.com/rhysd/actionlint/cmd/actionlint
actionlint="$tools_dir/bin/actionlint"
echo "actionlint $("$actionlint" -version | sed -n 1p)"

if command -v shellcheck >/dev/null 2>&1; then
	echo "shellcheck: $(shellcheck --version | awk '/^version:/ { print $2 }') (run: scripts are shellchecked)"
elif [[ "${REQUIRE_SHELLCHECK:-0}" == 1 ]]; then
	fail "shellcheck not found and REQUIRE_SHELLCHECK=1: apt-get install -y shellcheck"
else
	echo "WARNING: shellcheck not found: run: scripts are NOT shellchecked (apt-get install -y shellcheck)" >&2
fi

# The repository's actionlint config (self-hosted runner labels, known variables), if it grows one:
# passed explicitly so the broken copies below are judged by the same rules.
config_args=()
for f in "$root"/.github/actionlint.yaml "$root"/.github/actionlint.yml; do
	if [[ -f "$f" ]]; then
		config_args=(-config-file "$f")
		echo "actionlint config: ${f#"$root"/}"
	fi
done

shopt -s nullglob
workflows=("$root"/.github/workflows/*.yml "$root"/.github/workflows/*.yaml)
shopt -u nullglob
if ((${#workflows[@]} == 0)); then
	echo "FAIL: no workflow files in $root/.github/workflows/" >&2
	exit 1
fi

# --- 1. actionlint passes on the real workflows -----------------------------------------------
echo
echo "== 1. actionlint over ${#workflows[@]} workflow file(s)"
# Run from the root so actionlint finds the project (and any .github/actionlint.yaml) there.
if (cd "$root" && "$actionlint" -no-color "${config_args[@]}" "${workflows[@]#"$root"/}"); then
	pass "actionlint found no problems in: ${workflows[*]#"$root"/}"
else
	fail "actionlint reported the problems above"
fi

# --- 2. actionlint fails on a broken copy -------------------------------------------------------
echo
echo "== 2. actionlint must fail on deliberately broken copies"
# expect_failure NAME FROM TO PATTERN: copy the first workflow into a scratch repository, replace the
# first FROM (literal text) with TO, and require actionlint to exit non-zero with PATTERN in its
# report (so it failed for the injected reason, not something else).
expect_failure() {
	local name=$1 from=$2 to=$3 pattern=$4
	local src=${workflows[0]} dir="$tmp/$1" out rc
	mkdir -p "$dir/.github/workflows"
	local copy
	copy="$dir/.github/workflows/$(basename "$src")"
	awk -v from="$from" -v to="$to" '
		!done && (i = index($0, from)) { $0 = substr($0, 1, i - 1) to substr($0, i + length(from)); done = 1 }
		{ print }' "$src" >"$copy"
	if cmp -s "$src" "$copy"; then
		fail "$name: the injection changed nothing in $(basename "$src"); update this check"
		return
	fi
	rc=0
	out=$(cd "$dir" && "$actionlint" -no-color -oneline "${config_args[@]}" "${copy#"$dir"/}" 2>&1) || rc=$?
	if ((rc == 0)); then
		fail "$name: actionlint exited 0 on a broken workflow"
	elif ! grep -q -- "$pattern" <<<"$out"; then
		fail "$name: actionlint exited $rc but did not report '$pattern':"
		echo "$out" >&2
	else
		pass "$name: actionlint exited $rc: $(grep -m1 -- "$pattern" <<<"$out")"
	fi
}
# An undefined matrix property in an expression (single quotes: the ${{ }} is for actionlint).
# shellcheck disable=SC2016
expect_failure undefined-matrix-property \
	'runs-on: ubuntu-latest' 'runs-on: ${{ matrix.nope }}' 'property "nope" is not defined'
# A misspelt job key.
expect_failure unknown-job-key \
	'runs-on:' 'runs_on:' 'unexpected key "runs_on"'

# --- 3. one test command in README.md, .ci/run and the workflows --------------------------------
echo
echo "== 3. the test command '$test_cmd' is the same in README.md, .ci/run and the workflows"
# Lines are compared whole, with surrounding blanks removed. (No `grep -q` after a pipe: under
# pipefail its early exit can fail the writer with SIGPIPE.)
trim() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//'; }

readme="$root/README.md"
if [[ ! -f "$readme" ]]; then
	fail "README.md: not found in $root"
# A line exactly equal to the command inside a fenced code block.
elif awk -v cmd="$test_cmd" '
	{ line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line) }
	line ~ /^(```|~~~)/ { fenced = !fenced; next }
	fenced && line == cmd { found = 1 }
	END { exit !found }' "$readme"; then
	pass "README.md: has a fenced line '$test_cmd'"
else
	fail "README.md: no fenced code line exactly '$test_cmd' (the documented test command)"
fi

ci_run="$root/.ci/run"
if [[ ! -f "$ci_run" ]]; then
	fail ".ci/run: not found in $root"
elif trim <"$ci_run" | grep -xF -- "$test_cmd" >/dev/null; then
	pass ".ci/run: has the line '$test_cmd'"
else
	fail ".ci/run: no line exactly '$test_cmd' (it must run the README's test command)"
fi

# A step `run: <cmd>` (or `- run: <cmd>`), or a line of a `run: |` block, exactly equal to the command.
found_in=()
for wf in "${workflows[@]}"; do
	if trim <"$wf" | sed -E -e 's/^-[[:space:]]+//' -e 's/^run:[[:space:]]*//' | grep -xF -- "$test_cmd" >/dev/null; then
		found_in+=("${wf#"$root"/}")
	fi
done
if ((${#found_in[@]} > 0)); then
	pass "workflow: ${found_in[*]} runs '$test_cmd'"
else
	fail "workflow: no file in .github/workflows/ runs exactly '$test_cmd' (it must run the README's test command)"
fi

echo
if ((failures > 0)); then
	echo "check-workflows: $failures check(s) FAILED" >&2
	exit 1
fi
echo "check-workflows: all checks passed"
