/**
 * VM suite, datapath matrix: e2e/datapath_kernel_test.ts's talkers on bridge-nat, routed-nat and
 * vxlan, with and without taps, for skb-addr and skb-data, through the real loader (sim/proxy.ts)
 * with the strategy's trackers loaded. First a run without the proxy, with observers on the pods'
 * eth0 too, to measure what the socket gave and what the kernel alone delivers.
 * Result: lab/vm/results.ts DatapathResult; checks: lab/vm/checks.ts checkDatapath.
 */
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { installObserver, type Observer } from "@tsn-proxy/sim/observer";
import { runScenario, type TalkerSpec } from "@tsn-proxy/sim/scenario";
import type { TopologyKind } from "@tsn-proxy/sim/topology";
import { checkDatapath } from "../../vm/checks.ts";
import { DATAPATH_COUNT } from "../../vm/scenarios.ts";
import type { DatapathResult, ProxyOut, TalkerOut } from "../../vm/results.ts";
import {
  finish,
  GUEST_TALKER_TIMEOUT_MS,
  guestKernel,
  observerOut,
  proxyOut,
  talkerOut,
  timedRun,
} from "../vm/common.ts";
import { matrixTalkers } from "@tsn-proxy/sim/matrix_talkers";

const COUNT = DATAPATH_COUNT;

/** Opted-in pods a and b, and c which did not opt in (sim/matrix_talkers.ts). */
const TALKERS: TalkerSpec[] = matrixTalkers(COUNT);

const kernel = guestKernel();

const baseline = await timedRun<DatapathResult["baseline"]>("baseline bridge-nat", async () => {
  const observers: { pod: string; observer: Observer }[] = [];
  const pod: TalkerOut[] = [];
  const { rows, timings: phases } = await runScenario({
    talkerTimeoutMs: GUEST_TALKER_TIMEOUT_MS,
    kind: "bridge-nat",
    talkers: TALKERS,
    hooks: {
      async beforeTraffic(topo, ctx) {
        // A second observer on each pod's eth0: what the socket gave, before the crossing.
        for (const p of topo.pods) {
          const observer = await installObserver({
            ns: p.ns,
            ifname: p.ifname,
            bpffsDir: `${topo.bpffsDir}/pod-${p.name}`,
          });
          observers.push({ pod: p.name, observer });
          for (const t of ctx.talkers.filter((x) => x.pod === p.name)) {
            await observer.expect(t.port, {
              pod: t.podId,
              priority: t.priority,
              record: t.protocol === "udp",
            });
          }
        }
      },
      async afterTraffic(_topo, ctx) {
        for (const { pod: name, observer } of observers) {
          const stats = await observer.allStats();
          for (const t of ctx.talkers.filter((x) => x.pod === name)) {
            const s = stats.get(t.port);
            if (!s) throw new Error(`no pod-side stats for ${t.name}`);
            pod.push(observerOut(t.name, t.protocol, s));
          }
          await observer.destroy();
        }
      },
    },
  });
  return { rows: rows.map(talkerOut), phases, proxy: null, pod };
}, () => ({ pod: [] }));

const runs: DatapathResult["runs"][number][] = [];
for (const kind of ["bridge-nat", "routed-nat", "vxlan"] as TopologyKind[]) {
  for (const taps of [false, true]) {
    for (const strategy of ["skb-addr", "skb-data"]) {
      const label = `${kind}${taps ? " taps" : ""} ${strategy}`;
      runs.push(
        await timedRun(label, async () => {
          let proxy: AttachedProxy | undefined;
          let stats: ProxyOut | null = null;
          const { rows, timings: phases } = await runScenario({
            talkerTimeoutMs: GUEST_TALKER_TIMEOUT_MS,
            kind,
            taps,
            talkers: TALKERS,
            hooks: {
              beforeTraffic(topo) {
                proxy = attachProxy(topo, { strategy, optedIn: ["a", "b"] });
              },
              afterTraffic() {
                stats = proxyOut(proxy!.stats());
                proxy!.down();
              },
            },
          });
          return { kind, taps, strategy, rows: rows.map(talkerOut), phases, proxy: stats };
        }, () => ({ kind, taps, strategy })),
      );
    }
  }
}

const result: Omit<DatapathResult, "failures"> = {
  scenario: "vm-datapath",
  kernel,
  count: COUNT,
  baseline,
  runs,
};
await finish({ ...result, failures: checkDatapath(result) });
