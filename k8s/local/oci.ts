/**
 * Container images without a registry or a builder: a directory becomes a one-layer OCI image
 * layout in a tar, which `ctr -n k8s.io images import` takes as is.
 *
 * The layer is an uncompressed tar (`application/vnd.oci.image.layer.v1.tar`), so its digest is
 * its diff id and nothing is compressed only to be decompressed again a second later.
 *
 * @example
 * ```ts ignore
 * import { writeOciArchive } from "./oci.ts";
 * await writeOciArchive({ rootfs: "/tmp/rootfs", ref: "docker.io/tsn-proxy/agent:0.1.0",
 *   entrypoint: ["/opt/tsn-proxy/k8s/entrypoint.sh"], env: [], out: "/tmp/agent.tar" });
 * ```
 *
 * @module
 */
import { join } from "node:path";

/** What {@linkcode writeOciArchive} writes. */
export interface OciImage {
  /** Directory whose content becomes the image's filesystem. */
  rootfs: string;
  /** Fully qualified reference, e.g. `docker.io/tsn-proxy/agent:0.1.0`. */
  ref: string;
  entrypoint: readonly string[];
  /** `NAME=value` entries. */
  env: readonly string[];
  /** The archive to write. */
  out: string;
}

/** A reference as containerd stores it: `tsn-proxy/agent:x` is `docker.io/tsn-proxy/agent:x`. */
export function qualifiedRef(ref: string): string {
  const first = ref.split("/")[0]!;
  const hasRegistry = ref.includes("/") && (first.includes(".") || first.includes(":") ||
    first === "localhost");
  if (hasRegistry) return ref;
  return ref.includes("/") ? `docker.io/${ref}` : `docker.io/library/${ref}`;
}

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function tar(args: string[]): Promise<void> {
  const out = await new Deno.Command("/usr/bin/tar", { args, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`tar ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Writes `image` as an OCI image layout tar at `image.out`; returns the manifest digest. */
export async function writeOciArchive(image: OciImage): Promise<string> {
  const layout = await Deno.makeTempDir({ prefix: "tsn-oci-" });
  try {
    const blobs = join(layout, "blobs", "sha256");
    await Deno.mkdir(blobs, { recursive: true });
    const layerTmp = join(layout, "layer.tar");
    // Fixed owner and time: the same rootfs gives the same layer digest run after run.
    await tar([
      "--sort=name",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--mtime=@0",
      "-C",
      image.rootfs,
      "-cf",
      layerTmp,
      ".",
    ]);
    const layer = await Deno.readFile(layerTmp);
    const layerDigest = await sha256(layer);
    await Deno.rename(layerTmp, join(blobs, layerDigest));
    const blob = async (obj: unknown) => {
      const bytes = new TextEncoder().encode(JSON.stringify(obj));
      const digest = await sha256(bytes);
      await Deno.writeFile(join(blobs, digest), bytes);
      return { digest: `sha256:${digest}`, size: bytes.length };
    };
    const config = await blob({
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: image.entrypoint, Env: image.env },
      rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] },
    });
    const manifest = await blob({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        digest: `sha256:${layerDigest}`,
        size: layer.length,
      }],
    });
    const ref = qualifiedRef(image.ref);
    await Deno.writeTextFile(
      join(layout, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: {
            "io.containerd.image.name": ref,
            "org.opencontainers.image.ref.name": ref.slice(ref.lastIndexOf(":") + 1),
          },
        }],
      }),
    );
    await Deno.writeTextFile(join(layout, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    await tar(["-C", layout, "-cf", image.out, "oci-layout", "index.json", "blobs"]);
    return manifest.digest;
  } finally {
    await Deno.remove(layout, { recursive: true }).catch(() => {});
  }
}
