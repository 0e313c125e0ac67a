/**
 * Where the sim observer's object is: committed (sim/bpf/obj/observer.bpf.o), built with every
 * other object of bpf/objects.ts (`deno task gen`) and checked by `deno task check:gen`. The path
 * is resolved from this module's own URL, so a bundle of the observer finds the object laid out
 * beside it the same way (k8s/kind/stage.ts).
 *
 * @example
 * ```ts ignore
 * import { observerObject } from "./object.ts";
 * console.log(observerObject()); // <repo>/sim/bpf/obj/observer.bpf.o
 * ```
 *
 * @module
 */
import { BPF_OBJECTS } from "@tsn-proxy/bpf";

/** The repository root (or, in a bundle, the directory laid out as one). */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** The observer's source, relative to the repo root. */
const OBSERVER_SRC = "sim/bpf/observer.bpf.c";

const entry = BPF_OBJECTS.find((o) => o.source === OBSERVER_SRC);
if (!entry) throw new Error(`${OBSERVER_SRC} is not in bpf/objects.ts`);

/** The observer's object, relative to the repo root. */
export const OBSERVER_OBJ: string = entry.object;

/** The observer's object, absolute. */
export function observerObject(): string {
  return `${REPO_ROOT}/${OBSERVER_OBJ}`;
}
