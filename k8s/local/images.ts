/**
 * The local node's two images, written as OCI archives (./oci.ts) from this repository and the
 * host's own Debian files:
 *
 * - the agent image: {@linkcode AGENT_IMAGE}'s copies (the same definition k8s/Containerfile is
 *   checked against) on top of the host's stand-ins for the Debian base and packages: dash as
 *   `/bin/sh`, the coreutils the entrypoint calls, nsenter, and `libbpf.so.1` with the ldd
 *   closure of everything, the Deno runtime included;
 * - the e2e image (talkers and probe, as k8s/kind/Containerfile.e2e): the agent image plus ip, tc,
 *   socat, bpftool and the bundles k8s/kind/stage.ts writes.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { AGENT_IMAGE } from "../image.ts";
import { IMAGE } from "../layout.ts";
import { KIND } from "../kind/scenario.ts";
import { stageE2eContext } from "../kind/stage.ts";
import { writeOciArchive } from "./oci.ts";
import { BIN } from "@tsn-proxy/sim/netns";

/** Host programs standing in for the base image's and the packages' files. */
const BASE_PROGRAMS = [
  "/bin/dash",
  "/bin/cat",
  "/bin/mkdir",
  "/bin/mv",
  "/bin/rm",
  "/bin/ln",
  "/bin/ls",
  "/bin/sleep",
  "/bin/kill",
  "/usr/bin/env",
  "/usr/bin/nsenter",
  "/usr/bin/mount",
  "/usr/bin/mountpoint",
];
/** The host's files of each of AGENT_IMAGE's Debian packages that the agent and doctor use. */
const PACKAGE_FILES: Readonly<Record<string, readonly string[]>> = {
  libbpf1: ["/usr/lib/x86_64-linux-gnu/libbpf.so.1"],
  iproute2: [BIN.ip, BIN.tc],
};
/** The e2e toolkit runs its tools by these paths (sim/netns.ts BIN). */
const E2E_PROGRAMS = [BIN.socat, BIN.bpftool, BIN.ss, BIN.sysctl];

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The shared libraries ldd names for a program (none for a static one). */
async function libsOf(file: string): Promise<string[]> {
  const ldd = await run("/usr/bin/ldd", [file]).catch(() => ""); // "not a dynamic executable"
  return [...ldd.matchAll(/(\/\S+)/g)].map((m) => m[1]!).filter((p) => p !== file);
}

/** Copies host files (symlinks resolved) and the shared libraries ldd names into rootfs. */
async function copyWithLibs(rootfs: string, files: readonly string[]): Promise<void> {
  for (const file of files) {
    for (const p of [file, ...await libsOf(file)]) {
      const dst = join(rootfs, p);
      await Deno.mkdir(dirname(dst), { recursive: true });
      await Deno.copyFile(await Deno.realPath(p), dst);
      await Deno.chmod(dst, 0o755);
    }
  }
}

async function agentRootfs(root: string, rootfs: string): Promise<void> {
  for (const d of ["proc", "sys", "dev", "etc", "tmp", "run", "var/run", "host"]) {
    await Deno.mkdir(join(rootfs, d), { recursive: true });
  }
  await Deno.chmod(join(rootfs, "tmp"), 0o1777);
  const packages = AGENT_IMAGE.packages.map((p) => {
    const files = PACKAGE_FILES[p];
    if (!files) throw new Error(`k8s/image.ts names package ${p}: say which host files stand in`);
    return files;
  });
  await copyWithLibs(rootfs, [...BASE_PROGRAMS, ...packages.flat()]);
  await Deno.symlink("dash", join(rootfs, "bin/sh"));
  for (const c of AGENT_IMAGE.copies) {
    const src = join(root, c.from);
    const dst = join(rootfs, c.to);
    await Deno.mkdir(dst, { recursive: true });
    await run("/bin/cp", c.from.endsWith("/") ? ["-a", `${src}/.`, dst] : ["-a", src, dst]);
  }
  await copyWithLibs(rootfs, await libsOf(join(rootfs, IMAGE.deno)));
  await Deno.writeTextFile(join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  await Deno.writeTextFile(join(rootfs, "etc/group"), "root:x:0:\n");
}

/** The images the local node imports, as references the pods name. */
export interface LocalImages {
  /** OCI archives to import. */
  readonly archives: readonly string[];
}

/** Writes the agent image under `agentRef` and the e2e image (KIND.e2eImage) into dir. */
export async function writeLocalImages(
  root: string,
  dir: string,
  agentRefs: readonly string[],
): Promise<LocalImages> {
  const agent = join(dir, "agent-rootfs");
  await agentRootfs(root, agent);
  const archives: string[] = [];
  for (const [i, ref] of agentRefs.entries()) {
    const out = join(dir, `agent-${i}.tar`);
    await writeOciArchive({
      rootfs: agent,
      ref,
      entrypoint: AGENT_IMAGE.entrypoint,
      env: AGENT_IMAGE.env,
      out,
    });
    archives.push(out);
  }
  const e2e = join(dir, "e2e-rootfs");
  await run("/bin/cp", ["-a", agent, e2e]);
  await copyWithLibs(e2e, E2E_PROGRAMS);
  await stageE2eContext(e2e);
  await Deno.remove(join(e2e, "Containerfile.e2e"));
  const out = join(dir, "e2e.tar");
  await writeOciArchive({ rootfs: e2e, ref: KIND.e2eImage, entrypoint: [], env: [], out });
  archives.push(out);
  return { archives };
}

/** The pod sandbox image: busybox-static sleeping (the kubelet kills sandboxes with SIGKILL). */
export async function writePauseImage(dir: string, ref: string): Promise<string> {
  const rootfs = join(dir, "pause-rootfs");
  await Deno.mkdir(join(rootfs, "bin"), { recursive: true });
  await Deno.copyFile("/bin/busybox", join(rootfs, "bin/busybox"));
  await Deno.chmod(join(rootfs, "bin/busybox"), 0o755);
  const out = join(dir, "pause.tar");
  await writeOciArchive({
    rootfs,
    ref,
    entrypoint: ["/bin/busybox", "sleep", "2147483647"],
    env: [],
    out,
  });
  return out;
}
