#!/usr/bin/env bash
# Installs what the tests need beyond Go: Debian's nginx with the Lua module and
# cjson (the gateway tests run the rendered config in real nginx), prometheus for its
# promtool (the alert and autoscaling rules are tested with `promtool test rules`), for
# actionlint the shellcheck linter (it checks the workflows' scripts), PostgreSQL and Redis
# (Open WebUI's database bootstrap, backups and Redis config run against the real servers).
# Idempotent: does nothing when all are present. Works as root or through sudo.
set -euo pipefail

packages=(nginx libnginx-mod-http-lua lua-cjson prometheus shellcheck postgresql redis-server)
# Why each package is needed, printed before anything is installed.
declare -A why=(
	[nginx]="runs the rendered gateway config in the gateway tests"
	[libnginx-mod-http-lua]="the Lua module the gateway's router runs in"
	[lua-cjson]="JSON for the gateway's Lua router"
	[prometheus]="ships promtool, which runs the alerting rules and KEDA trigger queries over test series (components/observability/testdata)"
	[shellcheck]="actionlint checks the workflows' shell scripts with it (make lint)"
	[postgresql]="initdb/pg_ctl/psql/pg_dump: the in-cluster database's init script, connection URL and backup script run against a real server (components/webui)"
	[redis-server]="the Redis component's rendered config runs in a real server: auth required, the password accepted (components/redis)"
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-test-deps: all present (${packages[*]})"
	exit 0
fi

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "install-test-deps: installing OS packages with apt-get${sudo:+ (through sudo)}:"
for p in "${missing[@]}"; do
	echo "  $p: ${why[$p]}"
done
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages start a system nginx on port 80, a Prometheus on 9090, PostgreSQL on 5432 and
# Redis on 6379; the tests start their own nginx, PostgreSQL and Redis on free ports, and need
# only promtool.
for svc in nginx prometheus postgresql redis-server; do
	"${sudo[@]}" service "$svc" stop >/dev/null 2>&1 || true
done
echo "install-test-deps: done"
