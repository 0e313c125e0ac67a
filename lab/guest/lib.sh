# Helpers for the lab's shell scenarios and runner (busybox sh). Source it:
#   . /lab/repo/lab/guest/lib.sh
# A scenario writes one JSON object, its result, with `result '{...}'`; the runner prints it as
#   TSNLAB {"event":"result","scenario":NAME,"data":{...}}

# JSON string body: drop control characters, escape backslash and quote, join lines with \n.
json_esc() {
  printf '%s' "$1" | tr -d '\000-\010\013-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' |
    awk 'BEGIN { ORS = "" } { if (NR > 1) print "\\n"; print }'
}

# A quoted JSON string.
json_str() {
  printf '"%s"' "$(json_esc "$1")"
}

# A JSON array of strings, one per non-empty line of stdin.
json_lines() {
  sep=""
  printf '['
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    printf '%s"%s"' "$sep" "$(json_esc "$line")"
    sep=","
  done
  printf ']'
}

# true/false for a shell status.
json_bool() {
  if [ "$1" -eq 0 ]; then printf true; else printf false; fi
}

# Writes the scenario's result object (one JSON object) where the runner reads it.
result() {
  printf '%s\n' "$1" >"${TSNLAB_RESULT:?TSNLAB_RESULT is not set: run scenarios through run.sh}"
}

# Milliseconds since boot.
uptime_ms() {
  awk '{ printf "%d", $1 * 1000 }' /proc/uptime
}
