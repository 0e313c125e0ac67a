/**
 * The baseline without tsn-proxy, per topology and talker kind (docs/kernel-facts.md): every
 * packet reaches the observer on nic0 with priority 0, no tstamp is invented, and txtimes arrive
 * as the running kernel treats them: intact with their clock type where it types tstamps (6.11+,
 * probed from its BTF), cleared before. Plus a positive control: the observer does count right
 * and wrong priorities when a packet keeps its metadata. Needs root.
 */
import { kernelKeepsTxtimes } from "@tsn-proxy/bpf/libbpf";
import { installObserver } from "@tsn-proxy/sim/observer";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";
import { runScenario, type TalkerRow, type TalkerSpec } from "@tsn-proxy/sim/scenario";
import { startReceiver } from "@tsn-proxy/sim/talkers/receiver";
import { runTxtimeSender } from "@tsn-proxy/sim/talkers/txtime";
import { assertEquals, assertTrue } from "@tsn-proxy/sim/testing";
import { installTamper, TAMPER, type Tamper, type TamperAction } from "@tsn-proxy/sim/tamper";
import { createTopology, TOPOLOGY_KINDS, type TopologyKind } from "@tsn-proxy/sim/topology";

const COUNT = 200;

const TALKERS: TalkerSpec[] = [
  { pod: "a", protocol: "udp", tool: "txtime", clock: "tai", priority: 5, count: COUNT },
  { pod: "a", protocol: "udp", tool: "txtime", clock: "mono", priority: 4, count: COUNT },
  { pod: "b", protocol: "udp", tool: "txtime", clock: "none", priority: 3, count: COUNT },
  { pod: "b", protocol: "udp", tool: "socat", priority: 6, count: COUNT },
  { pod: "a", protocol: "tcp", tool: "socat", priority: 2, count: COUNT },
];

/** One line per row, for the test log (and the report). */
function show(kind: string, rows: readonly TalkerRow[]): void {
  for (const r of rows) {
    console.log(
      `${kind.padEnd(10)} ${r.talker.padEnd(20)} sent=${r.sent} rx=${r.received} seen=${r.seen} ` +
        `pkts=${r.packets} prio(right/zero/wrong)=${r.prioRight}/${r.prioZero}/${r.prioWrong} ` +
        `txtime(right/missing/wrong/type)=${r.txtimeRight}/${r.txtimeMissing}/${r.txtimeWrong}/` +
        `${r.typeWrong} invented=${r.invented} mono=${r.stats.tstampMono} ` +
        `encap=${r.stats.encapsulated}`,
    );
  }
}

for (const family of [4, 6] as const) {
  for (const kind of TOPOLOGY_KINDS) {
    for (const taps of family === 4 ? [false, true] : [false]) {
      baseline(family, kind, taps);
    }
  }
}

function baseline(family: 4 | 6, kind: TopologyKind, taps: boolean): void {
  Deno.test({
    name: `observer baseline IPv${family} ${kind}${
      taps ? " with taps" : ""
    }: priority 0, txtimes intact`,
    fn: async () => {
      requireKernelTests();
      const { rows, timings } = await runScenario({ kind, family, talkers: TALKERS, taps });
      show(`${kind}${taps ? "+t" : ""}/${family}`, rows);
      console.log(`${kind} timings ${JSON.stringify(timings)}`);
      for (const r of rows) {
        const what = `${kind} ${r.talker}`;
        assertEquals(r.sent, COUNT, `${what} sent`);
        assertEquals(r.received, r.sent, `${what} received`);
        assertEquals(r.seen, r.sent, `${what} seen`);
        // The crossing into the node zeroes skb->priority; TOS 0 gives 0 on the routed paths.
        assertEquals([r.prioRight, r.prioWrong, r.prioZero], [0, 0, r.packets], `${what} prio`);
        assertEquals(r.invented, 0, `${what} invented`);
        assertEquals(r.stats.recordsBad, 0, `${what} bad records`);
        assertEquals(r.stats.encapsulated, kind === "vxlan" ? r.packets : 0, `${what} encap`);
        assertEquals(r.stats.ipv6, family === 6 ? r.packets : 0, `${what} IPv6 packets`);
        if (r.clock !== "none") {
          // 6.11+ keeps TAI and MONOTONIC txtimes across the netns crossing; before, a UDP
          // txtime is untyped and the crossing clears it.
          assertEquals(
            [r.txtimeRight, r.txtimeMissing, r.txtimeWrong, r.typeWrong],
            kernelKeepsTxtimes() ? [r.sent, 0, 0, 0] : [0, r.sent, 0, 0],
            `${what} txtime`,
          );
        } else {
          assertEquals([r.txtimeRight, r.txtimeMissing, r.txtimeWrong], [0, 0, 0], what);
        }
        if (r.protocol === "udp") {
          assertEquals(r.packets, r.sent, `${what} one datagram per record`);
          assertEquals(r.stats.tstampMono, 0, `${what} mono`);
        }
      }
    },
  });
}

Deno.test({
  name: "observer control: packets sent from the node itself keep priority and txtime",
  fn: async () => {
    requireKernelTests();
    const topo = await createTopology({ kind: "bridge-nat", pods: [] });
    try {
      const obs = await installObserver({
        ns: topo.node.ns,
        ifname: topo.node.nic,
        bpffsDir: topo.bpffsDir,
      });
      // 42000: expectations met; 42001: a ceiling below the record's priority 5; 42002: another
      // pod. (A ceiling above the record's priority changes nothing: the record rules.)
      await obs.expect(42000, { pod: 7, priority: 6, record: true });
      await obs.expect(42001, { pod: 7, priority: 4, record: true });
      await obs.expect(42002, { pod: 8, priority: 5, record: true });
      const rxs = [];
      try {
        for (const port of [42000, 42001, 42002]) {
          rxs.push(await startReceiver(topo.far.ns, "udp", port));
        }
        for (const [i, port] of [42000, 42001, 42002].entries()) {
          const r = await runTxtimeSender(topo.node.ns, {
            dst: topo.far.ip,
            port,
            count: 50,
            priority: 5,
            clock: i === 0 ? "tai" : "mono",
            pod: 7,
            intervalUs: 100,
          });
          assertEquals(r, { sent: 50, errors: 0, lastErrno: 0 });
        }
        for (const rx of rxs) assertEquals(await rx.waitRecords(50, 2000), 50);
      } finally {
        for (const rx of rxs) await rx.stop();
      }
      const right = await obs.stats(42000);
      assertEquals([right.packets, right.prioRight, right.txtimeRight], [50, 50, 50]);
      assertEquals(right.lastTstampType, 2);
      assertEquals(right.lastRecord?.clock, "tai");
      const wrong = await obs.stats(42001);
      assertEquals([wrong.prioWrong, wrong.prioRight, wrong.txtimeRight], [50, 0, 50]);
      assertEquals(wrong.lastTstampType, 1);
      const stranger = await obs.stats(42002);
      assertEquals([stranger.packets, stranger.recordsBad, stranger.records], [50, 50, 0]);
      const untouched = await obs.stats(42003);
      assertEquals(untouched.packets, 0);
      await obs.destroy();
      await obs.destroy();
    } finally {
      await topo.destroy();
    }
    assertTrue(true);
  },
});

Deno.test({
  name: "observer control: each kind of damage lands in its own counter",
  fn: async () => {
    requireKernelTests();
    const n = 50;
    const cases: Array<{ t: TalkerSpec; damage: TamperAction | null }> = [
      { t: { pod: "a", protocol: "udp", clock: "tai", priority: 5, count: n }, damage: null },
      {
        t: { pod: "a", protocol: "udp", clock: "tai", priority: 5, count: n },
        damage: { flags: TAMPER.CLEAR_TSTAMP },
      },
      {
        t: { pod: "a", protocol: "udp", clock: "tai", priority: 5, count: n },
        damage: { flags: TAMPER.SHIFT_TSTAMP, tstamp: 1000n },
      },
      {
        t: { pod: "b", protocol: "udp", clock: "tai", priority: 5, count: n },
        damage: { flags: TAMPER.RETYPE_MONO },
      },
      {
        t: { pod: "b", protocol: "udp", clock: "none", priority: 5, count: n },
        damage: { flags: TAMPER.SET_TSTAMP_TAI, tstamp: 123_456_789n },
      },
      {
        t: { pod: "b", protocol: "udp", clock: "mono", priority: 5, count: n },
        damage: { flags: TAMPER.SET_PRIORITY, priority: 5 },
      },
      {
        t: { pod: "a", protocol: "udp", tool: "socat", priority: 5, count: n },
        damage: { flags: TAMPER.SET_PRIORITY, priority: 9 },
      },
      {
        // Priorities 5 and 3 in turn, all given 5: a swap within one talker, which a judgement
        // per port (5 expected) would call all right.
        t: { pod: "b", protocol: "udp", clock: "tai", priority: 5, altPriority: 3, count: n },
        damage: { flags: TAMPER.SET_PRIORITY, priority: 5 },
      },
    ];
    let tamper: Tamper | null = null;
    try {
      const { rows } = await runScenario({
        kind: "bridge-nat",
        talkers: cases.map((c) => c.t),
        hooks: {
          async beforeTraffic(topo, ctx) {
            tamper = await installTamper({
              ns: topo.node.ns,
              ifname: topo.node.nic,
              bpffsDir: topo.bpffsDir,
            });
            for (const [i, c] of cases.entries()) {
              const port = ctx.talkers[i]?.port;
              if (c.damage && port !== undefined) await tamper.set(port, c.damage);
            }
          },
        },
      });
      show("control", rows);
      const counts = rows.map((r) => [
        r.seen,
        r.prioRight,
        r.prioZero,
        r.prioWrong,
        r.txtimeRight,
        r.txtimeMissing,
        r.txtimeWrong,
        r.typeWrong,
        r.invented,
      ]);
      assertEquals(counts, [
        [n, 0, n, 0, n, 0, 0, 0, 0], // untouched: the baseline of a kernel that keeps txtimes
        [n, 0, n, 0, 0, n, 0, 0, 0], // txtime cleared
        [n, 0, n, 0, 0, 0, n, 0, 0], // txtime shifted
        [n, 0, n, 0, 0, 0, 0, n, 0], // TAI value restored as MONOTONIC
        [n, 0, n, 0, 0, 0, 0, 0, n], // tstamp where none was asked for
        [n, n, 0, 0, n, 0, 0, 0, 0], // priority restored
        [n, 0, 0, n, 0, 0, 0, 0, 0], // another talker's priority
        [n, n / 2, 0, n / 2, n, 0, 0, 0, 0], // one talker's priorities swapped
      ]);
    } finally {
      await (tamper as Tamper | null)?.destroy();
    }
  },
});
