/**
 * `tsnproxy datapath` against the kernel: bad input changes nothing; up, attach, stats, detach and
 * down leave the kernel and bpffs exactly as they found them.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { basename, join } from "node:path";
import { createNetns, deleteNetns, ipBatch, type Netns, uniquePrefix } from "@tsn-proxy/sim";
import { ifindex, probeFexit, tcxQuery, withNetns } from "@tsn-proxy/bpf/libbpf";
import { Datapath, loadState } from "@tsn-proxy/bpf/datapath";
import { datapath as runDatapath } from "./datapath.ts";
import { UsageError } from "./args.ts";
import { existsSync } from "node:fs";

let lastError = "";
/** Like `tsnproxy` itself: usage errors exit 2, other failures 1. */
function datapath(argv: string[]): number {
  try {
    return runDatapath(argv);
  } catch (e) {
    lastError = String(e);
    return e instanceof UsageError ? 2 : 1;
  }
}

async function withNode(
  fn: (
    ctx: { node: string; pod: string; bpffs: string; state: string; nodeNs: Netns },
  ) => void | Promise<void>,
) {
  const prefix = uniquePrefix();
  const node = await createNetns(`${prefix}-node`);
  const pod = await createNetns(`${prefix}-pod`, { ipv6: false });
  const stateDir = await Deno.makeTempDir({ prefix: `${prefix}-state-` });
  try {
    await ipBatch(node, [
      `link add nic0 type veth peer name nic0p`,
      `link set nic0 up`,
      `link set nic0p up`,
      `link add vethpod type veth peer name eth0 netns ${pod.name}`,
      `link set vethpod up`,
    ]);
    await ipBatch(pod, [`link set eth0 up`]);
    await fn({
      nodeNs: node,
      node: node.path,
      pod: pod.path,
      bpffs: `/sys/fs/bpf/${prefix}`,
      state: join(stateDir, "datapath.json"),
    });
  } finally {
    await deleteNetns(pod);
    await deleteNetns(node);
    await Deno.remove(stateDir, { recursive: true });
    await Deno.remove(`/sys/fs/bpf/${prefix}`, { recursive: true }).catch(() => {});
  }
}

Deno.test("datapath up refuses an unknown strategy or interface before touching anything", async () => {
  await withNode(({ node, bpffs, state }) => {
    const base = ["--bpffs", bpffs, "--state", state];
    equal(
      withNetns(
        node,
        () => datapath(["up", "--strategy", "skb-hash", "--restore-on", "nic0", ...base]),
      ),
      2,
    );
    equal(existsSync(bpffs) || existsSync(state), false, "nothing created for a bad strategy");
    let code = 0;
    try {
      code = withNetns(
        node,
        () => datapath(["up", "--strategy", "skb-addr", "--restore-on", "nic0,nope0", ...base]),
      );
    } catch (e) {
      ok(String(e).includes("ENODEV"), String(e));
      code = 1;
    }
    equal(code, 1);
    ok(lastError.includes("ENODEV") && lastError.includes("--allow-missing"), lastError);
    equal(
      existsSync(join(bpffs, "records")) || existsSync(state),
      false,
      "nothing pinned for an unknown interface",
    );
    equal(withNetns(node, () => tcxQuery(ifindex("nic0"), "egress")).length, 0, "nothing attached");
  });
});

Deno.test("datapath up, attach, stats, detach, down: a full cycle leaves nothing behind", async () => {
  await withNode(({ node, pod, bpffs, state }) => {
    const base = ["--bpffs", bpffs, "--state", state];
    equal(
      withNetns(
        node,
        () => datapath(["up", "--strategy", "skb-addr", "--restore-on", "nic0", ...base]),
      ),
      0,
    );
    equal(
      withNetns(
        node,
        () => datapath(["up", "--strategy", "skb-addr", "--restore-on", "nic0", ...base]),
      ),
      0,
      "up is idempotent",
    );
    equal(
      withNetns(node, () => tcxQuery(ifindex("nic0"), "egress")).length,
      1,
      "one restorer, not two",
    );
    equal(
      datapath([
        "attach",
        "--netns",
        pod,
        "--ifname",
        "eth0",
        "--id",
        "pod1",
        "--max-priority",
        "3",
        ...base,
      ]),
      0,
    );
    equal(
      datapath(["attach", "--netns", pod, "--ifname", "eth0", "--id", "pod1", ...base]),
      0,
      "attach is idempotent",
    );
    equal(withNetns(pod, () => tcxQuery(ifindex("eth0"), "egress")).length, 1);

    const out: string[] = [];
    const log = console.log;
    console.log = (s: string) => out.push(s);
    try {
      equal(datapath(["stats", "--json", ...base]), 0);
    } finally {
      console.log = log;
    }
    const stats = JSON.parse(out.join("\n"));
    equal(stats.state.strategy, "skb-addr");
    deepStrictEqual(
      stats.state.pods.map((p: { id: string; maxPriority: number }) => [p.id, p.maxPriority]),
      [["pod1", 3]],
    );
    const fexit = probeFexit(); // what this kernel does with fexit (docs/kernel-facts.md)
    deepStrictEqual(
      stats.state.trackers.map((t: { state: string }) => t.state),
      [fexit.loads ? "attached" : "unavailable"],
    );
    if (!fexit.loads) ok(String(stats.state.trackers[0].reason).startsWith(fexit.code));
    deepStrictEqual(stats.missingPins, []);

    equal(datapath(["detach", "--id", "pod1", ...base]), 0);
    equal(withNetns(pod, () => tcxQuery(ifindex("eth0"), "egress")).length, 0, "saver gone");
    equal(
      datapath(["detach", "--id", "pod1", ...base]),
      1,
      "a second detach says there is nothing",
    );
    equal(withNetns(node, () => datapath(["down", ...base])), 0);
    equal(withNetns(node, () => tcxQuery(ifindex("nic0"), "egress")).length, 0, "restorer gone");
    equal(existsSync(bpffs), false, "bpffs dir removed");
    equal(existsSync(state), false, "state file removed");
  });
});

Deno.test("datapath attach that fails half-way rolls back: no saver, no pins, no state entry", async () => {
  await withNode(({ node, pod, bpffs, state }) => {
    const base = ["--bpffs", bpffs, "--state", state];
    equal(
      withNetns(
        node,
        () => datapath(["up", "--strategy", "skb-data", "--restore-on", "nic0", ...base]),
      ),
      0,
    );
    // Occupy the link's pin path: the saver loads and attaches, then pinning its link fails.
    Deno.mkdirSync(join(bpffs, "pods", "pod1", "link"), { recursive: true });
    equal(datapath(["attach", "--netns", pod, "--ifname", "eth0", "--id", "pod1", ...base]), 1);
    ok(lastError.includes("EEXIST"), lastError);
    equal(
      withNetns(pod, () => tcxQuery(ifindex("eth0"), "egress")).length,
      0,
      "saver detached again",
    );
    equal(existsSync(join(bpffs, "pods", "pod1")), false, "pod pins removed");
    equal(JSON.parse(Deno.readTextFileSync(state)).pods.length, 0, "no state entry");
    equal(withNetns(node, () => datapath(["down", ...base])), 0);
  });
});

Deno.test("datapath restorer on a dotted interface name (a VLAN such as nic0.100) pins and detaches", async () => {
  await withNode(({ node, bpffs, state }) => {
    const base = ["--bpffs", bpffs, "--state", state];
    // No 8021q here: a veth with a dotted name stands in for the VLAN device.
    const made = new Deno.Command("ip", {
      args: [
        "-n",
        basename(node),
        "link",
        "add",
        "nic0.100",
        "type",
        "veth",
        "peer",
        "name",
        "v100p",
      ],
    }).outputSync();
    equal(made.success, true, new TextDecoder().decode(made.stderr));
    equal(
      withNetns(
        node,
        () => datapath(["up", "--strategy", "skb-addr", "--restore-on", "nic0.100", ...base]),
      ),
      0,
      lastError,
    );
    equal(withNetns(node, () => tcxQuery(ifindex("nic0.100"), "egress")).length, 1);
    equal(withNetns(node, () => datapath(["down", ...base])), 0);
    equal(withNetns(node, () => tcxQuery(ifindex("nic0.100"), "egress")).length, 0);
  });
});

Deno.test("datapath up --allow-missing: a missing interface is pending, attached when it appears", async () => {
  await withNode(async ({ node, nodeNs, bpffs, state }) => {
    const base = ["--bpffs", bpffs, "--state", state];
    const hook = (ifname: string) => withNetns(node, () => tcxQuery(ifindex(ifname), "egress"));
    // An invalid name is refused even with the flag: it could never appear.
    equal(
      withNetns(
        node,
        () =>
          datapath(["up", "--strategy", "skb-addr", "--restore-on", "nic0,a/b", "--allow-missing"]
            .concat(base)),
      ),
      2,
    );
    equal(existsSync(state), false, "nothing recorded for an invalid name");
    try {
      equal(
        withNetns(node, () =>
          datapath([
            "up",
            "--strategy",
            "skb-addr",
            "--restore-on",
            "nic0,nic9",
            "--allow-missing",
            ...base,
          ])),
        0,
        lastError,
      );
      const s = loadState(state)!;
      deepStrictEqual(s.restorers.map((r) => r.ifname), ["nic0"]);
      deepStrictEqual(s.pendingRestorers, ["nic9"]);
      equal(hook("nic0").length, 1, "the present interface has its restorer");
      deepStrictEqual(
        withNetns(node, () => Datapath.open({ stateFile: state }).check()).map((
          c,
        ) => [c.ifname, c.outcome]),
        [["nic0", "ok"], ["nic9", "missing"]],
      );

      await ipBatch(nodeNs, ["link add nic9 type veth peer name nic9p", "link set nic9 up"]);
      const checks = withNetns(node, () => Datapath.open({ stateFile: state }).check());
      deepStrictEqual(checks.map((c) => [c.ifname, c.outcome]), [["nic0", "ok"], [
        "nic9",
        "attached",
      ]]);
      equal(checks[1]!.ifindex, withNetns(node, () => ifindex("nic9")));
      const after = loadState(state)!;
      deepStrictEqual(after.restorers.map((r) => r.ifname), ["nic0", "nic9"]);
      equal(after.pendingRestorers, undefined, "no longer pending");
      equal(hook("nic9").length, 1, "restorer on the interface that appeared");
      deepStrictEqual(
        withNetns(node, () => Datapath.open({ stateFile: state }).check()).map((c) => c.outcome),
        ["ok", "ok"],
        "attached once",
      );
      equal(hook("nic9").length, 1);
    } finally {
      withNetns(node, () => datapath(["down", ...base]));
    }
    equal(hook("nic0").length + hook("nic9").length, 0, "down removed both restorers");
    equal(existsSync(bpffs) || existsSync(state), false);
  });
});
