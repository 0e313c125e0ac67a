/**
 * Stages the build context of the kind e2e image (./Containerfile.e2e): the probe and talker
 * bundles and the sim observer object, laid out so the bundled observer module finds its object
 * (sim/bpf/object.ts resolves it as `../../sim/bpf/obj/observer.bpf.o` from its own URL, which in
 * a bundle is the bundle's URL).
 *
 * @example
 * ```ts ignore
 * import { stageE2eContext } from "./stage.ts";
 * const dir = await stageE2eContext(await Deno.makeTempDir());
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import { bundle } from "@tsn-proxy/release";
import { OBSERVER_OBJ, REPO_ROOT } from "@tsn-proxy/sim/observer_build";
import { KIND } from "./scenario.ts";

const HERE = new URL(".", import.meta.url).pathname;

/** Where, relative to the image root, the observer object must be for a bundle at `bundle`. */
export function observerObjectFor(bundle: string): string {
  const root = new URL("../../", `file://${bundle}`).pathname.replace(/\/$/, "");
  return join(root, OBSERVER_OBJ);
}

/** Writes the context into dir (created); returns dir. */
export async function stageE2eContext(dir: string): Promise<string> {
  await bundle(join(HERE, "probe.ts"), join(dir, KIND.probeJs));
  await bundle(join(HERE, "talker.ts"), join(dir, KIND.talkerJs));
  const obj = join(dir, observerObjectFor(KIND.probeJs));
  await Deno.mkdir(dirname(obj), { recursive: true });
  await Deno.copyFile(join(REPO_ROOT, OBSERVER_OBJ), obj);
  await Deno.copyFile(join(HERE, "Containerfile.e2e"), join(dir, "Containerfile.e2e"));
  return dir;
}
