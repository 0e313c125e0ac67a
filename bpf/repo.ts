/**
 * The repository root, for the build and test tools that work on a checkout (never for shipped
 * code: a bundle has no repository around it). bpf is the lowest package that needs it.
 *
 * @example
 * ```ts
 * import { repoRoot } from "@tsn-proxy/bpf";
 * console.log(`${repoRoot()}/bpf/obj`);
 * ```
 */
export function repoRoot(): string {
  return new URL("..", import.meta.url).pathname.replace(/\/$/, "");
}
