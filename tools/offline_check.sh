#!/usr/bin/env bash
# tools/offline_check.sh [REV]: the project as a newcomer meets it, run by `./dev test` (CI).
#   1. clone this repository's commit REV (default HEAD: committed work only) into a temp folder;
#   2. empty caches: a new HOME, DENO_DIR, npm and Go module caches (Debian packages and the Go
#      toolchain stay as the machine has them);
#   3. `./dev setup` with the network;
#   4. with the network cut off (`unshare --net`: only loopback, as in a pod netns): `./dev demo`,
#      then kernel tests of the datapath whose talkers are Deno processes in pod netns.
# Prints "offline check: PASS" or "offline check: FAIL at <step>" with the tail of that step's log.
# Needs root. Leaves nothing behind but the apt packages setup installed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rev=${1:-HEAD}
OFFLINE_TESTS=(bpf/core_kernel_test.ts e2e/datapath_kernel_test.ts)

[ "$(id -u)" = 0 ] || { echo "offline check: FAIL at start: needs root"; exit 1; }
tmp=$(mktemp -d /tmp/tsn-offline.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "--- last lines of $1:"
  tail -n 30 "$tmp/$1.log" | sed 's/\x1b\[[0-9;]*m//g'
  echo "offline check: FAIL at $1"
  exit 1
}
step() { echo "offline check: $1" >&2; }

step "clone $rev of $repo"
{ git clone -q --no-checkout "$repo" "$tmp/clone" && git -C "$tmp/clone" checkout -q "$rev"; } \
  >"$tmp/clone.log" 2>&1 || fail clone
mkdir -p "$tmp/home"
fresh=(env HOME="$tmp/home" DENO_DIR="$tmp/deno-dir" npm_config_cache="$tmp/npm-cache"
  XDG_CACHE_HOME="$tmp/xdg" GOMODCACHE="$tmp/gomod" GOCACHE="$tmp/gocache" PATH="$PATH")
offline() { unshare --net -- "${fresh[@]}" sh -c 'ip link set lo up && exec "$@"' sh "$@"; }
cd "$tmp/clone" || fail clone

step "./dev setup (network allowed)"
t0=$(date +%s)
timeout 1200 "${fresh[@]}" ./dev setup >"$tmp/setup.log" 2>&1 || fail setup
t1=$(date +%s)
step "./dev demo (no network)"
offline timeout 600 ./dev demo --duration 1 >"$tmp/demo-offline.log" 2>&1 || fail demo-offline
t2=$(date +%s)
step "deno test ${OFFLINE_TESTS[*]} (no network)"
offline timeout 1200 tools/deno/node_modules/.bin/deno test -A --cached-only --frozen \
  "${OFFLINE_TESTS[@]}" >"$tmp/kernel-tests-offline.log" 2>&1 || fail kernel-tests-offline
t3=$(date +%s)
# The test driver counts this summary line with the other runners'.
sed 's/\x1b\[[0-9;]*m//g' "$tmp/kernel-tests-offline.log" | grep -E '^(ok|FAILED) \| [0-9]+ passed'
echo "offline check: PASS (setup $((t1 - t0)) s with the network; without it: demo $((t2 - t1)) s," \
  "kernel tests $((t3 - t2)) s)"
