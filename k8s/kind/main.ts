/**
 * `deno task e2e:kind [--strategy skb-addr|skb-data] [--keep] [--name CLUSTER]`: tsn-proxy on a
 * two-node kind cluster, for machines with Docker and kind (not part of CI). Builds the agent
 * image (k8s/Containerfile) and the e2e image, creates the cluster, mounts a bpffs in each node,
 * loads the images, runs ./run.ts (talkers without and with tsn-proxy, the VM suite's taprio
 * checks, the agent's metrics, ./live.ts's ClusterIP Service and agent deletion under traffic,
 * uninstall), prints the verdict and deletes the cluster (unless
 * `--keep`). Exit 0 passed, 1 failed or cannot run here (the message says why), 2 bad usage.
 *
 * @module
 */
import { repoRoot } from "@tsn-proxy/bpf";
import { parseArgs } from "node:util";
import { getStrategy, UnknownStrategyError } from "@tsn-proxy/strategies";
import {
  buildImages,
  clusterNodes,
  createCluster,
  deleteCluster,
  loadImages,
  mountBpffs,
  preflight,
  type Runner,
  systemRunner,
} from "./cluster.ts";
import { clientNodeKube } from "./kube.ts";
import { type KindReport, runOnCluster } from "./run.ts";
import { KIND } from "./scenario.ts";
import { liveScenarios } from "./live.ts";
import { stageE2eContext } from "./stage.ts";

const USAGE = "usage: deno task e2e:kind [--strategy skb-addr|skb-data] [--keep] [--name CLUSTER]";

/** The verdict as text. */
export function formatReport(r: KindReport): string {
  const lines = [`kind e2e, ${r.strategy}, talkers on ${r.talkerNode}, kernel ${r.kernel}`];
  for (const run of r.runs) {
    lines.push(`  ${run.label}: taprio classes ${JSON.stringify(run.classes)}`);
    for (const row of run.rows) {
      lines.push(
        `    ${row.talker.padEnd(14)} sent ${row.sent}, received ${row.received}, ` +
          `prio right ${row.prioRight}/${row.packets}`,
      );
    }
  }
  lines.push(
    r.failures.length ? r.failures.map((f) => `FAIL ${f}`).join("\n") : "all checks passed",
  );
  return lines.join("\n");
}

/** The whole e2e; resolves with the exit code. */
export async function kindE2e(
  argv: string[],
  runner: Runner = systemRunner(),
  log: (s: string) => void = (s) => console.error(`  ▸ ${s}`),
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        strategy: { type: "string", default: "skb-addr" },
        keep: { type: "boolean", default: false },
        name: { type: "string", default: KIND.cluster },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    getStrategy(values.strategy);
  } catch (e) {
    const msg = e instanceof UnknownStrategyError ? e.message : (e as Error).message;
    console.error(`e2e:kind: ${msg}\n${USAGE}`);
    return 2;
  }
  const problem = await preflight(runner);
  if (problem) {
    console.error(problem);
    return 1;
  }
  const root = repoRoot();
  const ctx = await Deno.makeTempDir({ prefix: "tsn-kind-" });
  let created = false;
  try {
    log("building the images");
    await buildImages(runner, root, await stageE2eContext(ctx));
    log(`creating kind cluster ${values.name}`);
    const kubeconfig = await createCluster(runner, values.name);
    created = true;
    const nodes = await clusterNodes(runner, values.name);
    await mountBpffs(runner, nodes);
    await loadImages(runner, values.name, [KIND.agentImage, KIND.e2eImage]);
    const api = await clientNodeKube(kubeconfig);
    // The local node e2e's live scenarios too: Services (ClusterIP: kind's node addresses are
    // Docker's), the agent deleted under traffic. One agent tag is loaded: no rolling update.
    const report = await runOnCluster(api, {
      strategy: values.strategy,
      log,
      afterProxied: (ctx) => liveScenarios(ctx, { strategy: values.strategy, log }),
    });
    console.log(formatReport(report));
    return report.failures.length ? 1 : 0;
  } catch (e) {
    console.error(`e2e:kind: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    return 1;
  } finally {
    if (created && !values.keep) await deleteCluster(runner, values.name);
    await Deno.remove(ctx, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await kindE2e(Deno.args));
