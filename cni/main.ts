/**
 * The plugin's process entry: reads stdin and the environment, runs {@link runPlugin}, prints its
 * output and exits with its code. The bundle in dist/ is built from this file.
 *
 * @example
 * ```sh
 * echo '{"cniVersion":"1.1.0"}' | CNI_COMMAND=VERSION deno run -A cni/main.ts
 * ```
 */
import { runPlugin } from "./plugin.ts";

/** Reads all of stdin as text. */
export async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const c of Deno.stdin.readable) chunks.push(c);
  return new TextDecoder().decode(concat(chunks));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

if (import.meta.main) {
  const out = await runPlugin({ env: Deno.env.toObject(), stdin: await readStdin() });
  if (out.stdout) await Deno.stdout.write(new TextEncoder().encode(out.stdout));
  Deno.exit(out.code);
}
