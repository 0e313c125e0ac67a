/**
 * Test helpers of the agent: HTTP/1.0 GET over a Unix socket (the metrics server listens on one
 * in tests, inside network namespaces the host's fetch cannot reach).
 *
 * @example
 * ```ts ignore
 * import { httpGetUnix } from "./testing.ts";
 * const { status, body } = await httpGetUnix("/run/tsn/metrics.sock", "/readyz");
 * ```
 */

/** GETs path from an HTTP server on a Unix socket. */
export async function httpGetUnix(
  socket: string,
  path: string,
  timeoutMs = 5000,
): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.0\r\nHost: agent\r\n\r\n`));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (let i = 0; i < 10_000; i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(
      chunks.reduce((a, c) => {
        const o = new Uint8Array(a.length + c.length);
        o.set(a);
        o.set(c, a.length);
        return o;
      }, new Uint8Array()),
    );
    const [head = "", ...rest] = text.split("\r\n\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d+)/.exec(head)?.[1] ?? 0);
    return { status, body: rest.join("\r\n\r\n") };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer or the server */ }
  }
}
