/**
 * `deno task build`: builds the shippable plugin and agent into dist/ without `deno compile`
 * (which downloads `denort` and so fails offline). Each is a POSIX-sh launcher, the Deno runtime
 * binary and a `deno bundle` of its entry point, runnable from a lone directory:
 *
 * ```
 * dist/cni/tsn-proxy                    launcher (answers CNI VERSION itself)
 * dist/cni/tsn-proxy.d/{deno,plugin.js}
 * dist/tsnproxy/tsnproxy                launcher of `tsnproxy agent ...`
 * dist/tsnproxy/tsnproxy.d/agent.js     the agent bundle
 * dist/tsnproxy/tsnproxy.d/k8s_client.js  @kubernetes/client-node for the agent's opt-in lookup,
 *                                       a bundle of its own that the agent loads on first use only
 * dist/tsnproxy/tsnproxy.d/tsn_core.bpf.o
 * dist/tsnproxy/tsnproxy.d/plugin/      a copy of dist/cni: what the agent installs on the node
 * ```
 *
 * The runtime binary is hard-linked between the two where the filesystem allows. This module is
 * the one place that bundles: the k8s image (its build stage runs `deno task build`), the test
 * fixtures (`sim/cni_fixture.ts`), the kind stage and the lab's clock guest test all call it. The
 * plugin's launcher itself is `cni/launcher.sh`, filled in here.
 *
 * @example
 * ```sh
 * deno task build            # or: deno run -A tools/release/bundle.ts --out /tmp/dist
 * ```
 */
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Flags for running a bundle (or a lone script with no imports but node: built-ins): no config,
 * no lock, and neither remote modules nor npm packages can be resolved, so it cannot reach the
 * network whatever the cache holds. Used by the shipped launchers and every test helper that runs
 * such a file in a netns or a node image.
 *
 * @example
 * ```ts
 * import { SELF_CONTAINED_RUN } from "@tsn-proxy/release";
 * console.log(["deno", "run", ...SELF_CONTAINED_RUN, "-A", "plugin.js"].join(" "));
 * ```
 */
export const SELF_CONTAINED_RUN: readonly string[] = [
  "--no-config",
  "--no-lock",
  "--no-remote",
  "--no-npm",
];

/** File names inside a built plugin directory. */
export const PLUGIN_FILES = {
  launcher: "tsn-proxy",
  payload: "tsn-proxy.d",
  deno: "tsn-proxy.d/deno",
  bundle: "tsn-proxy.d/plugin.js",
} as const;

/** File names inside a built agent directory. */
export const AGENT_FILES = {
  launcher: "tsnproxy",
  payload: "tsnproxy.d",
  bundle: "tsnproxy.d/agent.js",
  /** agent/k8s_client.ts: agent/k8s.ts imports it from beside the agent bundle when needed. */
  client: "tsnproxy.d/k8s_client.js",
  object: "tsnproxy.d/tsn_core.bpf.o",
  plugin: "tsnproxy.d/plugin",
} as const;

/**
 * `deno bundle` of entry into out (its folder created), from deno.lock and the local cache.
 *
 * @example
 * ```ts ignore
 * await bundle(`${ROOT}/cni/main.ts`, "/tmp/plugin.js");
 * ```
 */
export async function bundle(entry: string, out: string): Promise<void> {
  await Deno.mkdir(dirname(out), { recursive: true });
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--frozen", "--platform", "deno", "-o", out, entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!res.success) {
    const stderr = new TextDecoder().decode(res.stderr);
    // The bundler (esbuild, an npm package of Deno's own) and the locked packages come from the
    // cache that `./dev setup` fills; offline, a missing one shows up as a failed download.
    const hint = /error sending request|Failed loading|not found in cache|lockfile is out of date/
        .test(stderr)
      ? "\nrun `./dev setup` (with the network) to install the bundler and the locked packages"
      : "";
    throw new Error(`deno bundle ${entry} failed:\n${stderr}${hint}`);
  }
}

/** Hard-links src to dst (replacing dst), copying when a link is impossible. */
export async function linkOrCopy(src: string, dst: string): Promise<void> {
  await Deno.remove(dst).catch(() => {});
  try {
    await Deno.link(src, dst);
  } catch {
    await Deno.copyFile(src, dst);
  }
}

async function writeExecutable(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, 0o755);
}

/** Builds the CNI plugin into outDir (created); returns the launcher's path. */
export async function buildPlugin(
  outDir: string,
  denoBinary: string = Deno.execPath(),
): Promise<string> {
  await Deno.mkdir(join(outDir, PLUGIN_FILES.payload), { recursive: true });
  await bundle(join(ROOT, "cni/main.ts"), join(outDir, PLUGIN_FILES.bundle));
  await linkOrCopy(denoBinary, join(outDir, PLUGIN_FILES.deno));
  await Deno.chmod(join(outDir, PLUGIN_FILES.deno), 0o755);
  const template = await Deno.readTextFile(join(ROOT, "cni/launcher.sh"));
  const launcher = join(outDir, PLUGIN_FILES.launcher);
  await writeExecutable(
    launcher,
    template.replaceAll("@PAYLOAD@", PLUGIN_FILES.payload).replaceAll("@BUNDLE@", "plugin.js")
      .replace("@PRIVATE_CACHE@", PRIVATE_CACHE_SH)
      .replaceAll("@SELF_CONTAINED_RUN@", SELF_CONTAINED_RUN.join(" ")),
  );
  return launcher;
}

/**
 * A shell function both launchers use for Deno's cache dir: `private_cache DIR` sets DENO_DIR to
 * DIR when it is the caller's alone (made 0700 when absent; only root can create one in /run), else
 * to an unwritable path, so Deno runs without a cache. Root runs the launchers, and a cache another
 * user planted (in a shared /tmp, say) would run as root. Another owner, group/other permission
 * bits or an ACL ("+") all mean "not ours alone". It runs on every CNI ADD and DEL, so it forks
 * once (ls) when the dir exists: no command substitution around it, `test -O` for the owner.
 */
const PRIVATE_CACHE_SH = `private_cache() {
  [ -d "$1" ] || (umask 077 && mkdir -p "$1") 2>/dev/null
  # shellcheck disable=SC2046 # the fields of \`ls -ldn\`
  set -- "$1" $(ls -ldn "$1" 2>/dev/null)
  case "\${2:-}" in
  drwx------ | drwx------.) if [ -O "$1" ]; then DENO_DIR=$1 && return; fi ;;
  esac
  DENO_DIR=/proc/self/fdinfo/no-deno-cache
}`;

/**
 * V8 sizes its young generation to the allocation rate, and the agent's garbage per request grows
 * with the pods it holds (each request reads and rewrites the datapath state, each scrape reads
 * every pod's pins). At 250 pods the semi-spaces had grown the agent's RSS by ~14 MiB over 10 pods
 * while its live heap grew 0.3 MiB (heap snapshots at both points). 2 MiB semi-spaces keep that
 * out: the bench's pod dimension went from 1.28x to 1.13x RSS at 250 pods over 10.
 */
const AGENT_V8_FLAGS = "--v8-flags=--max-semi-space-size=2";

const AGENT_LAUNCHER = `#!/bin/sh
# tsnproxy launcher (generated by tools/release/bundle.ts): the bundled agent with the Deno runtime of the
# plugin copy beside it, the BPF object and the plugin to install found relative to this file.
case "$0" in */*) here=\${0%/*} ;; *) here=. ;; esac
export TSN_PROXY_BPF_OBJECT="\${TSN_PROXY_BPF_OBJECT:-$here/${AGENT_FILES.object}}"
export TSN_PROXY_PLUGIN_DIR="\${TSN_PROXY_PLUGIN_DIR:-$here/${AGENT_FILES.plugin}}"
${PRIVATE_CACHE_SH}
# An explicit DENO_DIR is the caller's choice (the image sets one in its private emptyDir).
[ -n "\${DENO_DIR:-}" ] || private_cache /run/tsn-proxy-deno
export DENO_DIR DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1
exec "$here/${AGENT_FILES.plugin}/${PLUGIN_FILES.deno}" run --quiet ${
  SELF_CONTAINED_RUN.join(" ")
} ${AGENT_V8_FLAGS} -A \\
  "$here/${AGENT_FILES.bundle}" "$@"
`;

/** Builds the agent (with a plugin copy inside) into outDir; returns the launcher's path. */
export async function buildAgent(outDir: string, pluginDir?: string): Promise<string> {
  const plugin = join(outDir, AGENT_FILES.plugin);
  await Deno.mkdir(join(plugin, PLUGIN_FILES.payload), { recursive: true });
  if (pluginDir) {
    for (const f of [PLUGIN_FILES.launcher, PLUGIN_FILES.deno, PLUGIN_FILES.bundle]) {
      await linkOrCopy(join(pluginDir, f), join(plugin, f));
    }
  } else {
    await buildPlugin(plugin);
  }
  // The shipped tsnproxy: agent, status and doctor (cli/shipped.ts), not the demo.
  await bundle(join(ROOT, "cli/shipped.ts"), join(outDir, AGENT_FILES.bundle));
  // client-node (4.6 MB of JavaScript on its own) stays out of agent.js: loaded on a lookup only.
  // (Not minified: `--minify` turns client-node's require("punycode") into a failing dynamic one.)
  await bundle(join(ROOT, "agent/k8s_client.ts"), join(outDir, AGENT_FILES.client));
  await Deno.copyFile(join(ROOT, "bpf/obj/tsn_core.bpf.o"), join(outDir, AGENT_FILES.object));
  const launcher = join(outDir, AGENT_FILES.launcher);
  await writeExecutable(launcher, AGENT_LAUNCHER);
  return launcher;
}

/** Builds both into distDir: `cni/` and `tsnproxy/`. */
export async function buildAll(distDir: string): Promise<{ plugin: string; agent: string }> {
  const plugin = await buildPlugin(join(distDir, "cni"));
  const agent = await buildAgent(join(distDir, "tsnproxy"), dirname(plugin));
  return { plugin, agent };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string", default: join(ROOT, "dist") }, help: { type: "boolean" } },
    strict: true,
  });
  if (values.help) {
    console.log(
      "usage: deno task build [--out DIR]\n\nBuilds the CNI plugin (DIR/cni/) and the " +
        "agent with a copy of the plugin (DIR/tsnproxy/); DIR defaults to dist/.",
    );
    Deno.exit(0);
  }
  const t0 = performance.now();
  const built = await buildAll(values.out!);
  console.log(
    `built ${built.plugin} and ${built.agent} in ${Math.round(performance.now() - t0)} ms`,
  );
}
