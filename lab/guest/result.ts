/**
 * @module
 * For Deno scenarios running in a lab guest: write the scenario's result object where the guest
 * runner (run.sh) picks it up and prints it as a `TSNLAB {"event":"result",...}` line.
 *
 * @example
 * ```ts ignore
 * import { writeResult } from "../result.ts";
 * await writeResult({ ok: true });
 * ```
 */

/** Writes `data` as the scenario's result (stdout when not run by the guest runner). */
export async function writeResult(data: Record<string, unknown>): Promise<void> {
  const text = JSON.stringify(data);
  const path = Deno.env.get("TSNLAB_RESULT");
  if (path) await Deno.writeTextFile(path, `${text}\n`);
  else console.log(text);
}
