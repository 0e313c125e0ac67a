/**
 * `tsnproxy manifest`: prints the Kubernetes manifest (k8s/manifest.ts) for the given options.
 * Any bad option is refused with a message naming it, exit code 2, and nothing on stdout.
 *
 * @example
 * ```sh
 * deno task manifest --strategy skb-data --tsn-if eth1,eth2 --max-priority robot-cell-1=5 \
 *   | kubectl apply -f -
 * ```
 *
 * @module
 */
import { renderManifest } from "./manifest.ts";
import { MANIFEST_USAGE, ManifestUsageError, parseManifestArgs } from "./options.ts";

/** Where the command writes (tests capture it). */
export interface CommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly readFile?: (path: string) => string;
}

const STD_IO: CommandIo = {
  out: (t) => {
    const bytes = new TextEncoder().encode(t);
    let off = 0;
    while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
  },
  err: (t) => console.error(t.trimEnd()),
};

/** Entry point of `tsnproxy manifest`; resolves with the exit code. */
export function manifestCommand(argv: string[], io: CommandIo = STD_IO): Promise<number> {
  let text: string;
  try {
    const o = parseManifestArgs(argv, io.readFile);
    if (o.help) {
      io.out(MANIFEST_USAGE);
      return Promise.resolve(0);
    }
    text = renderManifest(o);
  } catch (e) {
    if (e instanceof ManifestUsageError) {
      io.err(`tsnproxy manifest: ${e.message}\n\n${MANIFEST_USAGE}`);
      return Promise.resolve(2);
    }
    throw e;
  }
  io.out(text);
  return Promise.resolve(0);
}
