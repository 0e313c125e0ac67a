/**
 * A container runtime's CNI side, as libcni does it, for tests: for each plugin of a conflist it
 * builds the plugin's config (the list's `name` and `cniVersion`, the previous result as
 * `prevResult`, `runtimeConfig` for the capabilities the plugin declares), finds the binary in
 * `CNI_PATH`, and runs it with only the `CNI_*` environment (and PATH) and the config on stdin.
 * ADD runs in order, DEL in reverse with the cached result (>= 0.4.0), CHECK in order; GC and
 * STATUS go to the plugins whose VERSION says they speak 1.1.0. Plugins run in the node's netns.
 *
 * @example
 * ```ts ignore
 * const rt = new CniRuntime({ ns: topo.node.ns, binDirs: ["/opt/cni/bin"] });
 * const { result } = await rt.add(list, { containerId: "c1", netns: pod.path, ifname: "eth0" });
 * await rt.del(list, { containerId: "c1", netns: pod.path, ifname: "eth0" }, result);
 * ```
 */
import { join } from "node:path";
import { BIN, type Netns } from "./netns.ts";

/** What the runtime knows about one attachment. */
export interface RuntimeConf {
  readonly containerId: string;
  readonly netns: string;
  readonly ifname: string;
  /** CNI_ARGS pairs. */
  readonly args?: Readonly<Record<string, string>>;
  /** Capability arguments (e.g. `io.kubernetes.cri.pod-annotations`). */
  readonly capabilityArgs?: Readonly<Record<string, unknown>>;
}

/** One plugin execution. */
export interface PluginRun {
  readonly type: string;
  readonly command: string;
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time of the exec, ms. */
  readonly ms: number;
}

/** A plugin failed; carries its spec error object. */
export class CniCallError extends Error {
  constructor(
    readonly run: PluginRun,
    readonly error: { code?: number; msg?: string; details?: string },
  ) {
    super(
      `${run.type} ${run.command} failed (exit ${run.code}): ` +
        `${error.code} ${error.msg ?? ""} ${error.details ?? ""}\n${run.stderr}`,
    );
    this.name = "CniCallError";
  }
}

type Obj = Record<string, unknown>;

/** A conflist. */
export interface NetworkList {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly Obj[];
}

const GTE_110 = (v: string) => {
  const [a = 0, b = 0] = v.split(".").map(Number);
  return a > 1 || (a === 1 && b >= 1);
};

/** The runtime. */
export class CniRuntime {
  /** Every plugin run, in order (latency reports). */
  readonly runs: PluginRun[] = [];

  constructor(readonly o: { ns: Netns; binDirs: readonly string[]; timeoutMs?: number }) {}

  async #find(type: string): Promise<string> {
    for (const dir of this.o.binDirs) {
      const p = join(dir, type);
      try {
        await Deno.stat(p);
        return p;
      } catch { /* next */ }
    }
    throw new Error(`plugin ${type} not found in ${this.o.binDirs.join(":")}`);
  }

  /** Runs one plugin binary with the CNI environment and stdin. */
  async exec(type: string, command: string, conf: Obj, rt?: RuntimeConf): Promise<PluginRun> {
    const path = await this.#find(type);
    const env: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: command,
      CNI_PATH: this.o.binDirs.join(":"),
    };
    if (rt) {
      env.CNI_CONTAINERID = rt.containerId;
      env.CNI_NETNS = rt.netns;
      env.CNI_IFNAME = rt.ifname;
      env.CNI_ARGS = Object.entries(rt.args ?? {}).map(([k, v]) => `${k}=${v}`).join(";");
    }
    const t0 = performance.now();
    const child = new Deno.Command(BIN.nsenter, {
      args: [`--net=${this.o.ns.path}`, "--", path],
      clearEnv: true,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, this.o.timeoutMs ?? 30_000);
    const w = child.stdin.getWriter();
    try {
      await w.write(new TextEncoder().encode(JSON.stringify(conf)));
      await w.close();
    } catch (e) {
      // A plugin may exit without reading stdin (EPIPE): its exit status and output tell the story.
      if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
    }
    const out = await child.output();
    clearTimeout(timer);
    const d = new TextDecoder();
    const run: PluginRun = {
      type,
      command,
      code: out.code,
      stdout: d.decode(out.stdout),
      stderr: d.decode(out.stderr),
      ms: performance.now() - t0,
    };
    this.runs.push(run);
    if (out.code !== 0) {
      let error: Obj = {};
      try {
        error = JSON.parse(run.stdout);
      } catch { /* not JSON */ }
      throw new CniCallError(run, error);
    }
    return run;
  }

  /** The config one plugin gets (libcni's buildOneConfig). */
  pluginConf(list: NetworkList, plugin: Obj, prev: Obj | undefined, rt?: RuntimeConf): Obj {
    const conf: Obj = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    if (prev) conf.prevResult = prev;
    const caps = (plugin.capabilities ?? {}) as Record<string, boolean>;
    const runtimeConfig: Obj = {};
    for (const [cap, on] of Object.entries(caps)) {
      if (on && rt?.capabilityArgs && cap in rt.capabilityArgs) {
        runtimeConfig[cap] = rt.capabilityArgs[cap];
      }
    }
    if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
    return conf;
  }

  /** ADD through the chain; the last result and every run. */
  async add(list: NetworkList, rt: RuntimeConf): Promise<{ result: Obj; runs: PluginRun[] }> {
    let prev: Obj | undefined;
    const runs: PluginRun[] = [];
    for (const plugin of list.plugins) {
      const run = await this.exec(
        String(plugin.type),
        "ADD",
        this.pluginConf(list, plugin, prev, rt),
        rt,
      );
      runs.push(run);
      prev = JSON.parse(run.stdout) as Obj;
    }
    return { result: prev ?? {}, runs };
  }

  /** DEL in reverse order (prevResult from >= 0.4.0 on, as libcni's cache provides it). */
  async del(list: NetworkList, rt: RuntimeConf, cached?: Obj): Promise<PluginRun[]> {
    const withPrev = list.cniVersion !== "0.3.0" && list.cniVersion !== "0.3.1";
    const runs: PluginRun[] = [];
    for (const plugin of [...list.plugins].reverse()) {
      const conf = this.pluginConf(list, plugin, withPrev ? cached : undefined, rt);
      runs.push(await this.exec(String(plugin.type), "DEL", conf, rt));
    }
    return runs;
  }

  /** CHECK in order with the cached result. */
  async check(list: NetworkList, rt: RuntimeConf, cached: Obj): Promise<PluginRun[]> {
    const runs: PluginRun[] = [];
    for (const plugin of list.plugins) {
      const conf = this.pluginConf(list, plugin, cached, rt);
      runs.push(await this.exec(String(plugin.type), "CHECK", conf, rt));
    }
    return runs;
  }

  async #speaks110(type: string): Promise<boolean> {
    const run = await this.exec(type, "VERSION", { cniVersion: "1.1.0" });
    return (JSON.parse(run.stdout).supportedVersions as string[]).includes("1.1.0");
  }

  /** GC to the plugins that speak 1.1.0. */
  async gc(
    list: NetworkList,
    valid: { containerID: string; ifname: string }[],
  ): Promise<PluginRun[]> {
    if (!GTE_110(list.cniVersion)) throw new Error("GC needs a 1.1.0 list");
    const runs: PluginRun[] = [];
    for (const plugin of list.plugins) {
      if (!(await this.#speaks110(String(plugin.type)))) continue;
      const conf = {
        ...this.pluginConf(list, plugin, undefined),
        "cni.dev/valid-attachments": valid,
      };
      runs.push(await this.exec(String(plugin.type), "GC", conf));
    }
    return runs;
  }

  /** STATUS to the plugins that speak 1.1.0. */
  async status(list: NetworkList): Promise<PluginRun[]> {
    if (!GTE_110(list.cniVersion)) throw new Error("STATUS needs a 1.1.0 list");
    const runs: PluginRun[] = [];
    for (const plugin of list.plugins) {
      if (!(await this.#speaks110(String(plugin.type)))) continue;
      runs.push(
        await this.exec(String(plugin.type), "STATUS", this.pluginConf(list, plugin, undefined)),
      );
    }
    return runs;
  }
}
