/**
 * The package-boundary check run by `deno task ok`: reads every import (static, `export ... from`,
 * `import type` and literal dynamic `import("...")`) of every workspace member and fails on
 *
 * - a cycle between packages (counting tests' imports too: a test of package A that imports B
 *   ties A below B as much as shipped code does),
 * - a relative import that leaves its package (another package is reached only by its
 *   `@tsn-proxy/NAME[/SUBPATH]` export, so its export map stays the whole of its surface),
 * - a product package's shipped code importing simulation or test code: the packages in
 *   `NOT_FOR_PRODUCT`, any `testing` export, or a test file. The one exception is the demo,
 *   reached from the CLI's entry through one lazy `import()` (`ALLOWED_LAZY`).
 *
 * A product package's test code (`*_test.ts`, `testing.ts`, anything under `testdata/`) may
 * import simulation and test code, as long as that makes no cycle.
 *
 * @example
 * ```sh
 * deno run -A tools/import_check.ts   # prints each violation, exits 1 if there is any
 * ```
 */

/** Packages whose shipped modules end up on a node (CLI, agent, plugin) or are loaded by them. */
export const PRODUCT = ["bpf", "strategies", "agent", "cni", "cli"];
/**
 * Packages (by directory) that simulate a node, test, measure, boot kernels or build the release:
 * never imported by the product's shipped code.
 */
export const NOT_FOR_PRODUCT = ["e2e", "sim", "demo", "lab", "bench", "tools/release"];

/**
 * Package cycles still known to exist, each written `a<->b`. Every entry is a debt; never add to
 * it. (The bpf <-> strategies cycle went when the `Datapath` took its strategy resolved.)
 */
export const ALLOWED_CYCLES: readonly string[] = [];

/**
 * The one lazy import of simulation code the product may hold: `tsnproxy demo` (demo/, on top of
 * sim/ and lab/) from the CLI's command table. The shipped bundle (cli/shipped.ts) has no demo.
 */
export const ALLOWED_LAZY: readonly { from: string; to: string }[] = [
  { from: "cli/main.ts", to: "@tsn-proxy/demo" },
];

/** One import found in a module's source. */
export interface Import {
  readonly specifier: string;
  /** 1-based line of the specifier. */
  readonly line: number;
  /** `import("...")` rather than a static import/export. */
  readonly dynamic: boolean;
}

/**
 * Imports of one TypeScript module, found after blanking comments and the insides of string and
 * template literals so an example in a JSDoc comment or a script in a template is not read as an
 * import. Dynamic imports of a computed specifier are not seen (the check lists none in the tree).
 *
 * @example
 * ```ts
 * scanImports('import { a } from "./a.ts";\nconst b = await import("./b.ts");');
 * // [{ specifier: "./a.ts", line: 1, dynamic: false }, { specifier: "./b.ts", line: 2, dynamic: true }]
 * ```
 */
export function scanImports(source: string): Import[] {
  const { code, strings } = blank(source);
  const out: Import[] = [];
  const lineOf = (at: number) => source.slice(0, at).split("\n").length;
  // A string literal that follows `from`, a bare `import`, or `import(` is a specifier.
  const re = /(\bfrom\s*|\bimport\s*|\bimport\s*\(\s*)$/;
  for (const s of strings) {
    const before = code.slice(Math.max(0, s.start - 200), s.start);
    const m = re.exec(before);
    if (!m) continue;
    // `x.import "..."` or `foo.from "..."` are not imports; neither is a property named import.
    const head = before.slice(0, before.length - m[0].length);
    if (/[.\w$]$/.test(head)) continue;
    out.push({ specifier: s.value, line: lineOf(s.start), dynamic: m[0].includes("(") });
  }
  return out;
}

/** The source with comments and literal contents replaced by spaces, and the string literals. */
function blank(src: string): { code: string; strings: { start: number; value: string }[] } {
  const code = src.split("");
  const strings: { start: number; value: string }[] = [];
  // Brace depth at which each open template's `${` started; a `}` at that depth resumes it.
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  const wipe = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (code[k] !== "\n") code[k] = " ";
  };
  const template = () => {
    // i is just inside a template literal (after ` or after the } closing a ${...}).
    const from = i;
    while (i < src.length) {
      if (src[i] === "\\") i += 2;
      else if (src[i] === "`") {
        wipe(from, i);
        i++;
        return;
      } else if (src[i] === "$" && src[i + 1] === "{") {
        wipe(from, i);
        templates.push(depth);
        depth++;
        i += 2;
        return;
      } else i++;
    }
    wipe(from, i);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      const stop = end < 0 ? src.length : end;
      wipe(i, stop);
      i = stop;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      wipe(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      strings.push({ start: i, value: src.slice(i + 1, j) });
      wipe(i + 1, j);
      i = j + 1;
    } else if (c === "`") {
      i++;
      template();
    } else if (c === "{") {
      depth++;
      i++;
    } else if (c === "}") {
      depth--;
      i++;
      if (templates.length > 0 && templates[templates.length - 1] === depth) {
        templates.pop();
        template();
      }
    } else i++;
  }
  return { code: code.join(""), strings };
}

/** A workspace member as the check sees it. */
export interface Member {
  /** Directory name relative to the workspace root, e.g. `bpf`. */
  readonly dir: string;
  /** `@tsn-proxy/bpf` */
  readonly name: string;
  /** Export map keys: `.`, `./datapath`, ... */
  readonly exports: readonly string[];
  /** Module paths relative to the workspace root, and their sources. */
  readonly files: ReadonlyMap<string, string>;
}

/** One broken rule, with where it is. */
export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** Test code: exempt from the product rule (not from the others). */
export function isTestFile(path: string): boolean {
  return /(_test\.ts|(^|\/)testing\.ts)$/.test(path) || /(^|\/)testdata\//.test(path);
}

function normalize(path: string): string {
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== "." && p !== "") parts.push(p);
  }
  return parts.join("/");
}

function dirname(path: string): string {
  const at = path.lastIndexOf("/");
  return at < 0 ? "" : path.slice(0, at);
}

/**
 * Every violation in a workspace, sorted by file and line.
 *
 * @example
 * ```ts
 * const files = new Map([["cli/x.ts", 'import "../bpf/a.ts";']]);
 * checkWorkspace([{ dir: "cli", name: "@tsn-proxy/cli", exports: ["."], files }]);
 * // [{ file: "cli/x.ts", line: 1, message: "relative import ../bpf/a.ts leaves package cli ..." }]
 * ```
 */
export function checkWorkspace(members: readonly Member[]): Violation[] {
  const byName = new Map(members.map((m) => [m.name, m]));
  const dirOf = (path: string) =>
    members.find((m) => path === m.dir || path.startsWith(`${m.dir}/`))?.dir;
  const out: Violation[] = [];
  // Package edges, with one place that makes each.
  const edges = new Map<string, Map<string, { file: string; line: number }>>();
  for (const m of members) {
    const product = PRODUCT.includes(m.dir);
    for (const [file, src] of m.files) {
      const test = isTestFile(file);
      for (const imp of scanImports(src)) {
        const at = { file, line: imp.line };
        let target: string | undefined;
        let testTarget = false;
        if (imp.specifier.startsWith(".")) {
          const path = normalize(`${dirname(file)}/${imp.specifier}`);
          target = dirOf(path);
          if (target !== m.dir) {
            out.push({
              ...at,
              message: `relative import ${imp.specifier} leaves package ${m.dir} (into ${
                target ?? "no package"
              }): import it through its @tsn-proxy/ export`,
            });
          }
          testTarget = isTestFile(path);
        } else if (imp.specifier.startsWith("@tsn-proxy/")) {
          const [, pkg = "", ...rest] = imp.specifier.split("/");
          const dep = byName.get(`@tsn-proxy/${pkg}`);
          const sub = rest.length === 0 ? "." : `./${rest.join("/")}`;
          if (!dep) {
            out.push({
              ...at,
              message: `${imp.specifier}: no workspace package @tsn-proxy/${pkg}`,
            });
            continue;
          }
          if (!dep.exports.includes(sub)) {
            out.push({ ...at, message: `${imp.specifier}: ${dep.name} exports no ${sub}` });
          }
          target = dep.dir;
          testTarget = /(^|\/)(testing|test)$/.test(sub);
        } else continue;
        if (target === undefined) continue;
        const lazy = product && imp.dynamic &&
          ALLOWED_LAZY.some((a) => a.from === file && a.to === imp.specifier);
        // The allowed lazy import is a plug-in point loaded at run time, not a dependency of the
        // importing package: the demo builds on the CLI's helpers, the CLI only starts it.
        if (target !== m.dir && !lazy) {
          const from = edges.get(m.dir) ?? new Map();
          edges.set(m.dir, from);
          if (!from.has(target)) from.set(target, at);
        }
        if (!product || test) continue;
        if (NOT_FOR_PRODUCT.includes(target) && !lazy) {
          out.push({
            ...at,
            message: `product package ${m.dir} imports ${imp.specifier} (package ${target}: ` +
              `simulation/test code never ships)`,
          });
        } else if (testTarget) {
          out.push({
            ...at,
            message:
              `product package ${m.dir} imports test code ${imp.specifier} from shipped code`,
          });
        }
      }
    }
  }
  out.push(...cycles(edges));
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** One violation per package cycle (strongly connected set), naming an edge of each step. */
function cycles(edges: Map<string, Map<string, { file: string; line: number }>>): Violation[] {
  const out: Violation[] = [];
  const nodes = [
    ...new Set([...edges.keys(), ...[...edges.values()].flatMap((e) => [...e.keys()])]),
  ]
    .sort();
  const reach = (from: string): Set<string> => {
    const seen = new Set<string>();
    const todo = [from];
    while (todo.length > 0) {
      for (const n of edges.get(todo.pop()!)?.keys() ?? []) {
        if (!seen.has(n)) {
          seen.add(n);
          todo.push(n);
        }
      }
    }
    return seen;
  };
  const reaches = new Map(nodes.map((n) => [n, reach(n)]));
  const done = new Set<string>();
  for (const n of nodes) {
    if (done.has(n) || !reaches.get(n)!.has(n)) continue;
    const scc = nodes.filter((o) => reaches.get(n)!.has(o) && reaches.get(o)!.has(n));
    scc.forEach((o) => done.add(o));
    if (ALLOWED_CYCLES.includes(scc.join("<->"))) continue;
    const steps: string[] = [];
    let first: { file: string; line: number } | undefined;
    for (const a of scc) {
      for (const [b, at] of edges.get(a) ?? []) {
        if (!scc.includes(b)) continue;
        first ??= at;
        steps.push(`${a} -> ${b} (${at.file}:${at.line})`);
      }
    }
    out.push({
      file: first!.file,
      line: first!.line,
      message: `package cycle ${scc.join("<->")}: ${steps.join(", ")}`,
    });
  }
  return out;
}

/** The workspace members of the deno.json at `root`, with every .ts module they hold. */
export async function loadWorkspace(root: string): Promise<Member[]> {
  const cfg = JSON.parse(await Deno.readTextFile(`${root}/deno.json`)) as { workspace: string[] };
  const members: Member[] = [];
  for (const w of cfg.workspace) {
    const dir = normalize(w);
    const own = JSON.parse(await Deno.readTextFile(`${root}/${dir}/deno.json`)) as {
      name: string;
      exports?: string | Record<string, string>;
    };
    const exports = typeof own.exports === "string" ? ["."] : Object.keys(own.exports ?? {});
    const files = new Map<string, string>();
    const walk = async (rel: string) => {
      for await (const e of Deno.readDir(`${root}/${rel}`)) {
        const path = `${rel}/${e.name}`;
        if (e.isDirectory && e.name !== "node_modules" && !e.name.startsWith(".")) await walk(path);
        else if (e.isFile && /\.(ts|tsx|mts)$/.test(e.name) && !e.name.endsWith(".d.ts")) {
          files.set(path, await Deno.readTextFile(`${root}/${path}`));
        }
      }
    };
    await walk(dir);
    members.push({ dir, name: own.name, exports, files });
  }
  return members;
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const found = checkWorkspace(await loadWorkspace(root));
  for (const v of found) console.error(`${v.file}:${v.line}: ${v.message}`);
  if (found.length > 0) {
    console.error(`import check: ${found.length} violation(s) (tools/import_check.ts)`);
    Deno.exit(1);
  }
  console.log("import check: ok");
}
