import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { checkWorkspace, type Member, scanImports } from "./import_check.ts";

function member(dir: string, files: Record<string, string>, exports = ["."]): Member {
  return {
    dir,
    name: `@tsn-proxy/${dir}`,
    exports,
    files: new Map(Object.entries(files).map(([f, s]) => [`${dir}/${f}`, s])),
  };
}

const messages = (ms: Member[]) =>
  checkWorkspace(ms).map((v) => `${v.file}:${v.line} ${v.message}`);

Deno.test("scanImports() finds static, type, re-export, side-effect and dynamic imports", () => {
  const src = [
    'import { a } from "./a.ts";',
    'import type { B } from "@tsn-proxy/b";',
    'export { c } from "./c.ts";',
    'import "./d.ts";',
    "const e = await import(",
    '  "@tsn-proxy/e/demo");',
  ].join("\n");
  assertEquals(scanImports(src).map((i) => [i.specifier, i.line, i.dynamic]), [
    ["./a.ts", 1, false],
    ["@tsn-proxy/b", 2, false],
    ["./c.ts", 3, false],
    ["./d.ts", 4, false],
    ["@tsn-proxy/e/demo", 6, true],
  ]);
});

Deno.test("scanImports() ignores comments, strings, templates and `x.from(...)`", () => {
  const src = [
    '/** @example import { x } from "../x.ts"; */',
    '// import "./y.ts";',
    'const s = "import \\"./z.ts\\"";',
    'const t = `import "./t.ts" ${f(`from "./u.ts"`)} from "./v.ts"`;',
    'const w = Array.from("./w.ts");',
    'import { ok } from "./ok.ts";',
  ].join("\n");
  assertEquals(scanImports(src).map((i) => i.specifier), ["./ok.ts"]);
});

Deno.test("checkWorkspace() passes a clean workspace", () => {
  assertEquals(
    messages([
      member("bpf", { "mod.ts": 'import "./x.ts";', "x.ts": "" }),
      member("cli", {
        "main.ts": 'import "@tsn-proxy/bpf";\nawait import("@tsn-proxy/demo");',
      }),
      // The demo builds on the CLI; the CLI's lazy import of it makes no cycle.
      member("demo", { "mod.ts": 'import "@tsn-proxy/cli";' }),
    ]),
    [],
  );
});

Deno.test("checkWorkspace() fails a relative import into another package", () => {
  assertEquals(
    messages([
      member("bpf", { "datapath/core.ts": "" }),
      member("cli", { "probe.ts": 'import { x } from "../bpf/datapath/core.ts";' }),
    ]),
    [
      "cli/probe.ts:1 relative import ../bpf/datapath/core.ts leaves package cli (into bpf): " +
      "import it through its @tsn-proxy/ export",
    ],
  );
});

Deno.test("checkWorkspace() fails a package cycle, test imports included", () => {
  assertEquals(
    messages([
      member("e2e", { "a_test.ts": 'import "@tsn-proxy/bench";' }),
      member("bench", { "mod.ts": 'import "@tsn-proxy/e2e";' }),
    ]),
    [
      "bench/mod.ts:1 package cycle bench<->e2e: bench -> e2e (bench/mod.ts:1), " +
      "e2e -> bench (e2e/a_test.ts:1)",
    ],
  );
});

Deno.test("checkWorkspace() fails product code importing simulation or test code", () => {
  assertEquals(
    messages([
      member("agent", { "testing.ts": "" }, [".", "./testing"]),
      member("sim", { "mod.ts": "" }),
      member("demo", { "mod.ts": "" }),
      member("cli", {
        "demo.ts": 'import "@tsn-proxy/sim";',
        "fixture.ts": 'import "@tsn-proxy/agent/testing";',
        "lazy.ts": 'await import("@tsn-proxy/demo");',
        "main.ts": 'import "@tsn-proxy/demo";',
        "demo_test.ts": 'import "@tsn-proxy/sim";\nimport "@tsn-proxy/agent/testing";',
      }),
    ]),
    [
      "cli/demo.ts:1 product package cli imports @tsn-proxy/sim (package sim: simulation/test " +
      "code never ships)",
      "cli/fixture.ts:1 product package cli imports test code @tsn-proxy/agent/testing from " +
      "shipped code",
      // Only the CLI entry's lazy import is allowed, and only as a dynamic import.
      "cli/lazy.ts:1 product package cli imports @tsn-proxy/demo (package demo: simulation/test " +
      "code never ships)",
      "cli/main.ts:1 product package cli imports @tsn-proxy/demo (package demo: simulation/test " +
      "code never ships)",
    ],
  );
});

Deno.test("checkWorkspace() fails an import of a subpath the package does not export", () => {
  assertEquals(
    messages([
      member("bpf", { "mod.ts": "" }),
      member("agent", { "mod.ts": 'import "@tsn-proxy/bpf/datapath/core.ts";' }),
    ]),
    ["agent/mod.ts:1 @tsn-proxy/bpf/datapath/core.ts: @tsn-proxy/bpf exports no ./datapath/core.ts"],
  );
});
