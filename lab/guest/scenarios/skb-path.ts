/**
 * Measurement (not in the VM suite): where skb->data moves on a pod's datagram routed out of a
 * VLAN device, next to the same datagram routed out of nic0 itself. A pod sends a few UDP
 * datagrams (SO_PRIORITY 3) through bridge + MASQUERADE, with the skb-data proxy attached
 * (restorer on the egress device), while lab/bpf/skb_path.bpf.c records sk_buff, head, data and
 * device at __dev_queue_xmit, ip_forward, neigh_resolve_output, eth_header, pskb_expand_head,
 * skb_expand_head and vlan_dev_hard_start_xmit.
 *
 *   deno run -A lab/main.ts --kernel 6.12 --scenario skb-path --repo bpf --repo strategies \
 *     --repo sim --json
 *
 * Result: `{ runs: [{ label, events: [...], proxy }] }`; fails when the tracer saw nothing.
 */
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { runScenario, type TalkerSpec } from "@tsn-proxy/sim/scenario";
import { GUEST_SHARE } from "../../share.ts";
import { VLAN } from "../../vm/scenarios.ts";
import type { ProxyOut } from "../../vm/results.ts";
import { proxyOut } from "../vm/common.ts";
import { addVlan } from "../vm/vlan.ts";
import { writeResult } from "../result.ts";

const OBJ = `${GUEST_SHARE}/obj/skb_path.bpf.o`;
const FNS = [
  "",
  "__dev_queue_xmit",
  "ip_forward",
  "neigh_resolve_output",
  "pskb_expand_head",
  "pskb_expand_head ret",
  "skb_expand_head",
  "skb_expand_head ret",
  "vlan_dev_hard_start_xmit",
  "eth_header",
  "eth_header ret",
  "validate_xmit_skb_list",
];
const EVENT_SIZE = 64;
const MAX_EVENTS = 512;

const enc = (s: string) => new TextEncoder().encode(`${s}\0`);
const lib = Deno.dlopen("libbpf.so.1", {
  bpf_object__open_file: { parameters: ["buffer", "pointer"], result: "pointer" },
  bpf_object__load: { parameters: ["pointer"], result: "i32" },
  bpf_object__next_program: { parameters: ["pointer", "pointer"], result: "pointer" },
  bpf_program__name: { parameters: ["pointer"], result: "pointer" },
  bpf_program__attach: { parameters: ["pointer"], result: "pointer" },
  bpf_object__find_map_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  bpf_map__lookup_elem: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "u64"],
    result: "i32",
  },
  bpf_map__update_elem: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "u64"],
    result: "i32",
  },
  bpf_link__destroy: { parameters: ["pointer"], result: "i32" },
  bpf_object__close: { parameters: ["pointer"], result: "void" },
});

/** The loaded tracer: watch a port, read the events, close. */
interface Tracer {
  attached: string[];
  failed: string[];
  watch(port: number): void;
  read(): Record<string, unknown>[];
  close(): void;
}

function loadTracer(): Tracer {
  const obj = lib.symbols.bpf_object__open_file(enc(OBJ), null);
  if (obj === null) throw new Error(`cannot open ${OBJ}`);
  const rc = lib.symbols.bpf_object__load(obj);
  if (rc !== 0) throw new Error(`cannot load ${OBJ}: ${rc}`);
  const links: Deno.PointerValue[] = [];
  const attached: string[] = [];
  const failed: string[] = [];
  for (
    let p = lib.symbols.bpf_object__next_program(obj, null);
    p !== null;
    p = lib.symbols.bpf_object__next_program(obj, p)
  ) {
    const name = Deno.UnsafePointerView.getCString(lib.symbols.bpf_program__name(p)!);
    const link = lib.symbols.bpf_program__attach(p);
    if (link === null) failed.push(name);
    else (links.push(link), attached.push(name));
  }
  const map = (n: string) => {
    const m = lib.symbols.bpf_object__find_map_by_name(obj, enc(n));
    if (m === null) throw new Error(`no map ${n}`);
    return m;
  };
  const cfg = map("cfg");
  const events = map("events");
  return {
    attached,
    failed,
    watch(port) {
      const rc = lib.symbols.bpf_map__update_elem(
        cfg,
        new Uint32Array([0]),
        4n,
        new BigUint64Array([BigInt(port)]),
        8n,
        0n,
      );
      if (rc !== 0) throw new Error(`cfg update: ${rc}`);
    },
    read() {
      const count = new BigUint64Array(1);
      lib.symbols.bpf_map__lookup_elem(cfg, new Uint32Array([1]), 4n, count, 8n, 0n);
      const out: Record<string, unknown>[] = [];
      const n = Math.min(Number(count[0]), MAX_EVENTS);
      for (let i = 0; i < n; i++) {
        const buf = new Uint8Array(EVENT_SIZE);
        lib.symbols.bpf_map__lookup_elem(
          events,
          new Uint32Array([i]),
          4n,
          buf,
          BigInt(EVENT_SIZE),
          0n,
        );
        const v = new DataView(buf.buffer);
        const head = v.getBigUint64(16, true);
        const data = v.getBigUint64(24, true);
        const nul = buf.indexOf(0, 40);
        out.push({
          fn: FNS[v.getUint32(0, true)] ?? v.getUint32(0, true),
          dev: new TextDecoder().decode(buf.subarray(40, nul < 0 ? 56 : nul)),
          skb: v.getBigUint64(8, true).toString(16),
          head: head.toString(16),
          data: data.toString(16),
          dataOff: Number(data - head),
          len: v.getUint32(4, true),
          network: v.getUint16(32, true),
          mac: v.getUint16(34, true),
          arg: v.getInt32(36, true),
          devHardHeaderLen: v.getUint16(56, true),
          devNeededHeadroom: v.getUint16(58, true),
        });
      }
      return out;
    },
    close() {
      for (const l of links) lib.symbols.bpf_link__destroy(l);
      lib.symbols.bpf_object__close(obj);
    },
  };
}

const TALKERS: TalkerSpec[] = [
  { pod: "b", protocol: "udp", tool: "socat", priority: 3, count: 3, name: "b-socat" },
];
const runs: Record<string, unknown>[] = [];
for (const vlan of [true, false]) {
  const restoreOn = vlan ? VLAN.dev : "nic0";
  let proxy: AttachedProxy | undefined;
  let tracer: Tracer | undefined;
  let stats: ProxyOut | null = null;
  let events: Record<string, unknown>[] = [];
  let attached: string[] = [];
  let failed: string[] = [];
  try {
    await runScenario({
      kind: "bridge-nat",
      talkers: TALKERS,
      hooks: {
        async beforeTraffic(topo, ctx) {
          if (vlan) await addVlan(topo);
          proxy = attachProxy(topo, {
            strategy: "skb-data",
            optedIn: ["b"],
            restoreOn: [restoreOn],
          });
          tracer = loadTracer();
          ({ attached, failed } = tracer);
          tracer.watch(ctx.talkers[0]!.port);
        },
        afterTraffic() {
          if (tracer) events = tracer.read();
          if (proxy) {
            stats = proxyOut(proxy.stats());
            proxy.down();
          }
        },
      },
    });
  } finally {
    tracer?.close();
  }
  const label = `skb-data restorer@${restoreOn}`;
  console.log(`${label}: ${events.length} events, attached ${attached.join(",")}`);
  for (const e of events) console.log(JSON.stringify(e));
  runs.push({ label, attached, failed, events, proxy: stats });
}
await writeResult({ scenario: "skb-path", kernel: Deno.osRelease(), runs });
if (runs.some((r) => (r.events as unknown[]).length === 0)) {
  console.error("the tracer saw no event");
  Deno.exit(1);
}
