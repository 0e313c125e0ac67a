/**
 * The primary CNI rewrites or replaces its conf file over and over while the built agent keeps
 * tsn-proxy's entry in it. The primary's file carries a generation number that grows with every
 * rewrite, and a reader polls the conf dir the whole time (as libcni would load it):
 *
 * - 50 rewrites, each as soon as the entry is back: rename over the file (atomic), delete and
 *   create anew, or replace the list by a lone `.conf` (the agent wraps it again, replacing its
 *   own earlier wrap). The entry is back within 2 s every time.
 * - then 50 rewrites 10 ms apart (a crash-looping installer): the entry is back within 2 s of the
 *   last one.
 *
 * - then, with a fresh agent on the default back-off cap (1.5 s), 9 more rewrites, until the
 *   back-off has reached its cap: still back within 2 s (the cap was 60 s before; a pod created
 *   while the entry is missing starts without a saver).
 *
 * Throughout: every file the reader sees is valid JSON (no torn writes), the primary never holds
 * two entries, and the generation never goes back (the agent never writes an older version of the
 * primary's file over a newer one). Agent config: `minRewriteIntervalMs` 50 and, for the first
 * two phases, `maxRewriteBackoffMs` 200.
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { entryCount, pickPrimary } from "@tsn-proxy/agent/conflist";
import { agentHttp } from "@tsn-proxy/sim/cni_fixture";
import { CniBench, PRIMARY_FILE, since } from "./fault_fixture.ts";
import { sleep } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";

const WAITED = 50;
const BURST = 50;
const CAPPED = 9; // 3 reverts before backing off, then 100, 200, 400, 800, 1500, 1500 ms
const BOUND_MS = 2000;

interface Seen {
  reads: number;
  torn: string[];
  duplicates: number;
  backwards: string[];
  maxGen: number;
}

Deno.test("the primary CNI rewrites its conf 109 times: entry back within 2 s, never doubled, never torn, no lost update", async () => {
  requireKernelTests();
  const t0 = performance.now();
  const bench = await CniBench.create({
    agentConfig: { cni: { minRewriteIntervalMs: 50, maxRewriteBackoffMs: 200 } },
  });
  const dir = bench.node.confDir;
  const conf = join(dir, "10-tsnbr.conf");
  const list = join(dir, PRIMARY_FILE);
  let reading = true;
  const seen: Seen = { reads: 0, torn: [], duplicates: 0, backwards: [], maxGen: -1 };
  let reader: Promise<void> | undefined;
  try {
    await bench.startAgent();
    const base = bench.list().plugins[0]!;
    const genOf = (plugins: Record<string, unknown>[]) =>
      Number(plugins.find((p) => p.type === "bridge")?.["x-generation"] ?? -1);

    // The reader: what libcni would load, every few ms, bounded by count and by the test's end.
    reader = (async () => {
      for (let i = 0; i < 200_000 && reading; i++) {
        const files = new Map<string, string>();
        for (const e of Deno.readDirSync(dir)) {
          if (!/\.(conf|conflist|json)$/.test(e.name) || e.name.startsWith(".")) continue;
          try {
            files.set(e.name, Deno.readTextFileSync(join(dir, e.name)));
          } catch { /* replaced between readdir and read */ }
        }
        seen.reads++;
        for (const [name, text] of files) {
          try {
            JSON.parse(text);
          } catch {
            seen.torn.push(`${name}: ${text.slice(0, 80)}`);
          }
        }
        const { primary } = pickPrimary(files);
        if (primary) {
          if (entryCount(primary.list) > 1) seen.duplicates++;
          const gen = genOf(primary.list.plugins);
          if (gen < seen.maxGen) {
            seen.backwards.push(`${primary.name}: ${gen} after ${seen.maxGen}`);
          }
          seen.maxGen = Math.max(seen.maxGen, gen);
        }
        await sleep(2);
      }
    })();

    let gen = 0;
    const write = async (mode: number) => {
      gen++;
      const plugin = { ...base, "x-generation": gen };
      const tmp = join(dir, ".primary-installer.tmp");
      const rendered = (o: unknown) => JSON.stringify(o, null, 2);
      if (mode === 2) {
        // Replaced by a lone .conf (the agent wraps it into 10-tsnbr.conflist again).
        await Deno.writeTextFile(tmp, rendered({ ...plugin, cniVersion: "1.0.0", name: "tsnbr" }));
        await Deno.rename(tmp, conf);
        return;
      }
      const doc = rendered({ cniVersion: "1.0.0", name: "tsnbr", plugins: [plugin] });
      await Deno.writeTextFile(tmp, doc);
      if (mode === 1) {
        await Deno.remove(conf).catch(() => {});
        await Deno.remove(list).catch(() => {});
      }
      await Deno.rename(tmp, list);
      if (mode === 0) await Deno.remove(conf).catch(() => {});
    };
    /** ms until the primary holds the entry (and generation gen), or -1 after the bound. */
    const back = async (want: number): Promise<number> => {
      const tw = performance.now();
      for (let i = 0; i < 2000 && performance.now() - tw < BOUND_MS + 1000; i++) {
        const files = new Map<string, string>();
        for (const name of [PRIMARY_FILE, "10-tsnbr.conf"]) {
          try {
            files.set(name, Deno.readTextFileSync(join(dir, name)));
          } catch { /* absent */ }
        }
        const { primary } = pickPrimary(files);
        if (
          primary?.kind === "conflist" && entryCount(primary.list) === 1 &&
          primary.list.plugins.at(-1)?.type === "tsn-proxy" && genOf(primary.list.plugins) === want
        ) return since(tw);
        await sleep(3);
      }
      return -1;
    };

    const latencies: number[] = [];
    for (let i = 0; i < WAITED; i++) {
      await write(i % 3);
      latencies.push(await back(gen));
      await sleep(i % 7); // a little jitter between rewrites
    }
    const tBurst = performance.now();
    for (let i = 0; i < BURST; i++) {
      await write(i % 2);
      await sleep(10);
    }
    const burstMs = since(tBurst);
    const afterBurst = await back(gen);

    const metrics = (await agentHttp(bench.node, "/metrics")).body;
    const conflicts = metrics.split("\n").filter((l) =>
      l.startsWith("tsnproxy_reconciler_conflicts_total{")
    ).map((l) => Number(l.split(" ").at(-1))).reduce((a, b) => a + b, 0);

    // With the default back-off cap: a fresh agent (no revert history), rewrites until the
    // back-off has reached its cap (1.5 s); the entry still comes back within the bound.
    equal(await bench.stopAgent(), 0);
    const cfg = JSON.parse(await Deno.readTextFile(bench.node.configPath));
    delete cfg.cni.maxRewriteBackoffMs;
    await Deno.writeTextFile(bench.node.configPath, JSON.stringify(cfg, null, 2));
    await bench.startAgent();
    const capped: number[] = [];
    for (let i = 0; i < CAPPED; i++) {
      await write(0);
      capped.push(await back(gen));
    }
    await sleep(100);
    reading = false;
    await reader;

    const slow = [...latencies, ...capped].filter((l) => l < 0 || l > BOUND_MS);
    const leftovers = [...Deno.readDirSync(dir)].filter((e) => e.name.includes("tsn-proxy-tmp"));
    console.log(
      `conf storm: ${WAITED} rewrites (rename over / delete+create / lone .conf), entry back ` +
        `after max ${Math.max(...latencies)} ms, median ${
          [...latencies].sort((a, b) => a - b)[latencies.length >> 1]
        } ms; burst of ${BURST} in ${burstMs} ms, entry back ${afterBurst} ms after the last; ` +
        `default cap: ${CAPPED} rewrites, back after ${capped.join(", ")} ms; ` +
        `${seen.reads} reads: ${seen.torn.length} torn, ${seen.duplicates} with two entries, ` +
        `${seen.backwards.length} generations going back; ${conflicts} conflicts counted; ` +
        `${since(t0)} ms`,
    );
    equal(slow.length, 0, `entry not back within ${BOUND_MS} ms: ${[...latencies, ...capped]}`);
    ok(Math.max(...capped) >= 1000, `the back-off never reached its cap: ${capped}`);
    ok(afterBurst >= 0 && afterBurst <= BOUND_MS, `entry back ${afterBurst} ms after the burst`);
    ok(seen.reads > 500, `the reader ran ${seen.reads} times only`);
    equal(seen.torn.length, 0, `torn files: ${seen.torn.slice(0, 3).join("; ")}`);
    equal(seen.duplicates, 0, "the primary held two tsn-proxy entries");
    equal(seen.backwards.length, 0, `lost updates: ${seen.backwards.slice(0, 3).join("; ")}`);
    equal(seen.maxGen, gen);
    equal(leftovers.length, 0, "temp files left in the conf dir");
    ok(conflicts >= WAITED / 2, `conflicts counted: ${conflicts}`);
    equal((await agentHttp(bench.node, "/readyz")).status, 200);
  } finally {
    reading = false;
    await reader?.catch(() => {});
    await bench.destroy();
  }
});
