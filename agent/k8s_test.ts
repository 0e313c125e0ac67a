import { deepEqual, equal, rejects } from "node:assert/strict";
import { kubernetesLookup, type PodReader } from "./k8s.ts";

function fake(pods: Record<string, Record<string, string>>, calls: string[]): PodReader {
  return {
    readNamespacedPod({ name, namespace }) {
      calls.push(`${namespace}/${name}`);
      const a = pods[`${namespace}/${name}`];
      if (!a) return Promise.reject(Object.assign(new Error("HTTP 404"), { code: 404 }));
      return Promise.resolve({ metadata: { annotations: a } });
    },
  };
}

Deno.test("kubernetesLookup() reads annotations through the injected client, built lazily", async () => {
  const calls: string[] = [];
  let built = 0;
  const lookup = kubernetesLookup({
    kubeconfig: "",
    makeReader: () => {
      built++;
      return Promise.resolve(fake({ "cell/talker": { "tsn-proxy.io/enabled": "true" } }, calls));
    },
  });
  equal(built, 0, "no client before the first lookup");
  deepEqual(await lookup.annotations("cell", "talker"), { "tsn-proxy.io/enabled": "true" });
  equal(await lookup.annotations("cell", "gone"), null);
  equal(built, 1);
  deepEqual(calls, ["cell/talker", "cell/gone"]);
});

Deno.test("kubernetesLookup() surfaces API errors and times out", async () => {
  const failing = kubernetesLookup({
    kubeconfig: "",
    makeReader: () =>
      Promise.resolve({ readNamespacedPod: () => Promise.reject(new Error("HTTP 500")) }),
  });
  await rejects(failing.annotations("a", "b"), /500/);
  const slow = kubernetesLookup({
    kubeconfig: "",
    timeoutMs: 50,
    makeReader: () =>
      Promise.resolve({
        readNamespacedPod: () =>
          new Promise((_, reject) => setTimeout(() => reject(new Error("late")), 200)),
      }),
  });
  await rejects(slow.annotations("a", "b"), /within 50 ms/);
  await new Promise((r) => setTimeout(r, 250)); // the late rejection must not crash the test
});

Deno.test("kubernetesLookup() builds client-node from a kubeconfig on first use", async () => {
  // A kubeconfig without a cluster: client-node refuses it while building the client, so the
  // real import and config path run without any network traffic.
  const dir = await Deno.makeTempDir({ prefix: "tsn-kube-" });
  try {
    const kubeconfig = `${dir}/config`;
    await Deno.writeTextFile(kubeconfig, "apiVersion: v1\nkind: Config\nclusters: []\n");
    const lookup = kubernetesLookup({ kubeconfig, timeoutMs: 3000 });
    await rejects(lookup.annotations("default", "p"), /cluster/i);
    await rejects(lookup.annotations("default", "p"), /cluster/i, "retried after a failed build");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
