# Runs repository test files with `deno test` in the guest: the host's kernel tests, on this kernel.
# /lab/extra/deno-test.txt lists the files (repository paths, one a line). The result counts what
# Deno's summary line says; an ignored test counts as a failure (kernel tests never skip).
. /lab/repo/lab/guest/lib.sh

list=/lab/extra/deno-test.txt
[ -s "$list" ] || {
  echo "deno-test: no $list (hand it through runLab's files)"
  exit 2
}
files=$(tr '\n' ' ' <"$list")
# Deno finds deno.json (the workspace's import names) from the working directory.
cd /lab/repo || exit 2
# No clang here: objects the tests compile come prebuilt from the host (bpf/toolchain.ts).
export TSN_PREBUILT_BPF_DIR=/lab/extra
out=/tmp/deno-test.out
# --no-check: the host type-checked these files; here it would only cost boot time under TCG.
# shellcheck disable=SC2086 # the file list is split on purpose (repository paths hold no spaces)
deno test -A --no-check --cached-only --frozen $files 2>&1 | tee "$out"
summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$out" | tail -n 1)
passed=$(echo "$summary" | sed -nE 's/^[A-Z]*[a-z]* \| ([0-9]+) passed.*/\1/p')
failed=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) failed.*/\1/p')
ignored=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) ignored.*/\1/p')
[ -n "$passed" ] || {
  echo "deno-test: no summary line"
  exit 1
}
result "{\"release\":$(json_str "$(uname -r)"),\"passed\":$passed,\"failed\":$failed,\
\"ignored\":${ignored:-0},\"files\":$(json_lines <"$list")}"
[ "$failed" -eq 0 ] && [ "${ignored:-0}" -eq 0 ]
