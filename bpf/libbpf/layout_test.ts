/**
 * Checks the hand-written struct layouts against the installed libbpf headers: compiles a small C
 * program with clang that prints sizeof/offsetof, then compares. Fails, naming what to install,
 * when clang or the headers are missing (`./dev setup` installs clang-19 and libbpf-dev).
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { dirname } from "node:path";
import { LINK_INFO_OFFSETS } from "./link.ts";
import { BPF_LINK_CREATE } from "./tcx.ts";
import { encodeTestRunOpts, TEST_RUN_OPTS_OFFSETS, TEST_RUN_OPTS_SIZE } from "./program.ts";
import { encodeTcHook, encodeTcOpts, TC_HOOK_SIZE, TC_OPTS_SIZE } from "./tc_legacy.ts";

function findClang(): string | undefined {
  for (const cc of ["clang-19", "clang"]) {
    try {
      if (
        new Deno.Command(cc, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync()
          .success
      ) {
        return cc;
      }
    } catch {
      // not installed
    }
  }
  return undefined;
}

const CC = findClang();
const HAVE_HEADERS = (() => {
  try {
    return Deno.statSync("/usr/include/bpf/libbpf.h").isFile;
  } catch {
    return false;
  }
})();

/** Fails the test, saying what is missing: a layout check that cannot compile checks nothing. */
function needs(have: boolean, what: string): void {
  if (!have) throw new Error(`this check needs ${what}: run ./dev setup`);
}

const C_SOURCE = `
#include <stdio.h>
#include <stddef.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#define O(s, f) printf("\\"%s.%s\\": %zu,\\n", #s, #f, offsetof(struct s, f))
#define S(s) printf("\\"sizeof.%s\\": %zu,\\n", #s, sizeof(struct s))
int main(void) {
  printf("{\\n");
  S(bpf_tc_hook); S(bpf_tc_opts); S(bpf_test_run_opts);
  O(bpf_tc_hook, sz); O(bpf_tc_hook, ifindex); O(bpf_tc_hook, attach_point); O(bpf_tc_hook, parent);
  O(bpf_tc_opts, sz); O(bpf_tc_opts, prog_fd); O(bpf_tc_opts, flags); O(bpf_tc_opts, prog_id);
  O(bpf_tc_opts, handle); O(bpf_tc_opts, priority);
  O(bpf_test_run_opts, sz); O(bpf_test_run_opts, data_in); O(bpf_test_run_opts, data_out);
  O(bpf_test_run_opts, data_size_in); O(bpf_test_run_opts, data_size_out);
  O(bpf_test_run_opts, ctx_in); O(bpf_test_run_opts, ctx_out);
  O(bpf_test_run_opts, ctx_size_in); O(bpf_test_run_opts, ctx_size_out);
  O(bpf_test_run_opts, retval); O(bpf_test_run_opts, repeat); O(bpf_test_run_opts, duration);
  O(bpf_test_run_opts, flags); O(bpf_test_run_opts, cpu); O(bpf_test_run_opts, batch_size);
  O(bpf_link_info, type); O(bpf_link_info, id); O(bpf_link_info, prog_id);
  O(bpf_link_info, raw_tracepoint);
  O(bpf_map_info, type); O(bpf_map_info, id); O(bpf_map_info, key_size);
  O(bpf_map_info, value_size); O(bpf_map_info, max_entries); O(bpf_map_info, map_flags);
  O(bpf_map_info, name);
  O(bpf_prog_info, type); O(bpf_prog_info, id); O(bpf_prog_info, tag); O(bpf_prog_info, name);
  printf("\\"end\\": 0}\\n");
  return 0;
}
`;

function measure(): Record<string, number> {
  const dir = Deno.makeTempDirSync({ prefix: "tsn-layout-" });
  try {
    Deno.writeTextFileSync(`${dir}/l.c`, C_SOURCE);
    const cc = new Deno.Command(CC!, { args: ["-o", `${dir}/l`, `${dir}/l.c`], stderr: "piped" })
      .outputSync();
    if (!cc.success) throw new Error(new TextDecoder().decode(cc.stderr));
    const out = new Deno.Command(`${dir}/l`, { stdout: "piped" }).outputSync();
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test({
  name: "struct layouts match /usr/include/bpf (libbpf 1.1.2) as compiled by clang",
  fn() {
    needs(CC !== undefined && HAVE_HEADERS, "clang and /usr/include/bpf (libbpf-dev)");
    const c = measure();
    const at = (k: string) => {
      const v = c[k];
      if (v === undefined) throw new Error(`missing ${k}`);
      return v;
    };
    equal(at("sizeof.bpf_tc_hook"), TC_HOOK_SIZE);
    equal(at("sizeof.bpf_tc_opts"), TC_OPTS_SIZE);
    equal(at("sizeof.bpf_test_run_opts"), TEST_RUN_OPTS_SIZE);
    for (const [field, off] of Object.entries(TEST_RUN_OPTS_OFFSETS)) {
      equal(at(`bpf_test_run_opts.${field}`), off, field);
    }
    // The encoders put each field at the header's offset.
    const hook = new DataView(
      encodeTcHook({ ifindex: 0x1111, attachPoint: 0x2222, parent: 0x3333 }).buffer,
    );
    equal(Number(hook.getBigUint64(at("bpf_tc_hook.sz"), true)), TC_HOOK_SIZE);
    equal(hook.getUint32(at("bpf_tc_hook.ifindex"), true), 0x1111);
    equal(hook.getUint32(at("bpf_tc_hook.attach_point"), true), 0x2222);
    equal(hook.getUint32(at("bpf_tc_hook.parent"), true), 0x3333);
    const opts = new DataView(
      encodeTcOpts({ progFd: 0x11, flags: 0x22, progId: 0x33, handle: 0x44, priority: 0x55 })
        .buffer,
    );
    equal(Number(opts.getBigUint64(at("bpf_tc_opts.sz"), true)), TC_OPTS_SIZE);
    deepStrictEqual(
      ["prog_fd", "flags", "prog_id", "handle", "priority"].map((f) =>
        opts.getUint32(at(`bpf_tc_opts.${f}`), true)
      ),
      [0x11, 0x22, 0x33, 0x44, 0x55],
    );
    const run = new DataView(encodeTestRunOpts({ repeat: 77, dataSizeIn: 64 }).buffer);
    equal(run.getInt32(at("bpf_test_run_opts.repeat"), true), 77);
    equal(run.getUint32(at("bpf_test_run_opts.data_size_in"), true), 64);
    // Kernel info structs (old header, but these leading fields are fixed UAPI).
    equal(at("bpf_link_info.type"), LINK_INFO_OFFSETS.type);
    equal(at("bpf_link_info.id"), LINK_INFO_OFFSETS.id);
    equal(at("bpf_link_info.prog_id"), LINK_INFO_OFFSETS.prog_id);
    equal(at("bpf_link_info.raw_tracepoint"), LINK_INFO_OFFSETS.tcx_ifindex); // union start
    deepStrictEqual(
      ["type", "id", "key_size", "value_size", "max_entries", "map_flags", "name"].map((f) =>
        at(`bpf_map_info.${f}`)
      ),
      [0, 4, 8, 12, 16, 20, 24],
    );
    deepStrictEqual(
      ["type", "id", "tag", "name"].map((f) => at(`bpf_prog_info.${f}`)),
      [0, 4, 8, 64],
    );
  },
});

const VMLINUX_H = new URL("../include/vmlinux.h", import.meta.url).pathname;
const HAVE_VMLINUX = (() => {
  try {
    return Deno.statSync(VMLINUX_H).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "union bpf_attr.link_create.tcx offsets match the kernel's vmlinux.h (TCX order attach)",
  fn() {
    needs(CC !== undefined && HAVE_VMLINUX, "clang and bpf/include/vmlinux.h");
    const dir = Deno.makeTempDirSync({ prefix: "tsn-layout-" });
    try {
      const checks = [
        "__builtin_offsetof(union bpf_attr, link_create.prog_fd) == 0",
        "__builtin_offsetof(union bpf_attr, link_create.target_ifindex) == 4",
        "__builtin_offsetof(union bpf_attr, link_create.attach_type) == 8",
        "__builtin_offsetof(union bpf_attr, link_create.flags) == 12",
        "__builtin_offsetof(union bpf_attr, link_create.tcx.relative_fd) == 16",
        "__builtin_offsetof(union bpf_attr, link_create.tcx.expected_revision) == 24",
        `BPF_LINK_CREATE == ${BPF_LINK_CREATE}`,
        "__builtin_offsetof(struct bpf_link_info, tcx.ifindex) == 16",
        "__builtin_offsetof(struct bpf_link_info, tcx.attach_type) == 20",
      ];
      Deno.writeTextFileSync(
        `${dir}/v.c`,
        `#include "vmlinux.h"\n` +
          checks.map((c, i) => `_Static_assert(${c}, "check ${i}");`).join("\n") + "\n",
      );
      const out = new Deno.Command(CC!, {
        args: ["-target", "bpf", "-fsyntax-only", `-I${dirname(VMLINUX_H)}`, `${dir}/v.c`],
        stderr: "piped",
      }).outputSync();
      equal(out.success, true, new TextDecoder().decode(out.stderr));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
