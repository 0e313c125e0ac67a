/**
 * @module
 * The pinned guest kernels: Debian's stock amd64 kernel packages, fetched with `apt-get download`
 * into `.cache/lab/debs/`, unpacked with `dpkg -x` into `.cache/lab/kernels/<version>/` (never into
 * the host's /boot) and indexed with `depmod -b`. Every step is idempotent and verified.
 *
 * @example
 * ```ts ignore
 * import { ensureKernel } from "./kernels.ts";
 * const k = await ensureKernel("6.12");
 * console.log(k.vmlinuz, k.modulesDir);
 * ```
 */
import { exists } from "@tsn-proxy/sim/netns";
import { cacheDir, run, withLock, writeFileAtomic } from "./util.ts";

/** The kernels the lab boots. */
export type KernelId = "6.1" | "6.12";

/** One pinned Debian kernel package. */
export interface KernelPin {
  readonly id: KernelId;
  /** The Debian binary package (the signed image; the signature does not matter to QEMU). */
  readonly package: string;
  /** Its exact Debian version. */
  readonly version: string;
  /** The kernel release it installs (`uname -r`, the folder under /lib/modules). */
  readonly release: string;
  /** Where Debian publishes it (informational; `apt-get download` finds it through apt's lists). */
  readonly suite: string;
}

/**
 * Pinned on 2025-11-26 from `apt-cache policy`: the newest 6.1 and 6.12 amd64 images of
 * bookworm-security. Debian's security archive keeps only the newest upload of a package, so a pin
 * can vanish when a new ABI is published: `ensureKernel` then fails with a message that names the
 * current candidate, and the pin here must be moved (a new 6.1 ABI also changes `package`).
 */
export const KERNELS: Readonly<Record<KernelId, KernelPin>> = {
  "6.1": {
    id: "6.1",
    package: "linux-image-6.1.0-56-amd64",
    version: "6.1.192-2",
    release: "6.1.0-56-amd64",
    suite: "bookworm-security",
  },
  "6.12": {
    id: "6.12",
    package: "linux-image-6.12.117+deb12-amd64",
    version: "6.12.117-1~deb12u1",
    release: "6.12.117+deb12-amd64",
    suite: "bookworm-security",
  },
};

/** The kernel ids, in boot order for tests. */
export const KERNEL_IDS: readonly KernelId[] = ["6.1", "6.12"];

/** Type guard for a kernel id given on a command line. */
export function isKernelId(s: string): s is KernelId {
  return Object.hasOwn(KERNELS, s);
}

/** An unpacked, depmod-indexed kernel. */
export interface UnpackedKernel {
  readonly pin: KernelPin;
  /** The `dpkg -x` root (holds boot/ and lib/modules/). */
  readonly root: string;
  /** The bzImage to hand to QEMU's `-kernel`. */
  readonly vmlinuz: string;
  /** `lib/modules/<release>` under root, with a fresh modules.dep. */
  readonly modulesDir: string;
}

/** The file name `apt-get download` gives a package (an epoch's ':' is written as %3a). */
function debFileName(pin: KernelPin): string {
  return `${pin.package}_${pin.version.replaceAll(":", "%3a")}_amd64.deb`;
}

const STAMP = ".tsnlab-unpacked.json";

/** Downloads the pinned .deb (once) and returns its path, after checking its control fields. */
async function fetchDeb(pin: KernelPin): Promise<string> {
  const dir = `${cacheDir()}/debs`;
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${debFileName(pin)}`;
  if (!await exists(path)) {
    const spec = `${pin.package}=${pin.version}`;
    try {
      await run("apt-get", ["download", "-q", spec], { cwd: dir });
    } catch {
      // The package lists may be missing or stale on a fresh machine: refresh once and retry.
      await run("apt-get", ["update", "-qq"]).catch(() => "");
      try {
        await run("apt-get", ["download", "-q", spec], { cwd: dir });
      } catch (e) {
        const policy = await run("apt-cache", ["policy", pin.package]).catch(() => "");
        const candidate = /Candidate:\s*(\S+)/.exec(policy)?.[1] ?? "none";
        throw new Error(
          `cannot download pinned kernel ${spec} (${pin.suite}); apt's candidate for ` +
            `${pin.package} is ${candidate}. Move the pin in lab/kernels.ts.\n` +
            (e instanceof Error ? e.message : String(e)),
        );
      }
    }
    if (!await exists(path)) throw new Error(`apt-get download gave no ${path}`);
  }
  const fields = await run("dpkg-deb", ["-f", path, "Package", "Version", "Architecture"]);
  const got = Object.fromEntries(
    fields.trim().split("\n").map((l) => l.split(/:\s*/, 2) as [string, string]),
  );
  if (got["Package"] !== pin.package || got["Version"] !== pin.version) {
    throw new Error(
      `${path} is ${got["Package"]} ${got["Version"]}, want ${pin.package} ${pin.version}`,
    );
  }
  return path;
}

/** Checks an unpacked tree: the bzImage and an indexed modules folder must be there. */
async function verifyUnpacked(pin: KernelPin, root: string): Promise<UnpackedKernel> {
  const vmlinuz = `${root}/boot/vmlinuz-${pin.release}`;
  const modulesDir = `${root}/lib/modules/${pin.release}`;
  const problems: string[] = [];
  const size = async (p: string) => (await Deno.stat(p).catch(() => null))?.size ?? -1;
  if (await size(vmlinuz) < 1_000_000) problems.push(`no kernel image ${vmlinuz}`);
  if (!(await Deno.stat(`${modulesDir}/kernel`).catch(() => null))?.isDirectory) {
    problems.push(`no modules folder ${modulesDir}/kernel`);
  }
  if (await size(`${modulesDir}/modules.dep`) <= 0) {
    problems.push(`no modules.dep in ${modulesDir}`);
  }
  if (problems.length) {
    throw new Error(`kernel ${pin.package} ${pin.version}: ${problems.join("; ")}`);
  }
  return { pin, root, vmlinuz, modulesDir };
}

/**
 * Makes the pinned kernel available under `.cache/lab/kernels/<version>/`: downloads, unpacks into
 * a temporary folder, runs `depmod -b`, verifies, then renames into place. A finished tree is
 * recognised by its stamp file and only re-verified.
 */
export async function ensureKernel(id: KernelId): Promise<UnpackedKernel> {
  const pin = KERNELS[id];
  const base = `${cacheDir()}/kernels`;
  await Deno.mkdir(base, { recursive: true });
  return await withLock(`${base}/.lock-${id}`, () => unpackLocked(pin, base));
}

async function unpackLocked(pin: KernelPin, base: string): Promise<UnpackedKernel> {
  const root = `${base}/${pin.version}`;
  const stampText = JSON.stringify({
    package: pin.package,
    version: pin.version,
    release: pin.release,
  });
  const stamp = await Deno.readTextFile(`${root}/${STAMP}`).catch(() => "");
  if (stamp === stampText) return await verifyUnpacked(pin, root);

  const deb = await fetchDeb(pin);
  const tmp = `${root}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp);
  try {
    await run("dpkg", ["-x", deb, tmp]);
    await run("depmod", ["-b", tmp, pin.release]);
    await verifyUnpacked(pin, tmp);
    await writeFileAtomic(`${tmp}/${STAMP}`, stampText);
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, root);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  return await verifyUnpacked(pin, root);
}
