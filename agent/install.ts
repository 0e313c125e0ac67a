/**
 * Installs the built plugin (launcher + `tsn-proxy.d/` with the Deno runtime and the bundle) into
 * the runtime's CNI bin dir. Files are replaced atomically (temp name + rename: a plugin process
 * running the old runtime binary keeps its inode) and only when their content differs; the
 * launcher goes last, so a runtime never finds a launcher whose payload is not there yet.
 *
 * @example
 * ```ts ignore
 * import { installPlugin } from "./install.ts";
 * await installPlugin("/opt/tsn-proxy/plugin", "/opt/cni/bin");
 * ```
 */
import { createHash } from "node:crypto";
import { join } from "node:path";

/** Paths relative to a plugin directory, payload first, launcher last. */
export const PLUGIN_PATHS = ["tsn-proxy.d/deno", "tsn-proxy.d/plugin.js", "tsn-proxy"] as const;

async function digest(path: string): Promise<string | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const h = createHash("sha256");
  for await (const chunk of file.readable) h.update(chunk);
  return h.digest("hex");
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [sa, sb] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
    if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
    if (sa.size !== sb.size) return false;
  } catch {
    return false;
  }
  return (await digest(a)) === (await digest(b));
}

/** What an install did. */
export interface InstallResult {
  /** Files written (relative to the bin dir). */
  readonly written: string[];
  /** Files already up to date. */
  readonly unchanged: string[];
}

/** Copies the plugin from srcDir into binDir; idempotent. */
export async function installPlugin(srcDir: string, binDir: string): Promise<InstallResult> {
  const written: string[] = [], unchanged: string[] = [];
  for (const rel of PLUGIN_PATHS) {
    try {
      await Deno.stat(join(srcDir, rel));
    } catch {
      throw new Error(`plugin source ${srcDir} lacks ${rel} (build it with 'deno task build')`);
    }
  }
  await Deno.mkdir(join(binDir, "tsn-proxy.d"), { recursive: true });
  for (const rel of PLUGIN_PATHS) {
    const src = join(srcDir, rel), dst = join(binDir, rel);
    if (await sameFile(src, dst)) {
      unchanged.push(rel);
      continue;
    }
    const tmp = `${dst}.tsn-proxy-tmp-${Deno.pid}`;
    await Deno.copyFile(src, tmp);
    await Deno.chmod(tmp, rel.endsWith(".js") ? 0o644 : 0o755);
    await Deno.rename(tmp, dst);
    written.push(rel);
  }
  return { written, unchanged };
}

/** Removes the plugin from binDir (uninstall); returns what it removed. */
export async function uninstallPlugin(binDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const rel of [...PLUGIN_PATHS].reverse()) {
    try {
      await Deno.remove(join(binDir, rel));
      removed.push(rel);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  await Deno.remove(join(binDir, "tsn-proxy.d")).catch(() => {});
  return removed;
}
