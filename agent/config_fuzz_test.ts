/**
 * Property-based tests (fast-check) of the agent's configuration: arbitrary YAML/JSON text,
 * arbitrary documents, and one field of a valid config set to an arbitrary value. Every input
 * either parses into a config that keeps the invariants (absolute paths, bounded integers, a
 * non-empty list of interface names, a back-off cap not below the rewrite interval, a policy of
 * integers or "unlimited"), or is refused with a ConfigError that names the file and the field.
 * Never another exception. Then the real command (`cli/shipped.ts agent --config FILE`, not
 * `--check`) on refused configs: exit 2, the field in the message, and nothing created on the
 * node (conf dir, bin dir, state dir, bpffs dir all untouched).
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { stringify } from "yaml";
import { type AgentConfig, ConfigError, parseConfig } from "./config.ts";

const RUNS = 1000;

const VALID = {
  strategy: "skb-addr",
  restoreOn: ["eth1"],
  maxAgeMs: 100,
  cleanup: false,
  restorerCheckIntervalMs: 1000,
  cni: {
    confDir: "/etc/cni/net.d",
    binDir: "/opt/cni/bin",
    pluginDir: "/opt/tsn-proxy/plugin",
    optIn: "annotation",
    minRewriteIntervalMs: 1000,
    maxRewriteBackoffMs: 1500,
    resyncIntervalMs: 30000,
  },
  bpffs: "/sys/fs/bpf/tsn-proxy",
  stateDir: "/var/run/tsn-proxy",
  socketPath: "/var/run/tsn-proxy/cni.sock",
  metricsAddress: "127.0.0.1:9402",
  kubernetes: { enabled: true, kubeconfig: "" },
  policy: { defaultMaxPriority: 0, namespaces: { "robot-cell-1": 5, "tsn-system": "unlimited" } },
  logFormat: "text",
  txtime: { requireSyncedClock: true, maxPtpOffsetNs: 1000 },
  clock: { checkIntervalMs: 5000, procRoot: "/host/proc" },
};

/** Every field path of VALID (leaves and sections). */
function paths(o: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(o).flatMap(([k, v]) => {
    const p = `${prefix}${k}`;
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? [p, ...paths(v as Record<string, unknown>, `${p}.`)]
      : [p];
  });
}

const FIELDS = paths(VALID);

function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let o = doc;
  for (const p of parts.slice(0, -1)) o = o[p] as Record<string, unknown>;
  const last = parts.at(-1)!;
  if (value === DELETE) delete o[last];
  else o[last] = value;
}

const DELETE = Symbol("delete");

/** The invariants every accepted config keeps. */
function invariants(c: AgentConfig): void {
  ok(
    c.restoreOn.length > 0 &&
      c.restoreOn.every((n) =>
        /^[^/:\s]+$/.test(n) && new TextEncoder().encode(n).length <= 15 && n !== "." && n !== ".."
      ),
  );
  equal(new Set(c.restoreOn).size, c.restoreOn.length);
  for (const p of [c.cni.confDir, c.cni.binDir, c.bpffs, c.stateDir, c.socketPath]) {
    ok(p.startsWith("/"), `not absolute: ${p}`);
  }
  ok(c.cni.pluginDir === "" || c.cni.pluginDir.startsWith("/"));
  ok(c.bpffs !== "/sys/fs/bpf");
  const int = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
  ok(int(c.maxAgeMs, 1, 60_000));
  ok(int(c.restorerCheckIntervalMs, 100, 600_000));
  ok(int(c.cni.minRewriteIntervalMs, 10, 600_000));
  ok(int(c.cni.maxRewriteBackoffMs, 10, 600_000));
  ok(c.cni.maxRewriteBackoffMs >= c.cni.minRewriteIntervalMs);
  ok(int(c.cni.resyncIntervalMs, 100, 3_600_000));
  ok(c.cni.optIn === "annotation" || c.cni.optIn === "all");
  ok(c.logFormat === "text" || c.logFormat === "json");
  ok(typeof c.txtime.requireSyncedClock === "boolean");
  ok(int(c.txtime.maxPtpOffsetNs, 0, 1_000_000_000));
  ok(int(c.clock.checkIntervalMs, 100, 600_000) && c.clock.procRoot.startsWith("/"));
  ok(typeof c.cleanup === "boolean" && typeof c.kubernetes.enabled === "boolean");
  for (const v of [c.policy.defaultMaxPriority, ...Object.values(c.policy.namespaces)]) {
    ok(v === null || int(v, 0, 0xfffffffe), `policy value ${v}`);
  }
  ok(
    c.metricsAddress === "" || c.metricsAddress.startsWith("unix:/") ||
      /^.*:\d+$/.test(c.metricsAddress),
  );
}

/** Parses; returns "ok" or the ConfigError's field. Anything else fails the property. */
function outcome(text: string): { ok: true; cfg: AgentConfig } | { ok: false; err: ConfigError } {
  try {
    const cfg = parseConfig(text, "fuzz.yaml", {});
    invariants(cfg);
    return { ok: true, cfg };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw new Error(`not a ConfigError: ${e}`, { cause: e });
    ok(e.message.startsWith("fuzz.yaml: "), e.message);
    ok(e.field.length > 0);
    return { ok: false, err: e };
  }
}

Deno.test("fuzz: arbitrary text and documents are a config or a ConfigError naming the field", () => {
  let tried = 0, accepted = 0;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.jsonValue().map((v) => stringify(v)),
        fc.dictionary(fc.constantFrom(...FIELDS.filter((f) => !f.includes("."))), fc.jsonValue())
          .map((d) => JSON.stringify({ restoreOn: ["eth1"], ...d })),
      ),
      (text) => {
        tried++;
        if (outcome(text).ok) accepted++;
      },
    ),
    { numRuns: RUNS * 3 },
  );
  console.log(`config texts: ${tried}, ${accepted} accepted`);
});

Deno.test("fuzz: one field of a valid config set to anything: accepted with invariants, or refused naming that field", () => {
  let tried = 0, refused = 0;
  const value = fc.oneof(
    fc.jsonValue(),
    fc.constant(DELETE),
    fc.constantFrom(
      "",
      "/",
      "relative/path",
      "/sys/fs/bpf",
      "eth0:1",
      -1,
      0,
      1e9,
      9.5,
      "unlimited",
    ),
  );
  fc.assert(
    fc.property(fc.constantFrom(...FIELDS), value, (field, v) => {
      tried++;
      const doc = structuredClone(VALID) as Record<string, unknown>;
      setPath(doc, field, v);
      const r = outcome(JSON.stringify(doc));
      if (r.ok) return;
      refused++;
      // The error names the field that was changed (or, for a section, a field inside it; the
      // two fields that are checked against each other name either).
      const named = r.err.field;
      const related = field.includes("RewriteIntervalMs") || field.includes("RewriteBackoffMs")
        ? ["cni.minRewriteIntervalMs", "cni.maxRewriteBackoffMs"]
        : [field];
      ok(
        related.some((f) =>
          named === f || named.startsWith(`${f}.`) || named.startsWith(`${f}[`)
        ) ||
          (field === "stateDir" && named === "socketPath"),
        `changed ${field} to ${JSON.stringify(v)}, error names ${named}: ${r.err.message}`,
      );
    }),
    { numRuns: RUNS * 3 },
  );
  console.log(`single-field mutations: ${tried}, ${refused} refused`);
  ok(refused > tried / 4);
});

Deno.test("the agent command refuses bad configs with exit 2 and touches nothing on the node", async () => {
  const root = await Deno.makeTempDir({ prefix: "tsn-cfg-fuzz-" });
  const dirs = {
    confDir: join(root, "net.d"),
    binDir: join(root, "bin"),
    stateDir: join(root, "run"),
    bpffs: join(root, "bpffs", "tsn"),
  };
  const base = {
    ...VALID,
    cni: { ...VALID.cni, confDir: dirs.confDir, binDir: dirs.binDir, pluginDir: join(root, "p") },
    stateDir: dirs.stateDir,
    socketPath: join(dirs.stateDir, "cni.sock"),
    bpffs: dirs.bpffs,
    metricsAddress: "",
    kubernetes: { enabled: false },
  };
  // Refused mutations only (checked in-process first), a fixed sample so the run is bounded.
  const bad = fc.sample(
    fc.tuple(fc.constantFrom(...FIELDS), fc.jsonValue()).filter(([field, v]) => {
      const doc = structuredClone(base) as Record<string, unknown>;
      setPath(doc, field, v);
      return !outcome(JSON.stringify(doc)).ok;
    }),
    { numRuns: 12, seed: 1 },
  );
  const texts = [
    ...bad.map(([field, v]) => {
      const doc = structuredClone(base) as Record<string, unknown>;
      setPath(doc, field, v);
      return { what: `${field}=${JSON.stringify(v)}`, text: JSON.stringify(doc) };
    }),
    { what: "not YAML", text: "restoreOn: [eth1\n  - : :" },
    { what: "empty", text: "" },
  ];
  // The shipped entry point (cli/shipped.ts) with its agent command: what the image runs.
  const main = new URL("../cli/shipped.ts", import.meta.url).pathname;
  try {
    const outs = await Promise.all(texts.map(async (t, i) => {
      const file = join(root, `agent-${i}.yaml`);
      await Deno.writeTextFile(file, t.text);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", main, "agent", "--config", file],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { ...t, code: out.code, stderr: new TextDecoder().decode(out.stderr) };
    }));
    for (const o of outs) {
      equal(o.code, 2, `${o.what}: exit ${o.code}\n${o.stderr}`);
      match(o.stderr, /config error: .*agent-\d+\.yaml: /, o.what);
      ok(!/Uncaught| {4}at /.test(o.stderr), `${o.what}: a stack trace\n${o.stderr}`);
    }
    const created = [...Deno.readDirSync(root)].map((e) => e.name).filter((n) =>
      !n.startsWith("agent-")
    );
    deepEqual(created, [], "a refused config created something");
    console.log(`agent command: ${outs.length} refused configs, exit 2 each, nothing created`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
