/**
 * A pod cannot reach the agent's socket or the datapath's pins. With the real agent running in the
 * node netns, processes are placed the way a pod's are: in the pod's network namespace, and in a
 * private mount namespace that has its own view of the file system (the pod's root file system
 * never contains the agent's hostPath dir, nor the node's bpffs).
 *
 * - A Unix socket on a path is reachable from any network namespace (control: root in the pod's
 *   netns with the node's mounts connects): the network namespace alone protects nothing.
 * - The socket is 0600 root in a 0700 dir the agent creates; even with the dir world-readable
 *   (kubelet's hostPath DirectoryOrCreate makes 0755) a non-root uid cannot connect (EACCES).
 * - A mount namespace without the agent's dir (tmpfs over it, as a pod's root file system is):
 *   no socket, even for root (ENOENT).
 * - Pins: the node's bpffs mount is not in the pod's mount namespace; a bpffs the pod mounts
 *   itself is a new, empty instance, and a tmpfs there holds nothing: the pins are not there, even
 *   for root. A non-root uid cannot use bpf(2) at all (kernel.unprivileged_bpf_disabled) even
 *   where it sees the pins.
 */
import { equal, match, ok } from "node:assert/strict";
import { dirname } from "node:path";
import { PinLayout } from "@tsn-proxy/bpf/datapath";
import { statusRequest } from "@tsn-proxy/cni/protocol";
import { CniBench, since } from "./fault_fixture.ts";
import { BIN } from "@tsn-proxy/sim/netns";
import { exec, type ExecResult } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";

const NOBODY = "65534";

/** Runs argv in the pod's netns, optionally in a private mount ns after `prep` (sh), as uid. */
function inPod(
  netnsPath: string,
  o: { prep?: string; uid?: string },
  argv: readonly string[],
): Promise<ExecResult> {
  const asUser = o.uid
    ? ["/usr/bin/setpriv", "--reuid", o.uid, "--regid", o.uid, "--clear-groups", "--"]
    : [];
  const quoted = [...asUser, ...argv].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const cmd = o.prep === undefined
    ? [BIN.nsenter, `--net=${netnsPath}`, "--", ...asUser, ...argv]
    : [
      BIN.nsenter,
      `--net=${netnsPath}`,
      "--",
      "/usr/bin/unshare",
      "--mount",
      "--propagation",
      "private",
      "--",
      "/bin/sh",
      "-c",
      `set -e; ${o.prep}; exec ${quoted}`,
    ];
  return exec(cmd, { allowFail: true, timeoutMs: 10_000, stdin: "" });
}

/** socat connecting to the socket and sending a STATUS request; succeeds when the agent answers. */
function connect(socket: string): string[] {
  return [
    BIN.socat,
    "-t",
    "2",
    "-",
    `UNIX-CONNECT:${socket}`,
  ];
}

Deno.test("a process in a pod's namespaces cannot reach the agent's socket or the pins", async () => {
  requireKernelTests();
  const t0 = performance.now();
  const bench = await CniBench.create();
  try {
    await bench.startAgent();
    const pod = await bench.pod("p", { optIn: true });
    await bench.add(pod);
    const { socket, stateDir, bpffs } = bench.node;
    const sock = await Deno.stat(socket);
    ok(sock.isSocket, "the agent's socket");
    equal(sock.mode! & 0o777, 0o600, "socket mode");
    equal(sock.uid, 0);
    equal((await Deno.stat(stateDir)).mode! & 0o777, 0o700, "the agent creates its dir 0700");
    const status = JSON.stringify(statusRequest()) + "\n";
    const ask = (o: { prep?: string; uid?: string }) =>
      exec([
        BIN.nsenter,
        `--net=${pod.ns.path}`,
        "--",
        "/bin/sh",
        "-c",
        // socat reads the request from the file the test wrote, so the answer tells who got in.
        `exec ${
          o.prep === undefined
            ? ""
            : `/usr/bin/unshare --mount --propagation private -- /bin/sh -c '${o.prep}; exec "$0" "$@"' `
        }${o.uid ? `/usr/bin/setpriv --reuid ${o.uid} --regid ${o.uid} --clear-groups -- ` : ""}${
          connect(socket).join(" ")
        }`,
      ], { allowFail: true, timeoutMs: 10_000, stdin: status });

    // Control: root in the pod's netns, node's mounts: the socket answers (netns is no barrier).
    const root = await ask({});
    ok(root.success && root.stdout.includes('"ok":true'), `control failed: ${root.stderr}`);

    // Non-root, even where the path is traversable (dirs opened up to 0755 as kubelet makes them).
    const opened = [dirname(stateDir), stateDir];
    const modes = await Promise.all(opened.map(async (d) => (await Deno.stat(d)).mode! & 0o777));
    for (const d of opened) await Deno.chmod(d, 0o755);
    let nonRoot: ExecResult, nonRootOpen: ExecResult;
    try {
      nonRoot = await ask({ uid: NOBODY });
      // With the socket's mode opened too (a careless chmod or hostPath), the process connects,
      // and the agent's peer check refuses it (103): the file mode is not the only barrier.
      await Deno.chmod(socket, 0o666);
      try {
        nonRootOpen = await ask({ uid: NOBODY });
      } finally {
        await Deno.chmod(socket, 0o600);
      }
    } finally {
      for (const [i, d] of opened.entries()) await Deno.chmod(d, modes[i]!);
    }
    ok(nonRootOpen.stdout.includes('"code":103'), `${nonRootOpen.stdout} ${nonRootOpen.stderr}`);
    ok(!nonRootOpen.stdout.includes('"ok":true'), "the agent served a non-root caller");
    ok(!nonRoot.success, "a non-root uid connected to the agent's socket");
    match(nonRoot.stderr, /Permission denied/);
    // And with the agent's own 0700 dir: not even the path.
    const nonRoot700 = await ask({ uid: NOBODY });
    ok(!nonRoot700.success);
    match(nonRoot700.stderr, /Permission denied/);

    // A mount namespace without the agent's dir (the pod's root file system): no socket for root.
    const hidden = await ask({ prep: `mount -t tmpfs none ${dirname(stateDir)}` });
    ok(!hidden.success, "root in a private mount ns without the agent's dir reached the socket");
    match(hidden.stderr, /No such file or directory/);

    // Pins. Control: root with the node's mounts sees them.
    const saverPin = new PinLayout(bpffs).podSaver(
      (await Array.fromAsync(Deno.readDir(new PinLayout(bpffs).podDir("x").replace(/\/x$/, ""))))[
        0
      ]!
        .name,
    );
    const recordsPin = new PinLayout(bpffs).buckets;
    const show = [BIN.bpftool, "map", "show", "pinned", recordsPin];
    const control = await inPod(pod.ns.path, {}, show);
    ok(control.success, `control: root in the pod netns with the node's mounts: ${control.stderr}`);
    const views: Record<string, string> = {
      "own bpffs": "mount -t bpf bpf /sys/fs/bpf",
      "tmpfs": "mount -t tmpfs none /sys/fs/bpf",
      "none": "umount -l /sys/fs/bpf",
    };
    const seen: string[] = [];
    for (const [name, prep] of Object.entries(views)) {
      const r = await inPod(pod.ns.path, { prep }, show);
      ok(!r.success, `${name}: root in the pod's mount ns found the records map pin`);
      const ls = await inPod(pod.ns.path, { prep }, ["/usr/bin/test", "-e", saverPin]);
      ok(!ls.success, `${name}: the saver pin ${saverPin} is visible`);
      seen.push(`${name}: ${r.stderr.trim().split("\n").at(-1)}`);
    }
    // Non-root where the pins are visible: bpf(2) is refused.
    const unpriv = await inPod(pod.ns.path, { uid: NOBODY }, show);
    ok(!unpriv.success, "a non-root uid opened a pinned map");
    const unprivList = await inPod(pod.ns.path, { uid: NOBODY }, [BIN.bpftool, "prog", "show"]);
    ok(!unprivList.success, "a non-root uid listed BPF programs");
    console.log(
      `access: socket 0600 root, dir 0700; root in pod netns (node mounts) connects; nobody: ` +
        `${nonRoot.stderr.trim().split("\n").at(-1)}; private mount ns: ` +
        `${hidden.stderr.trim().split("\n").at(-1)}; pins: ${seen.join("; ")}; nobody + pins: ` +
        `${unpriv.stderr.trim().split("\n").at(-1)}; ${since(t0)} ms`,
    );
  } finally {
    await bench.destroy();
  }
});
