/**
 * Waiting for the cluster, with a clock the tests replace: every wait is bounded, polls at an
 * interval, and fails with the last state it saw.
 *
 * @example
 * ```ts
 * import { waitFor } from "./wait.ts";
 * let n = 0;
 * console.log(await waitFor("n to reach 3", () => Promise.resolve(++n >= 3 ? n : undefined), {
 *   timeoutMs: 1000,
 *   intervalMs: 1,
 * })); // 3
 * ```
 *
 * @module
 */
import type { DaemonSetStatus, KubeApi, PodStatus } from "./kube.ts";

/** Time, for the waits. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The real clock. */
export const REAL_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** A wait that ran out of time; says what it waited for and what it last saw. */
export class WaitTimeout extends Error {
  constructor(what: string, timeoutMs: number, last: string) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${last})` : ""}`);
    this.name = "WaitTimeout";
  }
}

/** Options of {@link waitFor}. */
export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  readonly clock?: Clock;
}

/**
 * Polls until `poll` returns a value (not undefined/null). A poll that throws counts as "not
 * yet" (the API may be settling) until the time is up; its error is the last state.
 */
export async function waitFor<T>(
  what: string,
  poll: () => Promise<T | undefined | null>,
  o: WaitOptions,
  describe: () => string = () => "",
): Promise<T> {
  const clock = o.clock ?? REAL_CLOCK;
  const deadline = clock.now() + o.timeoutMs;
  let last = "";
  for (;;) {
    try {
      const v = await poll();
      if (v !== undefined && v !== null) return v;
      last = describe();
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    if (clock.now() >= deadline) throw new WaitTimeout(what, o.timeoutMs, last);
    await clock.sleep(o.intervalMs ?? 1000);
  }
}

/** A pod that ended (Succeeded or Failed). */
export function podDone(p: PodStatus | null): boolean {
  return p !== null && (p.phase === "Succeeded" || p.phase === "Failed");
}

/** Waits until every named pod has ended; returns their final states. */
export async function waitPodsDone(
  api: KubeApi,
  namespace: string,
  names: readonly string[],
  o: WaitOptions,
): Promise<PodStatus[]> {
  let seen: Array<PodStatus | null> = [];
  return await waitFor(
    `pods ${names.join(", ")} to finish`,
    async () => {
      seen = await Promise.all(names.map((n) => api.pod(namespace, n)));
      return seen.every(podDone) ? seen as PodStatus[] : undefined;
    },
    o,
    () =>
      seen.map((p, i) =>
        `${names[i]}=${p ? `${p.phase}${p.reason ? `/${p.reason}` : ""}` : "absent"}`
      ).join(" "),
  );
}

/** Waits until a pod runs with every container ready (fails early when it ended). */
export async function waitPodReady(
  api: KubeApi,
  namespace: string,
  name: string,
  o: WaitOptions,
): Promise<PodStatus> {
  let last: PodStatus | null = null;
  return await waitFor(
    `pod ${name} to be ready`,
    async () => {
      last = await api.pod(namespace, name);
      if (podDone(last)) throw new Error(`pod ${name} ended: ${last!.phase} ${last!.reason ?? ""}`);
      return last?.phase === "Running" && last.ready ? last : undefined;
    },
    o,
    () => (last ? `${last.phase}${last.reason ? `/${last.reason}` : ""}` : "absent"),
  );
}

/** A DaemonSet whose current generation runs ready on every node it wants. */
export function daemonSetRolledOut(s: DaemonSetStatus | null): boolean {
  return s !== null && s.desired > 0 && s.observedGeneration >= s.generation &&
    s.updated === s.desired && s.ready === s.desired;
}

/** Waits for a DaemonSet's rollout. */
export async function waitDaemonSetReady(
  api: KubeApi,
  namespace: string,
  name: string,
  o: WaitOptions,
): Promise<DaemonSetStatus> {
  let last: DaemonSetStatus | null = null;
  return await waitFor(
    `DaemonSet ${namespace}/${name} to be ready on every node`,
    async () => {
      last = await api.daemonSet(namespace, name);
      return daemonSetRolledOut(last) ? last : undefined;
    },
    o,
    () => (last ? `${last.ready}/${last.desired} ready, ${last.updated} updated` : "absent"),
  );
}

/** Waits until no pod matches the selector and the namespace is gone. */
export async function waitGone(
  api: KubeApi,
  namespace: string,
  selector: string,
  o: WaitOptions,
): Promise<void> {
  let left: PodStatus[] = [];
  let nsLeft = true;
  await waitFor(
    `${selector} pods and namespace ${namespace} to be gone`,
    async () => {
      nsLeft = await api.namespaceExists(namespace);
      left = nsLeft ? await api.pods(namespace, selector) : [];
      return !nsLeft && left.length === 0 ? true : undefined;
    },
    o,
    () =>
      `namespace ${nsLeft ? "still there" : "gone"}, pods: ${left.map((p) => p.name).join(",")}`,
  );
}
