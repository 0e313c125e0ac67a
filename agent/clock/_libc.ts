/**
 * @module
 * The few libc calls the clock probes need (x86-64 glibc), opened on first use. Separate from the
 * datapath's libc table: these are read-only probes of the clock and the NIC, not BPF plumbing.
 */

const SYMBOLS = {
  adjtimex: { parameters: ["buffer"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // ioctl(2) is variadic; only the pointer form (struct ifreq *) is used.
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The symbol table. */
export function clockLibc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** errno of the calling thread; read right after the failing call. */
export function lastErrno(): number {
  const p = clockLibc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32(0);
}
