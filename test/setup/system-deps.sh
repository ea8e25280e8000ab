#!/usr/bin/env bash
# Installs the Debian packages the test suites run for real, when missing: redis-server (which also runs the
# Sentinels, as `redis-server --sentinel`), redis-tools (redis-cli, which creates the test Redis Cluster) and
# chromium, and curl (the HTTP/2 suite drives `curl --http2`).
# Needs root (as on CI and the project's machines); elsewhere it says what is missing and goes on.
set -uo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v curl >/dev/null 2>&1 || need+=(curl)
((${#need[@]})) || exit 0
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${need[*]} (install with: apt-get install ${need[*]})" >&2
  exit 0
fi
echo "system-deps: apt-get install ${need[*]}" >&2
# Keep Debian from starting the system redis service: the tests start their own on free ports.
made_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1; fi
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
status=$?
((made_policy)) && rm -f /usr/sbin/policy-rc.d
exit $status
