/**
 * @module
 * The raw FFI surface: libbpf.so.1 (Debian's libbpf 1.1.2) and the few libc functions the binding
 * needs. Both libraries are opened lazily, once per JS thread (isolate), on first use. Every symbol
 * is synchronous: namespace switches (`setns`) and errno are per thread, and `nonblocking` calls run
 * on other threads.
 *
 * Nothing here throws libbpf errors or formats logs; see `call.ts` and `log.ts` for that.
 */

/**
 * libbpf symbols, as declared in /usr/include/bpf/{libbpf,bpf,btf}.h of libbpf 1.1.2.
 *
 * @example
 * ```ts
 * import { LIBBPF_SYMBOLS } from "./ffi.ts";
 * Object.keys(LIBBPF_SYMBOLS).includes("bpf_object__load"); // true
 * ```
 */
export const LIBBPF_SYMBOLS = {
  libbpf_set_print: { parameters: ["pointer"], result: "pointer" },
  libbpf_strerror: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  libbpf_num_possible_cpus: { parameters: [], result: "i32" },

  bpf_object__open_file: { parameters: ["buffer", "pointer"], result: "pointer" },
  bpf_object__load: { parameters: ["pointer"], result: "i32" },
  bpf_object__close: { parameters: ["pointer"], result: "void" },
  bpf_object__name: { parameters: ["pointer"], result: "pointer" },
  bpf_object__find_program_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  bpf_object__next_program: { parameters: ["pointer", "pointer"], result: "pointer" },
  bpf_object__find_map_by_name: { parameters: ["pointer", "buffer"], result: "pointer" },
  bpf_object__next_map: { parameters: ["pointer", "pointer"], result: "pointer" },

  bpf_program__name: { parameters: ["pointer"], result: "pointer" },
  bpf_program__section_name: { parameters: ["pointer"], result: "pointer" },
  bpf_program__set_autoload: { parameters: ["pointer", "bool"], result: "i32" },
  bpf_program__autoload: { parameters: ["pointer"], result: "bool" },
  bpf_program__fd: { parameters: ["pointer"], result: "i32" },
  bpf_program__attach: { parameters: ["pointer"], result: "pointer" },

  bpf_map__name: { parameters: ["pointer"], result: "pointer" },
  bpf_map__fd: { parameters: ["pointer"], result: "i32" },
  bpf_map__is_internal: { parameters: ["pointer"], result: "bool" },
  bpf_map__initial_value: { parameters: ["pointer", "buffer"], result: "pointer" },
  bpf_map__set_initial_value: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  bpf_map__reuse_fd: { parameters: ["pointer", "i32"], result: "i32" },
  bpf_map__set_max_entries: { parameters: ["pointer", "u32"], result: "i32" },
  bpf_map__set_pin_path: { parameters: ["pointer", "buffer"], result: "i32" },

  bpf_link__fd: { parameters: ["pointer"], result: "i32" },
  bpf_link__pin: { parameters: ["pointer", "buffer"], result: "i32" },
  bpf_link__unpin: { parameters: ["pointer"], result: "i32" },
  bpf_link__disconnect: { parameters: ["pointer"], result: "void" },
  bpf_link__destroy: { parameters: ["pointer"], result: "i32" },

  bpf_obj_pin: { parameters: ["i32", "buffer"], result: "i32" },
  bpf_obj_get: { parameters: ["buffer"], result: "i32" },
  bpf_obj_get_info_by_fd: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  bpf_map_lookup_elem: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  bpf_map_update_elem: { parameters: ["i32", "buffer", "buffer", "u64"], result: "i32" },
  bpf_map_delete_elem: { parameters: ["i32", "buffer"], result: "i32" },
  bpf_map_get_next_key: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  bpf_prog_load: {
    parameters: ["i32", "buffer", "buffer", "buffer", "usize", "buffer"],
    result: "i32",
  },
  libbpf_find_vmlinux_btf_id: { parameters: ["buffer", "i32"], result: "i32" },
  bpf_prog_test_run_opts: { parameters: ["i32", "buffer"], result: "i32" },
  bpf_link_create: { parameters: ["i32", "i32", "u32", "pointer"], result: "i32" },
  bpf_link_detach: { parameters: ["i32"], result: "i32" },
  bpf_link_update: { parameters: ["i32", "i32", "pointer"], result: "i32" },
  bpf_prog_query: {
    parameters: ["i32", "u32", "u32", "buffer", "buffer", "buffer"],
    result: "i32",
  },

  bpf_tc_hook_create: { parameters: ["buffer"], result: "i32" },
  bpf_tc_hook_destroy: { parameters: ["buffer"], result: "i32" },
  bpf_tc_attach: { parameters: ["buffer", "buffer"], result: "i32" },
  bpf_tc_detach: { parameters: ["buffer", "buffer"], result: "i32" },
  bpf_tc_query: { parameters: ["buffer", "buffer"], result: "i32" },

  btf__load_vmlinux_btf: { parameters: [], result: "pointer" },
  btf__find_by_name_kind: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  btf__type_by_id: { parameters: ["pointer", "u32"], result: "pointer" },
  btf__name_by_offset: { parameters: ["pointer", "u32"], result: "pointer" },
  btf__free: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * libc symbols (glibc, libc.so.6).
 *
 * @example
 * ```ts
 * import { LIBC_SYMBOLS } from "./ffi.ts";
 * Object.keys(LIBC_SYMBOLS).includes("setns"); // true
 * ```
 */
export const LIBC_SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  vsnprintf: { parameters: ["buffer", "usize", "pointer", "pointer"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  // open(2) is variadic; the mode argument is only read with O_CREAT, which is never passed.
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  if_indextoname: { parameters: ["u32", "buffer"], result: "pointer" },
  statfs: { parameters: ["buffer", "buffer"], result: "i32" },
  // syscall(2) is variadic; used for bpf(2) commands libbpf 1.1.2 cannot express (TCX order).
  syscall: { parameters: ["i64", "i64", "buffer", "u32"], result: "i64" },
  // fcntl(2) is variadic; only the struct flock * form (OFD locks) is used.
  fcntl: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  gettid: { parameters: [], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  // rtnetlink.ts: one NETLINK_ROUTE request per socket (the kernel autobinds on send).
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * The shared object names passed to `Deno.dlopen` (resolved through the dynamic loader path).
 *
 * @example
 * ```ts
 * import { LIBRARY_NAMES } from "./ffi.ts";
 * LIBRARY_NAMES.libbpf; // "libbpf.so.1"
 * ```
 */
export const LIBRARY_NAMES = { libbpf: "libbpf.so.1", libc: "libc.so.6" } as const;

let libbpfLib: Deno.DynamicLibrary<typeof LIBBPF_SYMBOLS> | undefined;
let libcLib: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | undefined;
const openHooks: Array<() => void> = [];

/**
 * Registers a function that runs once, right after libbpf is first opened (used by `log.ts` to
 * install its print callback before any libbpf call can log). Runs at once if already open.
 *
 * @example
 * ```ts
 * import { onLibbpfOpen } from "./ffi.ts";
 * onLibbpfOpen(() => console.log("libbpf is open"));
 * ```
 */
export function onLibbpfOpen(hook: () => void): void {
  if (libbpfLib) hook();
  else openHooks.push(hook);
}

/**
 * The libbpf symbol table, opening libbpf.so.1 on first use.
 *
 * @example
 * ```ts
 * import { libbpf } from "./ffi.ts";
 * const cpus = libbpf().libbpf_num_possible_cpus();
 * ```
 */
export function libbpf(): Deno.DynamicLibrary<typeof LIBBPF_SYMBOLS>["symbols"] {
  if (!libbpfLib) {
    libbpfLib = Deno.dlopen(LIBRARY_NAMES.libbpf, LIBBPF_SYMBOLS);
    for (const hook of openHooks.splice(0)) hook();
  }
  return libbpfLib.symbols;
}

/**
 * The libc symbol table, opening libc.so.6 on first use.
 *
 * @example
 * ```ts
 * import { libc } from "./ffi.ts";
 * const tid = libc().gettid();
 * ```
 */
export function libc(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] {
  libcLib ??= Deno.dlopen(LIBRARY_NAMES.libc, LIBC_SYMBOLS);
  return libcLib.symbols;
}

/**
 * The calling thread's current `errno`. Read it immediately after the failing call.
 *
 * @example
 * ```ts
 * import { errno, libc } from "./ffi.ts";
 * if (libc().close(-1) < 0) console.log(errno()); // 9 (EBADF)
 * ```
 */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32(0);
}

const encoder = new TextEncoder();

/**
 * Encodes a string as a NUL-terminated C string buffer.
 *
 * @example
 * ```ts
 * import { cString } from "./ffi.ts";
 * cString("lo"); // Uint8Array [108, 111, 0]
 * ```
 */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  if (s.includes("\0")) throw new TypeError(`string contains NUL: ${JSON.stringify(s)}`);
  return encoder.encode(s + "\0");
}

/**
 * Reads a NUL-terminated C string at `p`; `undefined` for NULL.
 *
 * @example
 * ```ts
 * import { libbpf, readCString } from "./ffi.ts";
 * declare const obj: Deno.PointerObject; // a struct bpf_object *
 * const name = readCString(libbpf().bpf_object__name(obj));
 * ```
 */
export function readCString(p: Deno.PointerValue): string | undefined {
  return p === null ? undefined : Deno.UnsafePointerView.getCString(p);
}

/**
 * Copies `size` bytes at `p` into a fresh Uint8Array.
 *
 * @example
 * ```ts
 * import { copyFromPointer } from "./ffi.ts";
 * declare const p: Deno.PointerObject;
 * const bytes = copyFromPointer(p, 16);
 * ```
 */
export function copyFromPointer(p: Deno.PointerObject, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  if (size > 0) new Deno.UnsafePointerView(p).copyInto(out);
  return out;
}
