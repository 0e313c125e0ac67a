/**
 * The kind e2e's machine side: Docker and kind through their command lines (a {@link Runner}
 * the tests replace): preflight, images, the two-node cluster, bpffs on its nodes.
 *
 * @example
 * ```ts ignore
 * import { preflight, systemRunner } from "./cluster.ts";
 * const problem = await preflight(systemRunner());
 * if (problem) console.error(problem);
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { KIND } from "./scenario.ts";

/** A finished command. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs commands; a missing program is code 127, as in a shell. */
export interface Runner {
  run(
    cmd: readonly string[],
    o?: { cwd?: string; stdin?: string; quiet?: boolean },
  ): Promise<RunResult>;
}

/** The real runner (output of long commands streams to stderr unless quiet). */
export function systemRunner(log: (s: string) => void = (s) => console.error(s)): Runner {
  return {
    async run(cmd, o = {}) {
      const [program, ...args] = cmd;
      log(`  $ ${cmd.join(" ")}`);
      try {
        const child = new Deno.Command(program!, {
          args,
          ...(o.cwd ? { cwd: o.cwd } : {}),
          stdin: o.stdin === undefined ? "null" : "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        if (o.stdin !== undefined) {
          const w = child.stdin.getWriter();
          await w.write(new TextEncoder().encode(o.stdin));
          await w.close();
        }
        const out = await child.output();
        const d = new TextDecoder();
        return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          return { code: 127, stdout: "", stderr: `${program}: command not found` };
        }
        throw e;
      }
    },
  };
}

/** Why the kind e2e cannot run on this machine, or null. */
export async function preflight(r: Runner): Promise<string | null> {
  const problems: string[] = [];
  const docker = await r.run(["docker", "version", "--format", "{{.Server.Version}}"], {
    quiet: true,
  });
  if (docker.code === 127) {
    problems.push("docker is not installed (the kind e2e needs a Docker engine)");
  } else if (docker.code !== 0 || docker.stdout.trim() === "") {
    problems.push(
      `the Docker engine is not reachable: ${
        (docker.stderr.trim().split("\n").at(-1) ?? "").trim() || `exit ${docker.code}`
      }`,
    );
  }
  const kind = await r.run(["kind", "version"], { quiet: true });
  if (kind.code !== 0) {
    problems.push(
      "kind is not installed (https://kind.sigs.k8s.io, `go install sigs.k8s.io/kind@latest`)",
    );
  }
  if (problems.length === 0) return null;
  return [
    "deno task e2e:kind cannot run here:",
    ...problems.map((p) => `  - ${p}`),
    "It needs Docker and kind (it is not part of CI; CI runs the netns, podman and VM e2e).",
  ].join("\n");
}

/** The kind cluster: one control-plane node and one worker (the talkers' node). */
export function kindConfig(): string {
  return [
    "kind: Cluster",
    "apiVersion: kind.x-k8s.io/v1alpha4",
    "nodes:",
    "  - role: control-plane",
    "  - role: worker",
    "",
  ].join("\n");
}

async function must(r: Runner, cmd: readonly string[], o: { cwd?: string; stdin?: string } = {}) {
  const res = await r.run(cmd, o);
  if (res.code !== 0) {
    throw new Error(`${cmd.join(" ")} failed (exit ${res.code}):\n${res.stderr.slice(-4000)}`);
  }
  return res;
}

/** Builds the agent image (k8s/Containerfile) and the e2e image on top of it. */
export async function buildImages(
  r: Runner,
  root: string,
  e2eContext: string,
  images: { agent: string; e2e: string } = { agent: KIND.agentImage, e2e: KIND.e2eImage },
): Promise<void> {
  await must(r, ["docker", "build", "-f", "k8s/Containerfile", "-t", images.agent, "."], {
    cwd: root,
  });
  await must(r, [
    "docker",
    "build",
    "-f",
    join(e2eContext, "Containerfile.e2e"),
    "--build-arg",
    `AGENT_IMAGE=${images.agent}`,
    "-t",
    images.e2e,
    e2eContext,
  ]);
}

/** Creates the cluster (waiting for its control plane); returns its kubeconfig. */
export async function createCluster(r: Runner, name: string): Promise<string> {
  await must(r, ["kind", "create", "cluster", "--name", name, "--config", "-", "--wait", "180s"], {
    stdin: kindConfig(),
  });
  return (await must(r, ["kind", "get", "kubeconfig", "--name", name])).stdout;
}

/** The node containers of the cluster. */
export async function clusterNodes(r: Runner, name: string): Promise<string[]> {
  const out = (await must(r, ["kind", "get", "nodes", "--name", name])).stdout;
  return out.split("\n").map((s) => s.trim()).filter((s) => s !== "").sort();
}

/**
 * Mounts a bpffs at /sys/fs/bpf inside each node container (kind does not). Each mount is a new
 * bpffs instance: the nodes' pins stay apart, as on separate machines (a shared host bind mount
 * would put both agents' pins in one directory).
 */
export async function mountBpffs(r: Runner, nodes: readonly string[]): Promise<void> {
  for (const n of nodes) {
    const script = "mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf";
    await must(r, ["docker", "exec", n, "sh", "-c", script]);
  }
}

/** Loads the images into every node. */
export async function loadImages(r: Runner, name: string, images: readonly string[]) {
  for (const i of images) await must(r, ["kind", "load", "docker-image", i, "--name", name]);
}

/** Deletes the cluster. */
export async function deleteCluster(r: Runner, name: string): Promise<void> {
  await r.run(["kind", "delete", "cluster", "--name", name]);
}
