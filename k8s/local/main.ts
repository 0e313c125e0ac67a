/**
 * `deno task e2e [--strategy NAME]... [--keep]`: tsn-proxy on a real single-node Kubernetes
 * brought up on this machine (./node.ts), from binaries built on first use (./build.ts) and
 * images written locally (./images.ts); the scenarios (./scenarios.ts) run against it, then it is
 * taken down and the host is checked against what it was before (./host_state.ts).
 *
 * Two halves in two processes: this one stays in the host's namespaces (build, images, host
 * snapshot, restore and check, Ctrl-C), and re-runs itself with `--inside` under
 * `unshare --mount --net --propagation private`, where the node lives. Exit 0 passed, 1 failed.
 *
 * `--keep` leaves the node up after the scenarios until Ctrl-C (docs/development.md says how
 * to reach it).
 *
 * @module
 */
import { repoRoot } from "@tsn-proxy/bpf";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { getStrategy } from "@tsn-proxy/strategies";
import { ensureKubeBinaries } from "./build.ts";
import { compareHost, restoreHost, snapshotHost } from "./host_state.ts";
import { writeLocalImages, writePauseImage } from "./images.ts";
import { NODE, startNode } from "./node.ts";
import { localImageRefs, runScenarios } from "./scenarios.ts";

const ROOT = repoRoot();
const USAGE = "usage: deno task e2e [--strategy skb-addr|skb-data]... [--keep]";
const log = (s: string) => console.error(`  ▸ ${s}`);

/** Debian packages the node runs (./dev setup installs them). */
const NEEDED = [
  "/usr/bin/etcd",
  "/usr/bin/containerd",
  "/usr/sbin/runc",
  "/usr/bin/ctr",
  "/usr/lib/cni/bridge",
  "/usr/bin/openssl",
  "/usr/sbin/nft",
  "/usr/bin/unshare",
  "/bin/busybox",
];

async function missingTools(): Promise<string[]> {
  const out: string[] = [];
  for (const p of NEEDED) {
    try {
      await Deno.stat(p);
    } catch {
      out.push(p);
    }
  }
  return out;
}

/** The host half. */
async function host(strategies: string[], keep: boolean): Promise<number> {
  if (Deno.uid() !== 0) {
    console.error("e2e: needs root (namespaces, mounts, BPF); run it with sudo");
    return 1;
  }
  const missing = await missingTools();
  if (missing.length) {
    console.error(`e2e: missing ${missing.join(", ")}; run ./dev setup`);
    return 1;
  }
  // The kubelet's cgroups are host-wide, whichever namespaces it runs in: two nodes would share
  // (and the second's cleanup remove) the first one's.
  const busy = await Deno.stat("/sys/fs/cgroup/memory/kubepods").then(() => true, () => false);
  if (busy) {
    console.error(
      "e2e: /sys/fs/cgroup/*/kubepods exists: another node runs on this machine (one e2e at a " +
        "time), or a run was killed with SIGKILL (rmdir its cgroups, deepest first)",
    );
    return 1;
  }
  const t0 = Date.now();
  const bin = await ensureKubeBinaries({ root: ROOT, log });
  const state = join(ROOT, ".cache", "k8s", "node");
  await Deno.remove(state, { recursive: true }).catch(() => {});
  const images = join(state, "images");
  await Deno.mkdir(images, { recursive: true });
  log("writing the images (OCI archives)");
  const { archives } = await writeLocalImages(ROOT, images, localImageRefs());
  const pause = await writePauseImage(images, NODE.pauseImage);
  const before = await snapshotHost();
  const child = new Deno.Command("/usr/bin/unshare", {
    args: [
      "--mount",
      "--net",
      "--propagation",
      "private",
      "--",
      Deno.execPath(),
      "run",
      "-A",
      import.meta.filename!,
      "--inside",
      "--state",
      state,
      "--bin",
      bin,
      "--pause",
      pause,
      ...archives.flatMap((a) => ["--image", a]),
      ...strategies.flatMap((s) => ["--strategy", s]),
      ...(keep ? ["--keep"] : []),
    ],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // Ctrl-C reaches the inside half through the terminal's process group; this half only waits
  // for it to take the node down, then restores the host.
  const ignore = () => {};
  Deno.addSignalListener("SIGINT", ignore);
  Deno.addSignalListener("SIGTERM", () => child.kill("SIGTERM"));
  const status = await child.status;
  Deno.removeSignalListener("SIGINT", ignore);
  await restoreHost(before, log);
  const diff = compareHost(before, await snapshotHost());
  if (diff.others.length) {
    log(
      `${diff.others.length} changes in names the node never uses (other tests on this ` +
        `machine), e.g. ${diff.others.slice(0, 3).join("; ")}`,
    );
  }
  for (const o of diff.ours) console.error(`FAIL host changed: ${o}`);
  if (diff.ours.length === 0) {
    log("host check: sysctls, nftables ruleset, netns, mounts and cgroups as before");
  }
  // The containerd snapshots are large; the logs stay for whoever reads a failure.
  for (const d of ["var-lib", "run", "opt", "etc-cni", "images"]) {
    await Deno.remove(join(state, d), { recursive: true }).catch(() => {});
  }
  log(`logs of the node's components: ${join(state, "logs")}`);
  log(`e2e took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return status.success && diff.ours.length === 0 ? 0 : 1;
}

/** The inside half: the node and the scenarios. */
async function inside(o: {
  state: string;
  bin: string;
  pause: string;
  images: string[];
  strategies: string[];
  keep: boolean;
}): Promise<number> {
  const node = await startNode({
    state: o.state,
    bin: o.bin,
    images: o.images,
    pauseArchive: o.pause,
    log,
  });
  let stopping: Promise<void> | null = null;
  const stop = () => stopping ??= node.stop();
  const onSignal = () => {
    log("interrupted: taking the node down");
    stop().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const failures = await runScenarios(node, { strategies: o.strategies, log });
    for (const f of failures) console.error(`FAIL ${f}`);
    if (!failures.length) console.error("all scenarios passed");
    if (o.keep) {
      log(`node kept up; kubectl: nsenter -t ${Deno.pid} -m -n ${node.kubectl.join(" ")} ...`);
      log("Ctrl-C takes it down");
      await new Promise(() => {});
    }
    return failures.length ? 1 : 0;
  } catch (e) {
    console.error(`e2e: ${e instanceof Error ? e.stack ?? e.message : e}`);
    return 1;
  } finally {
    await stop();
  }
}

if (import.meta.main) {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        strategy: { type: "string", multiple: true },
        keep: { type: "boolean", default: false },
        inside: { type: "boolean", default: false },
        state: { type: "string" },
        bin: { type: "string" },
        pause: { type: "string" },
        image: { type: "string", multiple: true },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
    for (const s of values.strategy ?? []) getStrategy(s);
  } catch (e) {
    console.error(`e2e: ${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const strategies = values.strategy?.length ? values.strategy : ["skb-addr", "skb-data"];
  Deno.exit(
    values.inside
      ? await inside({
        state: values.state!,
        bin: values.bin!,
        pause: values.pause!,
        images: values.image ?? [],
        strategies,
        keep: values.keep,
      })
      : await host(strategies, values.keep),
  );
}
