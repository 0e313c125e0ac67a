import { equal, match, ok } from "node:assert/strict";
import { denoRunArgv, offlineHint } from "./deno_run.ts";
import { CommandError, exec } from "./process.ts";

Deno.test("denoRunArgv() runs a workspace script from the lock and the cache only", () => {
  const argv = denoRunArgv("/repo/sim/talkers/txtime_sender.ts", "--dst", "10.0.0.2");
  equal(argv[0], Deno.execPath());
  ok(argv.includes("--cached-only") && argv.includes("--frozen"), argv.join(" "));
  ok(!argv.includes("--no-lock"), "--no-lock re-resolves the workspace's npm packages");
  equal(argv.indexOf("/repo/sim/talkers/txtime_sender.ts"), argv.length - 3);
});

Deno.test("a child missing an npm package fails at once and the error names ./dev setup", async () => {
  // An empty cache and a package nobody installed: what a talker meets when setup did not run.
  const dir = await Deno.makeTempDir({ prefix: "tsn-deno-run-" });
  try {
    await Deno.writeTextFile(`${dir}/needs_npm.ts`, 'import "npm:left-pad@1.3.0";\n');
    const argv = denoRunArgv(`${dir}/needs_npm.ts`);
    const err = await exec(["/usr/bin/env", `DENO_DIR=${dir}/deno-dir`, ...argv], {
      cwd: dir,
      timeoutMs: 30_000,
    }).then(() => null, (e: unknown) => e);
    ok(err instanceof CommandError, String(err));
    match(err.message, /--cached-only is specified/);
    match(err.message, /run `\.\/dev setup`/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("offlineHint() stays quiet for other failures", () => {
  equal(offlineHint("error: Uncaught TypeError: x is not a function"), "");
  match(
    offlineHint("error: The lockfile is out of date. Run `deno install --frozen=false`"),
    /setup/,
  );
});
