/**
 * A real single-node Kubernetes as plain processes, run from inside a private mount namespace and
 * a network namespace of its own (./main.ts enters them with `unshare`): etcd, containerd,
 * kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy (nftables).
 *
 * Everything the node writes goes to its state directory, which is bind-mounted over the fixed
 * paths the components insist on (`/var/lib`, `/var/log`, `/run`, `/etc/cni`, `/opt`), and a bpffs
 * of its own is mounted on `/sys/fs/bpf`: inside the namespace the node sees the usual layout,
 * outside nothing changed. The primary CNI is Debian's bridge + portmap (the node's own
 * `/etc/cni/net.d/10-bridge.conflist`), the plugins copied from `/usr/lib/cni`.
 *
 * @module
 */
import { join } from "node:path";
import { makePki, type Pki } from "./pki.ts";

/** Fixed names and addresses of the local node (all inside its own network namespace). */
export const NODE = {
  name: "tsn-node",
  /** The node's address, on `eth0` (a veth whose peer stays in the node's netns). */
  ip: "10.250.0.1",
  gateway: "10.250.0.2",
  podCidr: "10.244.0.0/24",
  clusterCidr: "10.244.0.0/16",
  serviceCidr: "10.96.0.0/16",
  /** The `kubernetes` Service's ClusterIP (first of serviceCidr). */
  apiServiceIp: "10.96.0.1",
  /** The primary CNI's conflist, as the node's operator wrote it. */
  conflist: "10-bridge.conflist",
  /** The pause image containerd uses for pod sandboxes (written locally, never pulled). */
  pauseImage: "tsn-e2e/pause:1",
} as const;

/** The primary CNI's conflist: bridge with host-local IPAM and masquerade, then portmap. */
export function primaryConflist(): string {
  // Written in the shape an operator's tool writes (indentation, key order) on purpose: the
  // uninstall must give these very bytes back, not an equivalent JSON.
  return `{
  "cniVersion": "1.0.0",
  "name": "tsn-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "${NODE.podCidr}" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
`;
}

/** A running component. */
interface Component {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly log: string;
}

/** The running node. */
export interface LocalNode {
  readonly state: string;
  readonly pki: Pki;
  readonly bin: string;
  /** Kubeconfig text of the admin client. */
  readonly kubeconfig: string;
  /** `kubectl --kubeconfig ADMIN ...` argv prefix. */
  readonly kubectl: readonly string[];
  /** `ctr -n k8s.io` with the node's socket. */
  readonly ctr: readonly string[];
  /** Stops every component in a safe order (the API server before etcd). */
  stop(): Promise<void>;
}

async function sh(cmd: string, args: string[], allowFail = false): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success && !allowFail) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Mounts the node's state over the fixed paths; must run in a private mount namespace. */
async function mountState(state: string): Promise<void> {
  const binds: Array<[string, string]> = [
    ["var-lib", "/var/lib"],
    ["var-log", "/var/log"],
    ["run", "/run"],
    ["etc-cni", "/etc/cni"],
    ["opt", "/opt"],
  ];
  for (const [dir, target] of binds) {
    await Deno.mkdir(join(state, dir), { recursive: true });
    await sh("/usr/bin/mount", ["--bind", join(state, dir), target]);
  }
  await sh("/usr/bin/mount", ["-t", "bpf", "bpf", "/sys/fs/bpf"]);
  // Pods ask for HostToContainer propagation of /sys/fs/bpf and the CNI dirs; within this
  // namespace the mounts must be shared for that (the host's stay as they are).
  await sh("/usr/bin/mount", ["--make-rshared", "/"]);
  for (
    const d of [
      "/etc/cni/net.d",
      "/opt/cni/bin",
      "/var/lib/kubelet",
      "/var/lib/containerd",
      "/var/lib/etcd",
      "/var/lib/cni",
      "/var/log/pods",
      "/var/log/containers",
      "/run/containerd",
      "/run/netns",
    ]
  ) await Deno.mkdir(d, { recursive: true });
  for await (const e of Deno.readDir("/usr/lib/cni")) {
    await Deno.copyFile(`/usr/lib/cni/${e.name}`, `/opt/cni/bin/${e.name}`);
    await Deno.chmod(`/opt/cni/bin/${e.name}`, 0o755);
  }
  await Deno.writeTextFile(`/etc/cni/net.d/${NODE.conflist}`, primaryConflist());
}

/** Gives the node its network: lo, and eth0 with the node address and a default route. */
async function network(): Promise<void> {
  const ip = (a: string) => sh("/usr/bin/ip", a.split(" "));
  await ip("link set lo up");
  await ip("link add eth0 type veth peer name eth0-peer");
  await ip(`addr add ${NODE.ip}/24 dev eth0`);
  await ip("link set eth0 up");
  await ip("link set eth0-peer up");
  // kubelet and kube-proxy want a default route to pick the node address; nothing is sent
  // there (every test address is on tsn0 or a pod's), and the peer sits in this namespace too.
  await ip(`route add default via ${NODE.gateway} dev eth0`);
}

function containerdConfig(): string {
  return `version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/${NODE.pauseImage}"
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the parent's
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
`;
}

function kubeletConfig(pki: Pki): string {
  return JSON.stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // cgroups v1 (hybrid) without systemd here
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock",
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: pki.ca },
    },
    authorization: { mode: "AlwaysAllow" },
    clusterDomain: "cluster.local",
    failSwapOn: false,
    podCIDR: NODE.podCidr,
    resolvConf: "/etc/resolv.conf",
    // A busy shared machine must not make the node evict the e2e's pods.
    evictionHard: {
      "memory.available": "50Mi",
      "nodefs.available": "1%",
      "imagefs.available": "1%",
      "nodefs.inodesFree": "1%",
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    syncFrequency: "5s",
    fileCheckFrequency: "5s",
    nodeStatusUpdateFrequency: "4s",
  });
}

/** Starts `argv` with its output in STATE/logs/NAME.log. */
async function start(state: string, name: string, argv: string[]): Promise<Component> {
  const log = join(state, "logs", `${name}.log`);
  await Deno.mkdir(join(state, "logs"), { recursive: true });
  const file = await Deno.open(log, { create: true, append: true, write: true });
  // A session of its own: a terminal's Ctrl-C reaches the e2e, which stops the components in
  // order (containerd must outlive the kubelet to kill the pods' containers), not them directly.
  // setsid execs in place (the child is no group leader), so the pid is the component's.
  const child = new Deno.Command("/usr/bin/setsid", {
    args: argv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Both streams into one log file, in the background.
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) await file.write(chunk).catch(() => {});
  };
  Promise.all([pump(child.stdout), pump(child.stderr)]).finally(() => file.close());
  return { name, child, log };
}

async function stopComponent(c: Component, graceMs = 10_000): Promise<void> {
  try {
    c.child.kill("SIGTERM");
  } catch { /* gone */ }
  const timer = setTimeout(() => {
    try {
      c.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, graceMs);
  await c.child.status;
  clearTimeout(timer);
}

/** Polls until f returns true; throws with `what` after timeoutMs. */
async function until(
  what: string,
  f: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < end) {
    try {
      if (await f()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** Options of {@linkcode startNode}. */
export interface StartOptions {
  /** The node's state directory (created). */
  state: string;
  /** Directory of the Kubernetes binaries (./build.ts). */
  bin: string;
  /** OCI archives to import into containerd before the kubelet starts. */
  images: readonly string[];
  /** The pause image's archive. */
  pauseArchive: string;
  log: (line: string) => void;
}

/** Brings the node up; resolves once the node is Ready. Must run inside ./main.ts's namespaces. */
export async function startNode(o: StartOptions): Promise<LocalNode> {
  const { state, bin, log } = o;
  await mountState(state);
  await network();
  const pki = await makePki(join(state, "pki"), {
    nodeName: NODE.name,
    nodeIp: NODE.ip,
    serviceIp: NODE.apiServiceIp,
  });
  const kubeconfig = await Deno.readTextFile(pki.adminKubeconfig);
  const components: Component[] = [];
  const kubectl = [`${bin}/kubectl`, "--kubeconfig", pki.adminKubeconfig];
  const ctr = ["/usr/bin/ctr", "--address", "/run/containerd/containerd.sock", "-n", "k8s.io"];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const byName = (n: string) => components.find((c) => c.name === n);
    for (const n of ["kube-proxy", "kube-scheduler", "kube-controller-manager", "kubelet"]) {
      const c = byName(n);
      if (c) await stopComponent(c);
    }
    // The pods' containers outlive the kubelet: kill them through containerd before it stops.
    if (byName("containerd")) {
      const tasks = await sh(ctr[0]!, [...ctr.slice(1), "tasks", "ls", "-q"], true);
      for (const id of tasks.split("\n").filter(Boolean)) {
        await sh(ctr[0]!, [...ctr.slice(1), "tasks", "kill", "-s", "SIGKILL", id], true);
      }
      for (const id of tasks.split("\n").filter(Boolean)) {
        await sh(ctr[0]!, [...ctr.slice(1), "tasks", "delete", "-f", id], true);
      }
      await stopComponent(byName("containerd")!);
    }
    // The API server before etcd: the other order hangs the API server's shutdown.
    for (const n of ["kube-apiserver", "etcd"]) {
      const c = byName(n);
      if (c) await stopComponent(c);
    }
  };
  try {
    const t0 = Date.now();
    const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    components.push(
      await start(state, "etcd", [
        "/usr/bin/etcd",
        "--data-dir",
        "/var/lib/etcd/data",
        "--listen-client-urls",
        "http://127.0.0.1:2379",
        "--advertise-client-urls",
        "http://127.0.0.1:2379",
        "--listen-peer-urls",
        "http://127.0.0.1:2380",
      ]),
    );
    await Deno.writeTextFile(join(state, "containerd.toml"), containerdConfig());
    components.push(
      await start(state, "containerd", [
        "/usr/bin/containerd",
        "--config",
        join(state, "containerd.toml"),
      ]),
    );
    components.push(
      await start(state, "kube-apiserver", [
        `${bin}/kube-apiserver`,
        "--etcd-servers=http://127.0.0.1:2379",
        `--advertise-address=${NODE.ip}`,
        "--bind-address=0.0.0.0",
        "--secure-port=6443",
        `--service-cluster-ip-range=${NODE.serviceCidr}`,
        `--client-ca-file=${pki.ca}`,
        `--tls-cert-file=${pki.apiserverCert}`,
        `--tls-private-key-file=${pki.apiserverKey}`,
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--authorization-mode=Node,RBAC",
        `--kubelet-client-certificate=${pki.adminCert}`,
        `--kubelet-client-key=${pki.adminKey}`,
        "--allow-privileged=true",
        // The node's name resolves nowhere (and DNS is not ours to ask): reach kubelet by address.
        "--kubelet-preferred-address-types=InternalIP",
      ]),
    );
    await until("containerd", async () => {
      await sh(ctr[0]!, [...ctr.slice(1), "version"]);
      return true;
    }, 30_000);
    for (const a of [o.pauseArchive, ...o.images]) {
      await sh(ctr[0]!, [...ctr.slice(1), "images", "import", a]);
    }
    log(`containerd up, ${1 + o.images.length} images imported (${since()})`);
    await until(
      "the API server",
      async () => {
        const r = await new Deno.Command(kubectl[0]!, {
          args: [...kubectl.slice(1), "get", "--raw", "/readyz"],
          stdout: "null",
          stderr: "null",
        }).output();
        return r.success;
      },
      120_000,
      500,
    );
    log(`API server ready (${since()})`);
    components.push(
      await start(state, "kube-controller-manager", [
        `${bin}/kube-controller-manager`,
        `--kubeconfig=${pki.adminKubeconfig}`,
        `--service-account-private-key-file=${pki.saKey}`,
        `--root-ca-file=${pki.ca}`,
        `--cluster-cidr=${NODE.clusterCidr}`,
        `--service-cluster-ip-range=${NODE.serviceCidr}`,
        "--leader-elect=false",
        "--use-service-account-credentials=true",
      ]),
      await start(state, "kube-scheduler", [
        `${bin}/kube-scheduler`,
        `--kubeconfig=${pki.adminKubeconfig}`,
        "--leader-elect=false",
      ]),
    );
    await Deno.writeTextFile(join(state, "kubelet.json"), kubeletConfig(pki));
    components.push(
      await start(state, "kubelet", [
        `${bin}/kubelet`,
        `--config=${join(state, "kubelet.json")}`,
        `--kubeconfig=${pki.kubeletKubeconfig}`,
        "--root-dir=/var/lib/kubelet",
        `--hostname-override=${NODE.name}`,
        `--node-ip=${NODE.ip}`,
      ]),
      await start(state, "kube-proxy", [
        `${bin}/kube-proxy`,
        `--kubeconfig=${pki.adminKubeconfig}`,
        "--proxy-mode=nftables",
        `--hostname-override=${NODE.name}`,
        `--cluster-cidr=${NODE.clusterCidr}`,
        // Conntrack limits are host-wide: leave them alone.
        "--conntrack-max-per-core=0",
        "--conntrack-tcp-timeout-established=0",
        "--conntrack-tcp-timeout-close-wait=0",
      ]),
    );
    await until(
      "the node to be Ready",
      async () => {
        const out = await sh(kubectl[0]!, [
          ...kubectl.slice(1),
          "get",
          "node",
          NODE.name,
          "-o",
          "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        ]);
        return out.trim() === "True";
      },
      120_000,
      500,
    );
    log(`node ${NODE.name} Ready (${since()})`);
    await until(
      "the default service account",
      async () => {
        await sh(kubectl[0]!, [
          ...kubectl.slice(1),
          "-n",
          "default",
          "get",
          "serviceaccount",
          "default",
        ]);
        return true;
      },
      60_000,
      500,
    );
    return { state, pki, bin, kubeconfig, kubectl, ctr, stop };
  } catch (e) {
    for (const c of components) {
      const text = await Deno.readTextFile(c.log).catch(() => "");
      log(`--- last lines of ${c.name} ---\n${text.split("\n").slice(-15).join("\n")}`);
    }
    await stop();
    throw e;
  }
}
