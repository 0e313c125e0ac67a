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

/**
 * Test counts found in a runner's output (Deno's summary lines and `go test -v` results). An
 * ignored test counts as failed (`ignored` says how many of those): no test skips silently, and a
 * kernel test that cannot run must fail with its reason instead (bpf/libbpf/testutil.ts).
 */
export function countTests(raw: string): { passed: number; failed: number; ignored: number } {
  // deno colours its summary even into a pipe when FORCE_COLOR is set; strip SGR codes first.
  const output = raw.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), "");
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

async function runStep(step: Step): Promise<{ ok: boolean; passed: number; failed: number }> {
  console.log(`\n=== ${step.name}: ${step.cmd.join(" ")}`);
  const [cmd, ...args] = step.cmd as [string, ...string[]];
  const child = new Deno.Command(cmd, {
    args,
    cwd: step.cwd ?? Deno.cwd(),
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    const text = decoder.decode(chunk, { stream: true });
    output += text;
    await Deno.stdout.write(chunk);
  }
  const status = await child.status;
  const counts = countTests(output);
  if (counts.ignored) {
    console.log(`=== ${step.name}: ${counts.ignored} ignored test(s) count as failed`);
  }
  return {
    ok: status.success && counts.ignored === 0,
    passed: counts.passed,
    failed: counts.failed,
  };
}

if (import.meta.main) {
  let passed = 0, failed = 0;
  const broken: string[] = [];
  for (const step of STEPS) {
    const r = await runStep(step);
    passed += r.passed;
    failed += r.failed;
    if (!r.ok) broken.push(step.name);
  }
  console.log(`\n${broken.length ? `FAILED steps: ${broken.join(", ")}` : "all steps passed"}`);
  // A failed step without failed tests (fmt, lint, a crash) must still read as a failure.
  console.log(`${passed} passed, ${failed + (failed ? 0 : broken.length)} failed`);
  Deno.exit(broken.length ? 1 : 0);
}
