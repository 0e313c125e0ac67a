/**
 * The built plugin, as a runtime finds it: a lone directory (copied away from the repository),
 * run under `env -i` with only the CNI variables.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { dirname, join } from "node:path";
import {
  AGENT_FILES,
  buildAgent,
  buildPlugin,
  PLUGIN_FILES,
  ROOT,
  SELF_CONTAINED_RUN,
} from "@tsn-proxy/release";
import { readLine } from "./protocol.ts";

async function run(
  launcher: string,
  env: Record<string, string>,
  stdin: string,
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  const child = new Deno.Command("/usr/bin/env", {
    args: [
      "-i",
      // Deno's cache in the build dir, not the launcher's /run default (tests leave nothing there).
      `TSN_PROXY_DENO_CACHE=${dirname(launcher)}/deno-cache`,
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      launcher,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: "/",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const out = await child.output();
  const d = new TextDecoder();
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
    ms: performance.now() - t0,
  };
}

Deno.test("the built plugin runs from a lone directory under env -i", async () => {
  const build = await Deno.makeTempDir({ prefix: "tsn-build-" });
  const lone = await Deno.makeTempDir({ prefix: "tsn-lone-" });
  try {
    await buildPlugin(build);
    await new Deno.Command("/bin/cp", { args: ["-a", `${build}/.`, lone] }).output();
    const launcher = join(lone, PLUGIN_FILES.launcher);

    // An agent on a socket: the ADD must cross Deno, the bundle and the socket.
    const sock = join(lone, "agent.sock");
    const listener = Deno.listen({ transport: "unix", path: sock });
    const seen: string[] = [];
    const serving = (async () => {
      for await (const conn of listener) {
        seen.push(await readLine(conn));
        await conn.write(new TextEncoder().encode('{"v":1,"ok":true,"attached":true}\n'));
        conn.close();
      }
    })().catch(() => {});

    const prev = { cniVersion: "0.4.0", ips: [{ version: "4", address: "10.244.1.9/24" }] };
    const conf = JSON.stringify({
      cniVersion: "0.4.0",
      name: "k8s",
      type: "tsn-proxy",
      socketPath: sock,
      prevResult: prev,
    });
    const add = await run(launcher, {
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c1",
      CNI_NETNS: "/run/netns/none",
      CNI_IFNAME: "eth0",
      CNI_PATH: lone,
      CNI_ARGS: "TSN_PROXY_ENABLED=true",
    }, conf);
    listener.close();
    await serving;
    equal(add.code, 0, add.stderr + add.stdout);
    deepEqual(JSON.parse(add.stdout), prev);
    equal(JSON.parse(seen[0] ?? "{}").command, "ADD");

    // VERSION is answered by the launcher: it works with the runtime binary gone.
    await Deno.remove(join(lone, PLUGIN_FILES.deno));
    const v = await run(launcher, { CNI_COMMAND: "VERSION" }, '{"cniVersion":"1.0.0"}');
    equal(v.code, 0, v.stderr);
    deepEqual(JSON.parse(v.stdout), {
      cniVersion: "1.0.0",
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
    const v2 = await run(launcher, { CNI_COMMAND: "VERSION" }, '{"cniVersion":"9.9.9"}');
    equal(JSON.parse(v2.stdout).cniVersion, "1.1.0");
    ok(v.ms < 1000);
  } finally {
    await Deno.remove(build, { recursive: true });
    await Deno.remove(lone, { recursive: true });
  }
});

Deno.test("the built agent loads client-node from its own bundle, only when a lookup needs it", async () => {
  const build = await Deno.makeTempDir({ prefix: "tsn-build-" });
  const api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/api/v1/namespaces/cell/pods/talker") {
      return Response.json({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "talker", namespace: "cell", annotations: { "tsn-proxy.io/x": "1" } },
      });
    }
    return Response.json({ kind: "Status", code: 404, reason: "NotFound" }, { status: 404 });
  });
  try {
    const pluginDir = join(build, "cni");
    await buildPlugin(pluginDir);
    await buildAgent(join(build, "tsnproxy"), pluginDir);
    const payload = join(build, "tsnproxy", AGENT_FILES.payload);
    const agentJs = await Deno.readTextFile(join(build, "tsnproxy", AGENT_FILES.bundle));
    ok(!agentJs.includes("client-node"), "agent.js must not carry client-node");
    ok(!agentJs.includes('k8s_client.ts")'), "no literal import of the client module");
    ok((await Deno.stat(join(build, "tsnproxy", AGENT_FILES.client))).size > 1_000_000);

    // A bundle beside agent.js that does what the agent does on a lookup (agent/k8s.ts).
    const entry = join(build, "probe.ts");
    await Deno.writeTextFile(
      entry,
      `import { kubernetesLookup } from ${JSON.stringify(join(ROOT, "agent/k8s.ts"))};
const lookup = kubernetesLookup({ kubeconfig: Deno.args[0]! });
console.log(JSON.stringify([
  await lookup.annotations("cell", "talker"),
  await lookup.annotations("cell", "gone"),
]));
`,
    );
    const probe = join(payload, "probe.js");
    const b = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", "-o", probe, entry],
      cwd: ROOT,
    }).output();
    equal(b.code, 0, new TextDecoder().decode(b.stderr));
    const kubeconfig = join(build, "kubeconfig");
    await Deno.writeTextFile(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{name: t, cluster: {server: "http://127.0.0.1:${api.addr.port}", insecure-skip-tls-verify: true}}]
users: [{name: t, user: {token: t}}]
contexts: [{name: t, context: {cluster: t, user: t}}]
current-context: t
`,
    );
    const out = await new Deno.Command(join(payload, "plugin", PLUGIN_FILES.deno), {
      args: ["run", "--quiet", ...SELF_CONTAINED_RUN, "-A", probe, kubeconfig],
      env: { DENO_DIR: join(build, "deno-dir") },
      cwd: "/",
    }).output();
    const d = new TextDecoder();
    equal(out.code, 0, d.decode(out.stderr));
    deepEqual(JSON.parse(d.decode(out.stdout)), [{ "tsn-proxy.io/x": "1" }, null]);
  } finally {
    await api.shutdown();
    await Deno.remove(build, { recursive: true });
  }
});

Deno.test("the built plugin keeps Deno's cache only in a dir that is the caller's alone", async () => {
  const build = await Deno.makeTempDir({ prefix: "tsn-build-" });
  try {
    await buildPlugin(build);
    const launcher = join(build, PLUGIN_FILES.launcher);
    const conf = JSON.stringify({
      cniVersion: "1.1.0",
      name: "k8s",
      type: "tsn-proxy",
      socketPath: join(build, "none.sock"),
    });
    const status = (cache: string) =>
      run(launcher, { CNI_COMMAND: "STATUS", TSN_PROXY_DENO_CACHE: cache, TMPDIR: build }, conf);
    const entries = async (dir: string) => (await Array.fromAsync(Deno.readDir(dir))).length;

    // Absent: made 0700 and used.
    const own = join(build, "cache");
    equal((await status(own)).code, 1, "STATUS without an agent fails (50), but runs");
    equal((await Deno.stat(own)).mode! & 0o777, 0o700);
    ok(await entries(own) > 0, "Deno cached into the private dir");

    // Planted, world-writable (what a shared /tmp allows): not used.
    const planted = join(build, "planted");
    await Deno.mkdir(planted);
    await Deno.chmod(planted, 0o777);
    const r = await status(planted);
    equal(r.code, 1, r.stderr);
    match(r.stdout, /"code":50/);
    equal(await entries(planted), 0, "nothing written into a dir others can write");
    const tmp = await Array.fromAsync(Deno.readDir(build));
    ok(!tmp.some((e) => e.name === "tsn-proxy-deno"), "nothing in $TMPDIR either");
  } finally {
    await Deno.remove(build, { recursive: true });
  }
});
