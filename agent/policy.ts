/**
 * The priority policy a cluster admin sets in the agent config: for each namespace the highest
 * `SO_PRIORITY` its opted-in pods may carry onto the wire, and a default for every other
 * namespace. The saver clamps a higher priority to the maximum and counts it (`saveClamped`).
 *
 * ```yaml
 * policy:
 *   defaultMaxPriority: 0      # a number, or "unlimited"; absent: 0
 *   namespaces:
 *     robot-cell-1: 5
 *     tsn-system: unlimited
 *   denyTxtime: [guest]        # namespaces whose txtimes are never restored
 *   txtimeHorizonMs: 10000     # txtimes further ahead are not restored (counted); default 10 s
 * ```
 *
 * Fail closed: only the word `unlimited` lifts a clamp. A missing or empty value (`cell:` with
 * nothing after it, `""`), a missing `defaultMaxPriority` and a config without a policy section
 * (a ConfigMap emptied by mistake) all mean best effort, priority 0; the agent says so at start.
 *
 * @example
 * ```ts
 * import { maxPriorityFor, parsePolicy } from "./policy.ts";
 * const p = parsePolicy({ defaultMaxPriority: 0, namespaces: { cell: 5 } });
 * console.log(maxPriorityFor(p, "cell"), maxPriorityFor(p, "other")); // 5 0
 * ```
 */
import { isNamespaceName } from "@tsn-proxy/cni";

/** The largest clamp value (0xffffffff is the datapath's "no clamp"). */
export const MAX_PRIORITY_LIMIT = 0xfffffffe;

/** A namespace's maximum, or null for no clamp. */
export type MaxPriority = number | null;

/** The validated policy. */
export interface Policy {
  /** Namespaces not listed, and pods whose namespace is unknown. */
  readonly defaultMaxPriority: MaxPriority;
  /** Per-namespace maxima. */
  readonly namespaces: Readonly<Record<string, MaxPriority>>;
  /** False when the config had no policy section (everything clamped to 0; the agent warns). */
  readonly configured: boolean;
  /** Namespaces whose pods' txtimes are never restored. */
  readonly denyTxtime: readonly string[];
  /**
   * Txtimes further ahead of the clock than this are not restored (counted), as fq's horizon
   * guards against runaway apps; null: no horizon.
   */
  readonly txtimeHorizonMs: number | null;
}

/** Like fq's default horizon: a txtime 10 s ahead is a runaway, not a schedule. */
export const DEFAULT_TXTIME_HORIZON_MS = 10_000;

/** What a pod's saver does with txtimes. */
export interface TxtimeRule {
  /** False: the saver records no txtime for this pod. */
  readonly allowed: boolean;
  /** The horizon in ns (0: none). */
  readonly horizonNs: bigint;
}

type Fail = (field: string, problem: string) => Error;

/** A key as it appears in an error: plain when it is a plain word, else JSON-quoted (e.g. ""). */
function quoted(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

const defaultFail: Fail = (field, problem) => new Error(`policy.${field}: ${problem}`);

function maxValue(v: unknown, field: string, fail: Fail): MaxPriority {
  if (v === "unlimited") return null;
  // An empty value is a mistake or a placeholder, never a grant: best effort.
  if (v === null || v === undefined || v === "") return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_PRIORITY_LIMIT) return v;
  throw fail(
    field,
    `must be an integer in 0..${MAX_PRIORITY_LIMIT} or "unlimited", got ${JSON.stringify(v)}`,
  );
}

const KEYS = ["defaultMaxPriority", "namespaces", "denyTxtime", "txtimeHorizonMs"];

function horizon(v: unknown, fail: Fail): number | null {
  if (v === undefined || v === null || v === "") return DEFAULT_TXTIME_HORIZON_MS;
  if (v === "none") return null;
  if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 3_600_000) return v;
  throw fail(
    "txtimeHorizonMs",
    `must be an integer in 1..3600000 or "none", got ${JSON.stringify(v)}`,
  );
}

/** Validates a policy section (absent or empty: every pod clamped to priority 0). */
export function parsePolicy(v: unknown, fail: Fail = defaultFail): Policy {
  if (v === undefined || v === null) {
    return {
      defaultMaxPriority: 0,
      namespaces: {},
      configured: false,
      denyTxtime: [],
      txtimeHorizonMs: DEFAULT_TXTIME_HORIZON_MS,
    };
  }
  if (typeof v !== "object" || Array.isArray(v)) throw fail("(section)", "must be a mapping");
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KEYS.includes(k)) throw fail(quoted(k), `unknown field (known: ${KEYS.join(", ")})`);
  }
  const deny = o.denyTxtime ?? [];
  if (!Array.isArray(deny)) throw fail("denyTxtime", "must be a list of namespace names");
  deny.forEach((n, i) => {
    if (typeof n !== "string" || !isNamespaceName(n)) {
      throw fail(`denyTxtime[${i}]`, `not a Kubernetes namespace name: ${JSON.stringify(n)}`);
    }
  });
  const namespaces: Record<string, MaxPriority> = {};
  const ns = o.namespaces ?? {};
  if (typeof ns !== "object" || ns === null || Array.isArray(ns)) {
    throw fail("namespaces", "must be a mapping of namespace to maximum priority");
  }
  for (const [name, max] of Object.entries(ns)) {
    if (!isNamespaceName(name)) {
      throw fail(`namespaces.${quoted(name)}`, "not a Kubernetes namespace name");
    }
    namespaces[name] = maxValue(max, `namespaces.${name}`, fail);
  }
  return {
    defaultMaxPriority: maxValue(o.defaultMaxPriority, "defaultMaxPriority", fail),
    namespaces,
    configured: true,
    denyTxtime: deny as string[],
    txtimeHorizonMs: horizon(o.txtimeHorizonMs, fail),
  };
}

/**
 * The txtime rule for a pod's namespace. A pod whose namespace is unknown may keep txtimes (the
 * clamp already falls back to the default); deny lists name namespaces.
 */
export function txtimeFor(policy: Policy, namespace: string | undefined): TxtimeRule {
  return {
    allowed: namespace === undefined || !policy.denyTxtime.includes(namespace),
    horizonNs: policy.txtimeHorizonMs === null ? 0n : BigInt(policy.txtimeHorizonMs) * 1_000_000n,
  };
}

/** The maximum for a pod's namespace (undefined namespace: the default). */
export function maxPriorityFor(policy: Policy, namespace: string | undefined): MaxPriority {
  if (namespace !== undefined && Object.hasOwn(policy.namespaces, namespace)) {
    return policy.namespaces[namespace] ?? null;
  }
  return policy.defaultMaxPriority;
}
