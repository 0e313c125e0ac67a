/**
 * Runs the DaemonSet's agent container, as the manifest specifies it, with podman + runc on a
 * simulated node: the pod spec is translated flag by flag (hostNetwork → the node's netns;
 * capabilities; read-only root; the runtime's default seccomp profile; hostPath mounts with their
 * propagation; ConfigMaps as read-only files; emptyDir as tmpfs; env with the downward API; the
 * memory and CPU limits), then
 * an opted-in pod is added through the real plugin from the host, its saver must attach, and a
 * `podman stop` after the DaemonSet "was deleted" must uninstall everything.
 *
 * A manual check (not in CI: it needs the agent image, which CI cannot build without a registry):
 *
 * ```sh
 * sudo deno run -A k8s/podman_check.ts localhost/tsn-proxy/agent:0.1.0
 * ```
 *
 * Uses the node's real /var/run/tsn-proxy and /sys/fs/bpf/tsn-proxy (the plugin on the host
 * finds the socket at the manifest's path); the CNI dirs are the simulated node's.
 *
 * @module
 */
import { join } from "node:path";
import { loadState } from "@tsn-proxy/bpf/datapath";
import { exists, nsCommand } from "@tsn-proxy/sim/netns";
import { exec, sleep } from "@tsn-proxy/sim/process";
import { agentConfigText, policyConfigText } from "./config.ts";
import { daemonSet } from "./manifest.ts";
import { CONFIG_KEYS, NAMES, NODE } from "./layout.ts";
import { DEFAULT_MANIFEST_OPTIONS, validateOptions } from "./options.ts";
import { startFakeApi, TestNode } from "./_testnode.ts";

/** podman run flags for the DaemonSet's container (hostPath/ConfigMap sources mapped by `src`). */
function podmanFlags(
  o: ReturnType<typeof validateOptions>,
  src: { netns: string; configDirs: Record<string, string>; hostPath: (p: string) => string },
  env: Record<string, string>,
): string[] {
  const spec = daemonSet(o).spec!.template.spec!;
  const c = spec.containers[0]!;
  const sc = c.securityContext!;
  const flags = [
    `--network=ns:${src.netns}`,
    "--cap-drop=all",
    ...(sc.capabilities?.add ?? []).map((cap) => `--cap-add=${cap}`),
    ...(sc.readOnlyRootFilesystem ? ["--read-only", "--read-only-tmpfs=false"] : []),
    `--user=${sc.runAsUser ?? 0}`,
    "--security-opt=apparmor=unconfined",
    `--entrypoint=${c.command![0]}`,
  ];
  const mem = /^(\d+)Mi$/.exec(String(c.resources?.limits?.memory ?? ""));
  if (mem) flags.push(`--memory=${mem[1]}m`);
  const cpu = c.resources?.limits?.cpu;
  if (cpu !== undefined) flags.push(`--cpus=${cpu}`);
  if (sc.seccompProfile?.type !== "RuntimeDefault") throw new Error("expected RuntimeDefault");
  for (const m of c.volumeMounts ?? []) {
    const v = spec.volumes!.find((x) => x.name === m.name)!;
    const ro = m.readOnly ? "ro" : "rw";
    if (v.hostPath) {
      // kubelet's DirectoryOrCreate; podman wants the source to exist.
      if (v.hostPath.type === "DirectoryOrCreate") {
        Deno.mkdirSync(src.hostPath(v.hostPath.path), { recursive: true });
      }
      const prop = m.mountPropagation === "HostToContainer" ? ",rslave" : "";
      flags.push(`--volume=${src.hostPath(v.hostPath.path)}:${m.mountPath}:${ro}${prop}`);
    } else if (v.configMap?.name) {
      flags.push(`--volume=${src.configDirs[v.configMap.name]}:${m.mountPath}:ro`);
    } else if (v.emptyDir) {
      flags.push(`--tmpfs=${m.mountPath}:rw,size=64m`);
    }
  }
  for (const e of c.env ?? []) {
    const value = e.value ?? env[e.valueFrom?.fieldRef?.fieldPath ?? ""] ?? "";
    flags.push(`--env=${e.name}=${value}`);
  }
  for (const [k, v] of Object.entries(env)) if (!k.includes(".")) flags.push(`--env=${k}=${v}`);
  return flags;
}

async function main(image: string) {
  const t = await TestNode.create();
  const { node } = t;
  const dir = node.dir;
  const podmanDir = join(dir, "podman");
  await Deno.mkdir(podmanDir);
  await Deno.writeTextFile(
    join(podmanDir, "containers.conf"),
    '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n' +
      'events_logger = "none"\n',
  );
  const penv = {
    CONTAINERS_CONF: join(podmanDir, "containers.conf"),
    CONTAINERS_STORAGE_CONF: Deno.env.get("CONTAINERS_STORAGE_CONF") ?? "",
    CONTAINERS_REGISTRIES_CONF: Deno.env.get("CONTAINERS_REGISTRIES_CONF") ?? "",
  };
  const o = validateOptions({ ...DEFAULT_MANIFEST_OPTIONS, tsnInterfaces: [node.topo.node.nic] });
  const configDirs: Record<string, string> = {
    [NAMES.agentConfig]: join(dir, "cm-agent"),
    [NAMES.policyConfig]: join(dir, "cm-policy"),
  };
  await Deno.mkdir(configDirs[NAMES.agentConfig]!);
  await Deno.mkdir(configDirs[NAMES.policyConfig]!);
  await Deno.writeTextFile(
    join(configDirs[NAMES.agentConfig]!, CONFIG_KEYS.agent),
    agentConfigText(o),
  );
  await Deno.writeTextFile(
    join(configDirs[NAMES.policyConfig]!, CONFIG_KEYS.policy),
    policyConfigText({ ...o, policy: { defaultMaxPriority: 4, namespaces: {} } }),
  );
  const dsStatus = join(dir, "ds-status");
  await Deno.writeTextFile(dsStatus, "200");
  const api = await startFakeApi(node.ns, dsStatus);
  const hostPath = (p: string) =>
    p === NODE.cniConfDir ? node.confDir : p === NODE.cniBinDir ? node.binDir : p;
  const flags = podmanFlags(o, { netns: node.ns.path, configDirs, hostPath }, {
    "metadata.namespace": "tsn-system",
    "spec.nodeName": "node1",
    TSN_PROXY_API_URL: api.url,
  });
  const name = `tsn-agent-${node.topo.prefix}`;
  const podman = (args: string[], timeoutMs = 60_000) =>
    exec(
      ["/usr/bin/env", ...Object.entries(penv).map(([k, v]) => `${k}=${v}`), "podman", ...args],
      {
        timeoutMs,
        allowFail: true,
      },
    );
  console.log(`podman run ${flags.join(" ")} ${image}`);
  let ok = true;
  const check = (what: string, cond: boolean) => {
    console.log(`${cond ? "ok  " : "FAIL"} ${what}`);
    ok &&= cond;
  };
  try {
    const run = await podman(["run", "-d", "--name", name, ...flags, image]);
    check(`container started ${run.stderr.trim()}`, run.success);
    let ready = false;
    for (let i = 0; i < 200 && !ready; i++) {
      const r = await exec(
        nsCommand(node.ns, [
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "http://127.0.0.1:9402/readyz",
        ]),
        { allowFail: true },
      );
      ready = r.stdout.trim() === "200";
      if (!ready) await sleep(100);
    }
    check("ready (/readyz 200 on the node's 127.0.0.1:9402)", ready);
    const list = t.list();
    check(
      "conf entry appended, socket path /var/run/tsn-proxy/cni.sock",
      list.plugins.at(-1)?.socketPath === NODE.socketPath,
    );
    const pod = await t.pod("a"); // created after the container: HostToContainer must show it
    await t.rt.add(list, pod);
    const state = loadState(join(NODE.stateDir, "datapath.json"));
    check(
      "saver attached through the container (setns into a netns created later)",
      state?.pods.length === 1,
    );
    check("clamp from the policy ConfigMap", state?.pods[0]?.maxPriority === 4);
    await Deno.writeTextFile(dsStatus, "404");
    await podman(["stop", "-t", "30", name]);
    const logs = await podman(["logs", name]);
    console.log(
      logs.stderr.split("\n").filter((l) => l.includes("entrypoint") || l.includes("node_helper"))
        .join("\n"),
    );
    check(
      "uninstalled on SIGTERM after the DaemonSet was deleted",
      /uninstalling tsn-proxy/.test(logs.stderr),
    );
    check("pins removed", !(await exists(NODE.bpffs)));
    check("conf entry removed", t.list().plugins.at(-1)?.type !== "tsn-proxy");
  } finally {
    await podman(["rm", "-f", name]);
    await api.proc.stop();
    await t.destroy();
  }
  console.log(ok ? "podman check passed" : "podman check FAILED");
  return ok;
}

if (import.meta.main) {
  const image = Deno.args[0];
  if (!image) {
    console.error("usage: deno run -A k8s/podman_check.ts IMAGE");
    Deno.exit(2);
  }
  Deno.exit((await main(image)) ? 0 : 1);
}
