/**
 * What goes into the node agent image, defined once: `k8s/Containerfile` builds it with Debian's
 * base image and packages (`image_test.ts` checks that file against this definition), and the
 * local node e2e (`k8s/local/images.ts`) writes the same files onto the host's copies of the
 * base image's tools and the packages' libraries when no registry is reachable.
 *
 * @example
 * ```ts
 * import { AGENT_IMAGE } from "./image.ts";
 * console.log(AGENT_IMAGE.entrypoint); // [ "/opt/tsn-proxy/k8s/entrypoint.sh" ]
 * ```
 *
 * @module
 */
import { IMAGE } from "./layout.ts";

/** One copy into the image: a repository path (a trailing `/` copies the folder's content). */
export interface ImageCopy {
  /** Relative to the repository root. */
  readonly from: string;
  /** Absolute path in the image (a folder when it ends in `/`). */
  readonly to: string;
}

/** The agent image. */
export const AGENT_IMAGE = {
  /** Debian base of the Containerfile; the local image takes the host's Debian files instead. */
  base: "debian:bookworm-slim",
  /**
   * Debian packages on top of the base: libbpf (the agent loads it through FFI) and iproute2
   * (`tsnproxy doctor` in the pod looks at the TSN interfaces with ip and tc).
   */
  packages: ["libbpf1", "iproute2"],
  /** Launcher, agent bundle, BPF object, Deno runtime, the plugin; the entrypoint and helper. */
  copies: [
    { from: "dist/tsnproxy/", to: "/opt/tsn-proxy/" },
    { from: "k8s/node/entrypoint.sh", to: "/opt/tsn-proxy/k8s/" },
    { from: "k8s/node/node_helper.ts", to: "/opt/tsn-proxy/k8s/" },
  ],
  env: ["DENO_NO_UPDATE_CHECK=1", "DENO_NO_PROMPT=1"],
  entrypoint: [IMAGE.entrypoint],
} as const;
