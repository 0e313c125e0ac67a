/**
 * VM suite, netkit pods (kernels with netkit: 6.12 in the lab): the datapath matrix's talkers on
 * routed-nat pods whose interface is a netkit pair, with a CNI stand-in on each pair's
 * BPF_NETKIT_PEER hook and a probe placed before it that counts what a saver at that hook would
 * see. Runs (lab/vm/scenarios.ts NETKIT_RUNS): l3 and l2 pairs with default scrub, without the proxy
 * and with the real loader (sim/proxy.ts: saver on the pod's netkit device's TCX egress, restorer on
 * nic0) for skb-addr and skb-data, and pairs created with scrub none, without the proxy, with the
 * node's ip_forward_update_priority 1 and 0. First a throwaway pair with scrub none, to see
 * whether the kernel reports (honours) it.
 * Result: lab/vm/results.ts NetkitResult; checks: lab/vm/checks.ts checkNetkit.
 */
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { runScenario, type TalkerSpec } from "@tsn-proxy/sim/scenario";
import { matrixTalkers } from "@tsn-proxy/sim/matrix_talkers";
import { checkNetkit } from "../../vm/checks.ts";
import { NETKIT_COUNT, NETKIT_RUNS, netkitLabel } from "../../vm/scenarios.ts";
import { sysctl } from "@tsn-proxy/sim/netns";
import type { NetkitResult, PeerSeenOut, ProxyOut } from "../../vm/results.ts";
import {
  finish,
  GUEST_TALKER_TIMEOUT_MS,
  guestKernel,
  proxyOut,
  talkerOut,
  timedRun,
} from "../vm/common.ts";
import { netkitPods } from "@tsn-proxy/sim/netkit";
import { addPeerPrograms, type PeerPrograms, podLinks, probeScrub } from "../vm/netkit.ts";

const COUNT = NETKIT_COUNT;
const TALKERS: TalkerSpec[] = matrixTalkers(COUNT);

const kernel = guestKernel();
const scrubProbe = probeScrub("/proc/self/ns/net", `nkprobe${Deno.pid % 1000}`);
console.log(`scrub probe: ${JSON.stringify(scrubProbe)}`);

type Run = NetkitResult["runs"][number];
const runs: Run[] = [];
for (const spec of NETKIT_RUNS) {
  const { mode, strategy, scrub, fwdUpdatePriority } = spec;
  const label = netkitLabel(spec);
  runs.push(
    await timedRun<Run>(label, async () => {
      let proxy: AttachedProxy | undefined;
      let stats: ProxyOut | null = null;
      let peer: PeerPrograms | undefined;
      let links: Run["links"] = [];
      let peerOrder: string[] = [];
      let cniPackets = 0;
      const peerSeen: Record<string, PeerSeenOut> = {};
      try {
        const { rows, timings: phases } = await runScenario({
          talkerTimeoutMs: GUEST_TALKER_TIMEOUT_MS,
          kind: "routed-nat",
          talkers: TALKERS,
          hooks: {
            async beforeTraffic(topo) {
              await netkitPods(topo, mode, scrub);
              await sysctl(topo.node.ns, {
                "net.ipv4.ip_forward_update_priority": fwdUpdatePriority,
              });
              links = podLinks(topo, fwdUpdatePriority === 1);
              peer = await addPeerPrograms(topo);
              peerOrder = peer.order();
              if (strategy) {
                proxy = attachProxy(topo, { strategy, optedIn: ["a", "b"] });
              }
            },
            async afterTraffic(_topo, ctx) {
              const seen = await peer!.seen();
              for (const t of ctx.talkers.filter((x) => x.protocol === "udp")) {
                peerSeen[t.name] = seen.get(t.port) ??
                  { packets: 0, withPriority: 0, withTstamp: 0 };
              }
              cniPackets = await peer!.cniPackets();
              if (proxy) {
                stats = proxyOut(proxy.stats());
                proxy.down();
              }
            },
          },
        });
        return {
          ...spec,
          rows: rows.map(talkerOut),
          phases,
          proxy: stats,
          links,
          peerOrder,
          cniPackets,
          peerSeen,
        };
      } finally {
        proxy?.down();
        peer?.close();
      }
    }, () => ({ ...spec, links: [], peerOrder: [], cniPackets: 0, peerSeen: {} })),
  );
}

const result: Omit<NetkitResult, "failures"> = {
  scenario: "vm-netkit",
  kernel,
  count: COUNT,
  scrubProbe,
  runs,
};
await finish({ ...result, failures: checkNetkit(result) });
