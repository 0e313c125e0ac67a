#!/bin/sh
# tsn-proxy agent container entrypoint (k8s/README.md "Lifecycle").
#
# 1. Assembles the agent's config from the two ConfigMaps (agent config + priority policy) and
#    validates it with the agent itself (`--check`): a bad ConfigMap fails the container at once.
# 2. When the datapath a previous agent left pinned runs another strategy, removes it first (the
#    agent refuses to switch a running datapath).
# 3. Runs the agent; SIGTERM/SIGINT is passed on. The agent stops and leaves datapath, plugin and
#    conf entry in place.
# 4. While the agent runs, node_helper.ts watches the DaemonSet and marks its deletion (with a
#    token the API still accepts: `kubectl delete -f` removes the ServiceAccount too).
# 5. After a SIGTERM only (never after a crash), uninstalls when the watch marked a deletion, else
#    asks node_helper.ts whether tsn-proxy is being uninstalled (DaemonSet or namespace
#    gone/deleting, RBAC removed) or only restarted, and runs `tsnproxy agent --uninstall` in the
#    first case. A refused token (401) keeps: it does not tell a deletion from an expired token.
#
# Every path can be overridden through the environment (the tests run this script on a simulated
# node); in the image they are the defaults below.
set -u

ROOT=${TSN_PROXY_ROOT:-/opt/tsn-proxy}
TSNPROXY=${TSN_PROXY_LAUNCHER:-$ROOT/tsnproxy}
DENO=${TSN_PROXY_DENO:-$ROOT/tsnproxy.d/plugin/tsn-proxy.d/deno}
HELPER=${TSN_PROXY_HELPER:-$ROOT/k8s/node_helper.ts}
AGENT_CONFIG=${TSN_PROXY_AGENT_CONFIG:-/etc/tsn-proxy/agent/agent.yaml}
POLICY_CONFIG=${TSN_PROXY_POLICY_CONFIG:-/etc/tsn-proxy/policy/policy.yaml}
WORK=${TSN_PROXY_WORK:-${TMPDIR:-/tmp}/tsn-proxy}
CONFIG=$WORK/agent.yaml

log() { echo "tsn-proxy entrypoint: $*" >&2; }

helper() {
  DENO_DIR=$WORK/deno DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 \
    "$DENO" run --quiet --no-config --no-lock --no-remote --no-npm --allow-read --allow-env --allow-net "$HELPER" "$@"
}

mkdir -p "$WORK" || exit 1
# `echo` between the two: a config whose last line has no newline must not run into `policy:`.
if ! { cat "$AGENT_CONFIG" && echo && cat "$POLICY_CONFIG"; } > "$CONFIG.tmp"; then
  log "cannot read $AGENT_CONFIG and $POLICY_CONFIG"
  exit 2
fi
mv "$CONFIG.tmp" "$CONFIG"
if ! "$TSNPROXY" agent --config "$CONFIG" --check > "$WORK/config.json"; then
  log "the configuration in the ConfigMaps is invalid (see the error above); not starting"
  exit 2
fi

if helper strategy-switch "$WORK/config.json"; then
  "$TSNPROXY" agent --config "$CONFIG" --uninstall || exit 1
fi

# The watch's marker: from this container's life only.
DELETED=$WORK/daemonset-deleted
rm -f "$DELETED"
# exec: $! is then Deno itself, which the kill below reaches.
(
  export DENO_DIR="$WORK/deno" DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1
  exec "$DENO" run --quiet --no-config --no-lock --allow-read --allow-env --allow-net \
    --allow-write="$WORK" "$HELPER" watch-deletion "$DELETED"
) &
watcher=$!

agent=
term=0
trap 'term=1; [ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null' TERM INT
"$TSNPROXY" agent --config "$CONFIG" &
agent=$!
# A signal that came before $agent was known: pass it on now.
[ "$term" = 1 ] && kill -TERM "$agent" 2>/dev/null
# `wait` returns early when a trapped signal arrives; wait again for the agent's own status.
wait "$agent"
code=$?
while kill -0 "$agent" 2>/dev/null; do
  wait "$agent"
  code=$?
done
# The agent may have exited between the interrupted `wait` and `kill -0`: its status is still
# there to collect (127: it was collected already).
if [ "$term" = 1 ]; then
  wait "$agent" 2>/dev/null
  last=$?
  [ "$last" != 127 ] && code=$last
fi

kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null

if [ "$term" = 1 ]; then
  if [ -s "$DELETED" ]; then
    log "$(cat "$DELETED"); uninstalling tsn-proxy from node ${NODE_NAME:-this node}"
    "$TSNPROXY" agent --config "$CONFIG" --uninstall
    code=$?
  elif helper should-uninstall; then
    log "uninstalling tsn-proxy from node ${NODE_NAME:-this node}"
    "$TSNPROXY" agent --config "$CONFIG" --uninstall
    code=$?
  else
    log "keeping the datapath, the plugin and the conf entry in place"
  fi
fi
exit "$code"
