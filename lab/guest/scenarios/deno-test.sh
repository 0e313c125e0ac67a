# Runs repository test files with `deno test` in the guest: the host's kernel tests, on this kernel.
# /lab/extra/deno-test.txt lists the files (repository paths, one a line); a line `FILE|FILTER` runs
# only FILE's tests whose names FILTER (a --filter pattern) matches, in a run of its own. The result
# sums what Deno's summary lines say; an ignored test counts as a failure (kernel tests never skip).
. /lab/repo/lab/guest/lib.sh

list=/lab/extra/deno-test.txt
[ -s "$list" ] || {
  echo "deno-test: no $list (hand it through runLab's files)"
  exit 2
}
files=$(grep -v '|' "$list" | tr '\n' ' ')
# Deno finds deno.json (the workspace's import names) from the working directory.
cd /lab/repo || exit 2
# No clang here: objects the tests compile come prebuilt from the host (bpf/toolchain.ts).
export TSN_PREBUILT_BPF_DIR=/lab/extra
out=/tmp/deno-test.out
: >"$out"
# --no-check: the host type-checked these files; here it would only cost boot time under TCG.
run_tests() {
  deno test -A --no-check --cached-only --frozen "$@" 2>&1 | tee -a "$out"
}
# shellcheck disable=SC2086 # the file list is split on purpose (repository paths hold no spaces)
[ -z "$files" ] || run_tests $files
grep '|' "$list" | while IFS='|' read -r file filter; do
  run_tests --filter "$filter" "$file"
done
passed=0 failed=0 ignored=0 runs=0
for s in $(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$out" | tr ' ' '_'); do
  line=$(echo "$s" | tr '_' ' ')
  passed=$((passed + $(echo "$line" | sed -nE 's/^[A-Z]*[a-z]* \| ([0-9]+) passed.*/\1/p')))
  failed=$((failed + $(echo "$line" | sed -nE 's/.*\| ([0-9]+) failed.*/\1/p')))
  i=$(echo "$line" | sed -nE 's/.*\| ([0-9]+) ignored.*/\1/p')
  ignored=$((ignored + ${i:-0}))
  runs=$((runs + 1))
done
[ "$runs" -gt 0 ] || {
  echo "deno-test: no summary line"
  exit 1
}
result "{\"release\":$(json_str "$(uname -r)"),\"passed\":$passed,\"failed\":$failed,\
\"ignored\":$ignored,\"files\":$(json_lines <"$list"),\
\"runs\":$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$out" | json_lines)}"
[ "$failed" -eq 0 ] && [ "$ignored" -eq 0 ]
