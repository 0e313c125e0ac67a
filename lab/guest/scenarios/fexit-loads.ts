/**
 * Smoke scenario: a trivial fexit/skb_clone program (obj/fexit_skb_clone.bpf.o, compiled on the
 * host) loads with `bpftool prog load`, then attaches through libbpf FFI and fires on the clones
 * TCP makes of every segment it transmits (loopback traffic generated here).
 * Result: `{ bpftool: { ok, type, ... }, attach: { ok, clones }, ... }`.
 */
import { writeResult } from "../result.ts";

const OBJ = "/lab/obj/fexit_skb_clone.bpf.o";
const PIN = "/sys/fs/bpf/tsnlab_fexit_skb_clone";

async function bpftool(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command("/bin/bpftool", { args, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/** Step 1: bpftool loads (and pins) it; its program info says tracing. */
async function loadWithBpftool(): Promise<Record<string, unknown>> {
  const load = await bpftool(["prog", "load", OBJ, PIN]);
  if (load.code !== 0) return { ok: false, error: load.err.trim() };
  const show = await bpftool(["-j", "prog", "show", "pinned", PIN]);
  await Deno.remove(PIN).catch(() => {});
  const info = show.code === 0 ? JSON.parse(show.out) as Record<string, unknown> : {};
  return {
    ok: true,
    type: info["type"] ?? null,
    name: info["name"] ?? null,
    id: info["id"] ?? null,
  };
}

const enc = (s: string) => new TextEncoder().encode(`${s}\0`);

/** Step 2: libbpf opens, loads and attaches it; loopback TCP traffic must make it fire. */
async function attachAndCount(): Promise<Record<string, unknown>> {
  const lib = Deno.dlopen("libbpf.so.1", {
    bpf_object__open_file: { parameters: ["buffer", "pointer"], result: "pointer" },
    bpf_object__load: { parameters: ["pointer"], result: "i32" },
    bpf_object__find_program_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
    bpf_object__find_map_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
    bpf_program__attach: { parameters: ["pointer"], result: "pointer" },
    bpf_map__lookup_elem: {
      parameters: ["pointer", "buffer", "usize", "buffer", "usize", "u64"],
      result: "i32",
    },
    bpf_link__destroy: { parameters: ["pointer"], result: "i32" },
    bpf_object__close: { parameters: ["pointer"], result: "void" },
  });
  const libc = Deno.dlopen("libc.so.6", {
    __errno_location: { parameters: [], result: "pointer" },
  });
  const errno = () => {
    const p = libc.symbols.__errno_location();
    return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
  };
  const obj = lib.symbols.bpf_object__open_file(enc(OBJ), null);
  try {
    if (obj === null) return { ok: false, stage: "open", errno: errno() };
    const loaded = lib.symbols.bpf_object__load(obj);
    if (loaded !== 0) return { ok: false, stage: "load", error: loaded };
    const prog = lib.symbols.bpf_object__find_program_by_name(obj, enc("count_clone"));
    const map = lib.symbols.bpf_object__find_map_by_name(obj, enc("clones"));
    if (prog === null || map === null) return { ok: false, stage: "find" };
    const link = lib.symbols.bpf_program__attach(prog);
    if (link === null) return { ok: false, stage: "attach", errno: errno() };
    try {
      const bytes = await loopbackTcp(64 * 1024);
      const key = new Uint32Array([0]);
      const value = new BigUint64Array(1);
      const rc = lib.symbols.bpf_map__lookup_elem(map, key, 4n, value, 8n, 0n);
      if (rc !== 0) return { ok: false, stage: "lookup", error: rc };
      const clones = Number(value[0]);
      return { ok: clones > 0, clones, tcpBytes: bytes };
    } finally {
      lib.symbols.bpf_link__destroy(link);
    }
  } finally {
    if (obj !== null) lib.symbols.bpf_object__close(obj);
    lib.close();
    libc.close();
  }
}

/** Sends `n` bytes over a loopback TCP connection and returns how many arrived. */
async function loopbackTcp(n: number): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const server = (async () => {
    const conn = await listener.accept();
    let got = 0;
    const buf = new Uint8Array(16384);
    for (;;) {
      const r = await conn.read(buf);
      if (r === null) break;
      got += r;
    }
    conn.close();
    return got;
  })();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const data = new Uint8Array(n).fill(0x5a);
  let off = 0;
  while (off < n) off += await client.write(data.subarray(off));
  client.close();
  const got = await server;
  listener.close();
  return got;
}

const bpftoolResult = await loadWithBpftool();
const attach = await attachAndCount();
console.log(
  `bpftool load: ${JSON.stringify(bpftoolResult)}; libbpf attach: ${JSON.stringify(attach)}`,
);
await writeResult({ bpftool: bpftoolResult, attach });
if (bpftoolResult["ok"] !== true || attach["ok"] !== true) Deno.exit(1);
