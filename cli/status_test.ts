import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { podLinkVerdict } from "@tsn-proxy/bpf/libbpf";
import type { ClockFacts } from "@tsn-proxy/agent/clock";
import {
  collectStatus,
  formatClock,
  formatStatus,
  type NodeStatus,
  stateFileFor,
  statusExitCode,
} from "./status.ts";

/** A one-shot agent stand-in on a Unix socket: answers every request with `answer`. */
function fakeAgent(path: string, answer: unknown): { close(): Promise<void> } {
  const listener = Deno.listen({ transport: "unix", path });
  const loop = (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(65536);
      await conn.read(buf);
      await conn.write(new TextEncoder().encode(JSON.stringify(answer) + "\n"));
      conn.close();
    }
  })().catch(() => {});
  return {
    async close() {
      listener.close();
      await loop;
    },
  };
}

Deno.test("collectStatus() without a datapath: not up, and asks the agent's socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-status-" });
  try {
    const down = await collectStatus({ stateDir: dir });
    equal(down.up, false);
    deepEqual(down.agent, { socket: join(dir, "cni.sock"), state: "down", detail: "no socket" });
    match(down.problems[0]!, /the datapath is not up \(no .*datapath\.json\)/);
    equal(statusExitCode(down), 1);

    const agent = fakeAgent(join(dir, "cni.sock"), {
      v: 1,
      ok: false,
      code: 50,
      msg: "not ready",
      details: "datapath up failed: ENODEV eth1",
    });
    try {
      const s = await collectStatus({ stateDir: dir });
      equal(s.agent?.state, "not-ready");
      equal(s.agent?.detail, "datapath up failed: ENODEV eth1");
      match(formatStatus(s), /^agent +not-ready \(datapath up failed: ENODEV eth1\)/m);
    } finally {
      await agent.close();
    }
    await Deno.remove(join(dir, "cni.sock")).catch(() => {});
    const ready = fakeAgent(join(dir, "cni.sock"), { v: 1, ok: true });
    try {
      equal((await collectStatus({ stateDir: dir })).agent?.state, "ready");
    } finally {
      await ready.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stateFileFor() finds the state file that names a bpffs dir", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-status-" });
  try {
    const a = join(dir, "a.json"), b = join(dir, "b.json"), bad = join(dir, "bad.json");
    const state = (bpffs: string) =>
      JSON.stringify({ version: 1, bpffs, strategy: "skb-addr", restorers: [], pods: [] });
    await Deno.writeTextFile(a, state("/sys/fs/bpf/one"));
    await Deno.writeTextFile(b, state("/sys/fs/bpf/two"));
    await Deno.writeTextFile(bad, "{");
    equal(stateFileFor("/sys/fs/bpf/two", [bad, join(dir, "none.json"), a, b]), b);
    equal(stateFileFor("/sys/fs/bpf/three", [a, b]), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatStatus() lists pods with their CNI side and the problems; exit code follows", () => {
  const s: NodeStatus = {
    source: {
      bpffs: "/sys/fs/bpf/tsn-proxy",
      stateFile: "/var/run/tsn-proxy/datapath.json",
      attachmentsFile: "/var/run/tsn-proxy/attachments.json",
      pinsOnly: false,
    },
    up: true,
    strategy: "skb-addr",
    store: "buckets",
    maxAgeMs: 100,
    trackers: [{ program: "tsn_track_clone", state: "unavailable", reason: "EPERM: x" }],
    restorers: [{ ifname: "eth1", mode: "tcx", attached: true }],
    pods: [
      {
        id: "3f2a9c1b7d4e-eth0-1a2b3c4d",
        netns: "/var/run/netns/cni-1",
        netnsExists: false,
        ifname: "eth0",
        mode: "tcx",
        maxPriority: 5,
        defaultPriority: 3,
        txtime: { allowed: true, horizonNs: "10000000" },
        missingPins: [],
        cni: {
          network: "k8s",
          containerId: "3f2a9c1b7d4e5f60",
          podNamespace: "cell",
          podName: "talker",
          optInSource: "annotation",
          status: "attached",
          since: "2026-01-01T00:00:00Z",
        },
      },
    ],
    records: { live: 1, stale: 2, capacity: 32768 },
    counters: { saved: "10", restored: "9", missed: "4" },
    missingPins: [],
    orphans: [],
    agent: { socket: "/var/run/tsn-proxy/cni.sock", state: "down", detail: "no socket" },
    problems: ["3f2a9c1b7d4e-eth0-1a2b3c4d: its netns /var/run/netns/cni-1 is gone"],
  };
  const text = formatStatus(s);
  match(text, /^strategy +skb-addr, store buckets, max age 100 ms$/m);
  match(text, /^trackers +tsn_track_clone: unavailable \(EPERM: x\)$/m);
  match(text, /^records +1 live, 2 stale, capacity 32768$/m);
  match(
    text,
    /^ {2}3f2a9c1b7d4e-eth0-1a2b3c4d {2}cell\/talker {2}eth0 tcx, max priority 5, default class 3, txtimes up to 10 ms ahead, NETNS GONE/m,
  );
  match(text, /^ {2}restored +9$/m);
  match(text, /^ {2}- 3f2a9c1b7d4e-eth0-1a2b3c4d: its netns/m);
  equal(statusExitCode(s), 1, "a pod whose netns is gone");
  const healthy = { ...s, pods: [{ ...s.pods[0]!, netnsExists: true }], problems: [] };
  equal(statusExitCode(healthy), 0, "a degraded tracker or a stopped agent is not a failure");
  ok(formatStatus(healthy).includes("problems      none"));
  equal(statusExitCode({ ...healthy, missingPins: ["/sys/fs/bpf/tsn-proxy/restorer"] }), 1);
  const degraded: NodeStatus = {
    ...healthy,
    restorers: [
      { ifname: "eth1", mode: "tcx", attached: false, missing: true },
      { ifname: "eth2", mode: "none", attached: false, missing: true, pending: true },
    ],
    problems: ["TSN interface eth2 does not exist: no restorer on it yet"],
  };
  match(
    formatStatus(degraded),
    /^restorers +eth1 \(tcx, INTERFACE GONE\), eth2 \(NO SUCH INTERFACE: attached when it appears\)$/m,
  );
  equal(statusExitCode(degraded), 0, "a missing TSN interface degrades, the node stays ready");
  // A netkit pod: its mode and scrub, and whether the saver is needed, under its line.
  const netkit = podLinkVerdict({
    ifindex: 4,
    name: "eth0",
    kind: "netkit",
    netkit: {
      primary: false,
      mode: "l3",
      policy: "pass",
      peerPolicy: "pass",
      scrub: undefined,
      peerScrub: undefined,
    },
  });
  const nk = formatStatus({ ...healthy, pods: [{ ...healthy.pods[0]!, link: netkit }] });
  match(nk, /^ {4}netkit l3, scrub not reported: .*netkit_xmit\(\) always zeroes the priority/m);
  ok(!formatStatus(healthy).includes("netkit"), "a pod without link facts has no netkit line");
});

Deno.test("collectStatus() reports the clock of a fake node: unsynchronised, veth, ptp4l silent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-status-" });
  try {
    let asked: readonly string[] = ["?"];
    const fake = (ifaces: readonly string[]): Promise<ClockFacts> => {
      asked = ifaces;
      return Promise.resolve({
        system: {
          state: "TIME_ERROR",
          status: 0x40,
          synchronized: false,
          taiOffsetS: 0,
          maxErrorUs: 16_000_000,
          estErrorUs: 16_000_000,
        },
        phcs: [{
          ifname: "tsn0",
          phcIndex: null,
          source: "ioctl",
          hardwareTx: false,
          hardwareRx: false,
        }],
        linuxptp: [{ name: "ptp4l", pid: 812, ifaces: ["tsn0"] }],
        ptp4l: { ok: false, reason: "pmc not found (install linuxptp to read offsets)" },
      });
    };
    const s = await collectStatus({ stateDir: dir, clock: fake });
    deepEqual(asked, [], "no datapath: no TSN interfaces known");
    equal(s.clock?.synced, false);
    deepEqual(s.clock?.reasons, [
      "system clock unsynchronised (adjtimex TIME_ERROR, STA_UNSYNC set)",
    ]);
    deepEqual(formatClock(s.clock!), [
      "clock         UNSYNCHRONISED (adjtimex TIME_ERROR, max error 16000000 us), TAI offset 0 s",
      "  tsn0                   no PHC (software timestamps only)",
      "  linuxptp               ptp4l (pid 812), ptp4l offset unknown (pmc not found " +
      "(install linuxptp to read offsets))",
    ]);
    match(formatStatus(s), /^clock +UNSYNCHRONISED/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
