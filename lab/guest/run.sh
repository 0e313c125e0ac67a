#!/bin/sh
# Guest-side scenario runner: the lab's /init runs it from the 9p share (lab_script=...).
# Kernel command line words arrive as environment variables:
#   lab_scenarios=a,b,c   scenarios to run, in order, in this one boot
#   lab_timeout=SECONDS   per-scenario limit (SIGKILL), default 60
# A scenario NAME is lab/guest/scenarios/NAME.sh or NAME.ts; a name with a slash is a path
# relative to the repository copy (/lab/repo). Each scenario runs in a fresh network namespace
# (loopback up) with TSNLAB_RESULT set to the file where it writes its JSON result. Output lines:
#   TSNLAB {"event":"start","scenario":S}
#   TSNLAB {"event":"result","scenario":S,"data":{...}}     when the scenario wrote a result
#   TSNLAB {"event":"end","scenario":S,"exit":N,"ms":N}
#   TSNLAB {"done":true,"failed":N}                          after the last scenario
. /lab/repo/lab/guest/lib.sh

export HOME=/tmp/home DENO_DIR=/tmp/deno-dir DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1 NO_COLOR=1
export PATH=/lab/bin:/bin:/sbin:/usr/bin:/usr/sbin
mkdir -p "$HOME" "$DENO_DIR" /tmp/tsnlab

limit=${lab_timeout:-60}
failed=0
index=0

scenario_cmd() {
  case "$1" in
  */*) file="/lab/repo/$1" ;;
  *)
    file="/lab/repo/lab/guest/scenarios/$1.sh"
    [ -f "$file" ] || file="/lab/repo/lab/guest/scenarios/$1.ts"
    ;;
  esac
  [ -f "$file" ] || return 1
  case "$file" in
  # The share's deno.json lists only the shared members and none of them uses npm packages
  # (lab/share.ts): nothing to lock, nothing to fetch; --cached-only makes any attempt fail at once.
  *.ts) echo "deno run -A --cached-only --frozen $file" ;;
  *.sh) echo "sh $file" ;;
  *) echo "$file" ;;
  esac
}

for name in $(echo "$lab_scenarios" | tr ',' ' '); do
  index=$((index + 1))
  res="/tmp/tsnlab/$index.json"
  rm -f "$res"
  echo "TSNLAB {\"event\":\"start\",\"scenario\":$(json_str "$name")}"
  t0=$(uptime_ms)
  klines=$(dmesg | wc -l)
  if cmd=$(scenario_cmd "$name"); then
    # shellcheck disable=SC2086 # cmd is split on purpose (paths hold no spaces)
    TSNLAB_RESULT="$res" TSNLAB_SCENARIO="$name" timeout -s KILL "$limit" \
      unshare -n sh -c '/bin/ip link set lo up && exec "$@"' scenario $cmd
    rc=$?
  else
    echo "tsnlab: no scenario file for $name"
    rc=127
  fi
  t1=$(uptime_ms)
  if [ -s "$res" ]; then
    echo "TSNLAB {\"event\":\"result\",\"scenario\":$(json_str "$name"),\"data\":$(tr -d '\n' <"$res")}"
  fi
  echo "TSNLAB {\"event\":\"end\",\"scenario\":$(json_str "$name"),\"exit\":$rc,\"ms\":$((t1 - t0))}"
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    # Kernel messages logged while it ran (the console only shows emergencies).
    dmesg | tail -n +"$((klines + 1))" | tail -n 30 | sed 's/^/dmesg: /'
  fi
done

echo "TSNLAB {\"done\":true,\"failed\":$failed}"
