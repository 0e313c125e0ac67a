/**
 * The README's test command (`./dev test`, run by CI): every gate in order, each one run even when
 * an earlier one failed so a CI log shows all that is wrong at once. Ends with one line
 * `N passed, N failed` that counts the tests of every runner, and exits non-zero on any failure.
 *
 * @example
 * ```sh
 * sudo ./dev test
 * ```
 */

interface Step {
  readonly name: string;
  readonly cmd: string[];
  readonly cwd?: string;
}

const STEPS: Step[] = [
  { name: "format", cmd: ["deno", "fmt", "--check"] },
  { name: "lint", cmd: ["deno", "lint"] },
  { name: "type check", cmd: ["deno", "check"] },
  { name: "package imports", cmd: ["deno", "task", "check:imports"] },
  { name: "unit tests", cmd: ["deno", "task", "test:unit"] },
  { name: "codegen tests", cmd: ["go", "test", "-v", "./..."], cwd: "tools/bpf2ts" },
  { name: "generated files fresh", cmd: ["deno", "task", "check:gen"] },
  { name: "kernel tests", cmd: ["deno", "task", "test:kernel"] },
  // A real single-node Kubernetes (k8s/local/): ~8 min the first time (it builds the binaries),
  // ~2 min after.
  { name: "Kubernetes node e2e", cmd: ["deno", "task", "e2e"] },
  // A fresh clone, empty caches, setup with the network, then the demo and datapath kernel tests
  // without it: what a machine that ran the project before hides (committed work only).
  { name: "offline newcomer check", cmd: ["tools/offline_check.sh"] },
];

/** deno colours its output even into a pipe when FORCE_COLOR is set: SGR codes go first. */
function stripSgr(text: string): string {
  return text.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "");
}

/**
 * Test counts found in a runner's output (Deno's summary lines and `go test -v` results). An
 * ignored test counts as failed (`ignored` says how many of those): no test skips silently, and a
 * kernel test that cannot run must fail with its reason instead (bpf/libbpf/testutil.ts).
 */
export function countTests(raw: string): { passed: number; failed: number; ignored: number } {
  const output = stripSgr(raw);
  let passed = 0, failed = 0, ignored = 0;
  const summary =
    /^(?:ok|FAILED) \| (\d+) passed[^|]*\| (\d+) failed(?:[^|\n]*\| (\d+) ignored)?/gm;
  for (const m of output.matchAll(summary)) {
    passed += Number(m[1]);
    failed += Number(m[2]);
    ignored += Number(m[3] ?? 0);
  }
  passed += output.match(/^\s*--- PASS: /gm)?.length ?? 0;
  failed += output.match(/^\s*--- FAIL: /gm)?.length ?? 0;
  ignored += output.match(/^\s*--- SKIP: /gm)?.length ?? 0;
  return { passed, failed: failed + ignored, ignored };
}

/**
 * What a failed step's log says about why, in a few lines: the names Deno lists under FAILURES and
 * the last lines of its stderr. CI reports keep only the end of a long log, so the summary repeats
 * them there.
 *
 * @example
 * ```ts
 * import { failureDigest } from "./test_all.ts";
 * failureDigest("", "stale generated files:\n  bench/bpf/obj/costs.bpf.o\n");
 * // ["stale generated files:", "  bench/bpf/obj/costs.bpf.o"]
 * ```
 */
export function failureDigest(stdout: string, stderr: string, maxLines = 20): string[] {
  const lines: string[] = [];
  let inFailures = false;
  for (const line of stripSgr(stdout).split("\n")) {
    if (/^\s*FAILURES\s*$/.test(line)) inFailures = true;
    else if (/^(?:ok|FAILED) \|/.test(line)) inFailures = false;
    else if (inFailures && line.trim()) lines.push(line);
  }
  const tail = stripSgr(stderr).split("\n").filter((l) => l.trim()).slice(-6);
  return [...lines.slice(0, maxLines - tail.length), ...tail];
}

/** Copies a child's stream to ours and returns its text (the last `keep` characters of it). */
async function tee(
  from: ReadableStream<Uint8Array>,
  to: { write(p: Uint8Array): Promise<number> },
  keep = Infinity,
): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of from) {
    text += decoder.decode(chunk, { stream: true });
    if (text.length > 2 * keep) text = text.slice(-keep);
    await to.write(chunk);
  }
  return text.length > keep ? text.slice(-keep) : text;
}

async function runStep(
  step: Step,
): Promise<{ ok: boolean; passed: number; failed: number; digest: string[] }> {
  console.log(`\n=== ${step.name}: ${step.cmd.join(" ")}`);
  const [cmd, ...args] = step.cmd as [string, ...string[]];
  const child = new Deno.Command(cmd, {
    args,
    cwd: step.cwd ?? Deno.cwd(),
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const [output, errors] = await Promise.all([
    tee(child.stdout, Deno.stdout),
    tee(child.stderr, Deno.stderr, 64 * 1024),
  ]);
  const status = await child.status;
  const counts = countTests(output);
  if (counts.ignored) {
    console.log(`=== ${step.name}: ${counts.ignored} ignored test(s) count as failed`);
  }
  return {
    ok: status.success && counts.ignored === 0,
    passed: counts.passed,
    failed: counts.failed,
    digest: failureDigest(output, errors),
  };
}

if (import.meta.main) {
  let passed = 0, failed = 0;
  const broken: string[] = [];
  const digests: string[] = [];
  for (const step of STEPS) {
    const r = await runStep(step);
    passed += r.passed;
    failed += r.failed;
    if (r.ok) continue;
    broken.push(step.name);
    digests.push(`--- ${step.name}:`, ...r.digest.map((l) => `  ${l.slice(0, 300)}`));
  }
  if (digests.length) console.log(`\n${digests.join("\n")}`);
  console.log(`\n${broken.length ? `FAILED steps: ${broken.join(", ")}` : "all steps passed"}`);
  // A failed step without failed tests (fmt, lint, a crash) must still read as a failure.
  console.log(`${passed} passed, ${failed + (failed ? 0 : broken.length)} failed`);
  Deno.exit(broken.length ? 1 : 0);
}
