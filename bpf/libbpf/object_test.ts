/**
 * BpfObject before load: opening and inspecting an object is userspace-only (no root needed).
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { BpfError } from "./errors.ts";
import { BpfObject } from "./object.ts";
import { CORE_OBJECT, TC_ONLY } from "./testutil.ts";
import { MAPS, TsnConfig, TsnKeyMode, VARIABLES } from "../gen/tsn_core.ts";

Deno.test("open() lists programs and maps and applies autoload switches", () => {
  using obj = BpfObject.open(CORE_OBJECT, { autoload: TC_ONLY });
  equal(obj.name, "tsn_core");
  deepStrictEqual(obj.programs().map((p) => [p.name, p.section, p.autoload]), [
    ["tsn_saver", "tc", true],
    ["tsn_restorer", "tc", true],
    ["tsn_track_clone", "fexit/skb_clone", false],
    ["tsn_cleanup_kfree", "tp_btf/kfree_skb", false],
    ["tsn_cleanup_consume", "tp_btf/consume_skb", false],
  ]);
  const maps = obj.maps();
  deepStrictEqual(
    maps.filter((m) => !m.internal).map((m) => m.name).sort(),
    Object.values(MAPS).map((m) => m.name).filter((n) => !n.startsWith(".")).sort(),
  );
  // libbpf 1.1.2 names the internal map "<obj name, truncated>.rodata".
  ok(maps.some((m) => m.internal && /^tsn_c\w*\.rodata$/.test(m.name)), JSON.stringify(maps));
  equal(obj.loaded, false);
  throws(() => obj.map("tsn_records"), /not loaded/);
  obj.close();
  equal(obj.closed, true);
  obj.close(); // idempotent
  throws(() => obj.programs(), /closed/);
});

Deno.test("the rodata hook sees the compiled defaults of tsn_cfg", () => {
  let seen: number[] = [];
  using obj = BpfObject.open(CORE_OBJECT, { rodata: (b) => void (seen = [...b]) });
  equal(seen.length, MAPS.rodata.valueSize);
  const cfg = TsnConfig.decode(new Uint8Array(seen), VARIABLES.tsnCfg.offset);
  equal(cfg.keyMode, TsnKeyMode.TSN_KEY_SKB_ADDR);
  equal(cfg.maxPriority, 0xffffffff);
  equal(cfg.maxAgeNs, 100_000_000n);
  ok(obj.maps().length >= 3);
});

Deno.test("open() errors name the missing program, map pin or file", () => {
  throws(
    () => BpfObject.open(CORE_OBJECT, { autoload: { nope: true } }),
    (e: unknown) =>
      e instanceof BpfError && e.op === "bpf_object__find_program_by_name" && e.code === "ENOENT",
  );
  throws(
    () => BpfObject.open(CORE_OBJECT, { reuseMaps: { nope: "/sys/fs/bpf/x" } }),
    (e: unknown) =>
      e instanceof BpfError && e.op === "bpf_object__find_map_by_name" && e.code === "ENOENT",
  );
  throws(
    () => BpfObject.open("/nonexistent.bpf.o"),
    (e: unknown) => e instanceof BpfError && e.code === "ENOENT" && e.log.length > 0,
  );
  const tmp = Deno.makeTempFileSync({ suffix: ".o" });
  try {
    Deno.writeTextFileSync(tmp, "not an ELF file");
    throws(
      () => BpfObject.open(tmp),
      (e: unknown) =>
        e instanceof BpfError && e.op === "bpf_object__open_file" &&
        e.code === "LIBBPF_ERRNO__FORMAT" && e.log.some((l) => l.includes("not a proper ELF")),
    );
  } finally {
    Deno.removeSync(tmp);
  }
});
