/**
 * The options of `tsnproxy manifest` and their validation. Every value that ends up in the agent's
 * config is validated by the agent's own parser (`parseConfig`, `parsePolicy` of
 * `@tsn-proxy/agent`) and the strategy by the strategy registry, so the manifest can never carry a
 * config the agent would refuse at start. Errors name the flag.
 *
 * @example
 * ```ts
 * import { parseManifestArgs } from "./options.ts";
 * const o = parseManifestArgs(["--strategy", "skb-data", "--tsn-if", "eth1,eth2"]);
 * console.log(o.strategy, o.tsnInterfaces); // skb-data [ "eth1", "eth2" ]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { ConfigError, parseConfig, parsePolicy } from "@tsn-proxy/agent";
import { getStrategy, UnknownStrategyError } from "@tsn-proxy/strategies";
import { NAMES, NODE } from "./layout.ts";
import { agentConfigText } from "./config.ts";
import denoJson from "./deno.json" with { type: "json" };

/** A namespace's maximum priority: an integer or `"unlimited"`. */
export type MaxPriorityValue = number | "unlimited";

/** The policy section as it is written into the policy ConfigMap. */
export interface PolicySection {
  readonly defaultMaxPriority: MaxPriorityValue;
  readonly namespaces: Readonly<Record<string, MaxPriorityValue>>;
}

/** Everything the manifest is generated from. */
export interface ManifestOptions {
  /** `skb-addr` or `skb-data` (the strategy registry's names). */
  readonly strategy: string;
  /** The node's TSN interfaces: they get a restorer (`restoreOn`). */
  readonly tsnInterfaces: readonly string[];
  /** The agent image. */
  readonly image: string;
  /** Namespace of every namespaced object. */
  readonly namespace: string;
  /** The priority policy. */
  readonly policy: PolicySection;
  /** The runtime's CNI config dir on the nodes. */
  readonly cniConfDir: string;
  /** The runtime's CNI plugin dir on the nodes. */
  readonly cniBinDir: string;
}

/** The package version: the default image tag. */
export const VERSION: string = denoJson.version;

/** The defaults: what `tsnproxy manifest` prints without flags (= k8s/tsn-proxy.yaml). */
export const DEFAULT_MANIFEST_OPTIONS: ManifestOptions = {
  strategy: "skb-addr",
  tsnInterfaces: ["eth1"],
  image: `tsn-proxy/agent:${VERSION}`,
  namespace: NAMES.namespace,
  // Deny by default: no namespace may carry a priority to the wire until the admin lists it.
  policy: { defaultMaxPriority: 0, namespaces: {} },
  cniConfDir: NODE.cniConfDir,
  cniBinDir: NODE.cniBinDir,
};

/** A bad option; the message names the flag. */
export class ManifestUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestUsageError";
  }
}

/** Usage text of `tsnproxy manifest`. */
export const MANIFEST_USAGE = `usage: tsnproxy manifest [options]

Prints the Kubernetes manifest of tsn-proxy (multi-document YAML) on stdout.

  --strategy NAME             skb-addr (default) | skb-data
  --tsn-if IF[,IF...]         the nodes' TSN interfaces that get a restorer (default eth1)
  --image REF                 the agent image (default tsn-proxy/agent:${VERSION})
  --namespace NS              namespace of the agent (default ${NAMES.namespace})
  --policy FILE               the priority policy (YAML: defaultMaxPriority, namespaces)
  --default-max-priority N    highest priority of namespaces not listed (default 0; or unlimited)
  --max-priority NS=N         a namespace's highest priority (repeatable; N or unlimited)
  --cni-conf-dir DIR          the runtime's CNI config dir on the nodes (default ${NODE.cniConfDir})
  --cni-bin-dir DIR           the runtime's CNI plugin dir on the nodes (default ${NODE.cniBinDir})

Exit codes: 0 printed, 2 bad option (nothing printed).
`;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

// The reference grammar of distribution/reference, simplified: [host[:port]/]path[:tag][@digest].
const IMAGE_REF = new RegExp(
  "^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*" +
    "|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?/)?" +
    "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*" +
    "(?::[\\w][\\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$",
);

function maxValue(raw: string, flag: string): MaxPriorityValue {
  if (raw === "unlimited") return raw;
  if (!/^\d+$/.test(raw)) {
    throw new ManifestUsageError(`${flag}: "${raw}" is not an integer or "unlimited"`);
  }
  return Number(raw);
}

function policyFromFile(text: string, file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ManifestUsageError(`--policy ${file}: not valid YAML: ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ManifestUsageError(
      `--policy ${file}: must be a mapping (defaultMaxPriority, namespaces)`,
    );
  }
  const o = doc as Record<string, unknown>;
  // The section itself, or a document with a `policy:` key (as in the agent's config).
  if (Object.keys(o).length === 1 && "policy" in o) {
    const inner = o.policy;
    if (typeof inner !== "object" || inner === null || Array.isArray(inner)) {
      throw new ManifestUsageError(`--policy ${file}: policy must be a mapping`);
    }
    return inner as Record<string, unknown>;
  }
  return o;
}

/**
 * Validates options (throws {@link ManifestUsageError}). The agent's parsers decide what a valid
 * interface name, path and policy are.
 */
export function validateOptions(o: ManifestOptions): ManifestOptions {
  try {
    getStrategy(o.strategy);
  } catch (e) {
    if (e instanceof UnknownStrategyError) throw new ManifestUsageError(`--strategy: ${e.message}`);
    throw e;
  }
  if (o.tsnInterfaces.length === 0) {
    throw new ManifestUsageError("--tsn-if: name at least one TSN interface, e.g. --tsn-if eth1");
  }
  o.tsnInterfaces.forEach((n) => {
    if (n === "") throw new ManifestUsageError("--tsn-if: an empty interface name");
  });
  if (!DNS_LABEL.test(o.namespace)) {
    throw new ManifestUsageError(
      `--namespace: "${o.namespace}" is not a Kubernetes namespace name (DNS-1123 label)`,
    );
  }
  if (!IMAGE_REF.test(o.image) || o.image.length > 512) {
    throw new ManifestUsageError(`--image: "${o.image}" is not an image reference`);
  }
  const policyErr = (field: string, problem: string) =>
    new ManifestUsageError(`policy: ${field}: ${problem}`);
  parsePolicy(o.policy, policyErr);
  for (const [flag, dir] of [["--cni-conf-dir", o.cniConfDir], ["--cni-bin-dir", o.cniBinDir]]) {
    if (!dir!.startsWith("/") || /[\s:]/.test(dir!)) {
      throw new ManifestUsageError(`${flag}: must be an absolute path, got "${dir}"`);
    }
  }
  // The agent's own parser on the very text the ConfigMap will carry.
  try {
    parseConfig(agentConfigText(o), "agent.yaml");
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const flag = e.field.startsWith("restoreOn")
      ? "--tsn-if"
      : e.field === "cni.confDir"
      ? "--cni-conf-dir"
      : e.field === "cni.binDir"
      ? "--cni-bin-dir"
      : e.field;
    throw new ManifestUsageError(`${flag}: ${e.message.replace(/^agent\.yaml: [^:]+: /, "")}`);
  }
  return o;
}

/** Parses and validates `tsnproxy manifest` arguments. */
export function parseManifestArgs(
  argv: readonly string[],
  readFile: (path: string) => string = Deno.readTextFileSync,
): ManifestOptions & { help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        strategy: { type: "string" },
        "tsn-if": { type: "string" },
        image: { type: "string" },
        namespace: { type: "string" },
        policy: { type: "string" },
        "default-max-priority": { type: "string" },
        "max-priority": { type: "string", multiple: true },
        "cni-conf-dir": { type: "string" },
        "cni-bin-dir": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ManifestUsageError((e as Error).message);
  }
  const d = DEFAULT_MANIFEST_OPTIONS;
  let section: Record<string, unknown> = { ...d.policy, namespaces: { ...d.policy.namespaces } };
  if (values.policy !== undefined) {
    let text: string;
    try {
      text = readFile(values.policy);
    } catch (e) {
      throw new ManifestUsageError(`--policy ${values.policy}: ${(e as Error).message}`);
    }
    const fromFile = policyFromFile(text, values.policy);
    // Validated as written (unknown keys, bad values) before anything is merged into it.
    parsePolicy(
      fromFile,
      (field, problem) => new ManifestUsageError(`--policy ${values.policy}: ${field}: ${problem}`),
    );
    section = {
      defaultMaxPriority: fromFile.defaultMaxPriority ?? d.policy.defaultMaxPriority,
      namespaces: { ...(fromFile.namespaces as Record<string, unknown> | undefined) },
    };
  }
  if (values["default-max-priority"] !== undefined) {
    section.defaultMaxPriority = maxValue(values["default-max-priority"], "--default-max-priority");
  }
  const namespaces = section.namespaces as Record<string, unknown>;
  for (const pair of values["max-priority"] ?? []) {
    const m = /^([^=]+)=(.*)$/.exec(pair);
    if (!m) throw new ManifestUsageError(`--max-priority: "${pair}" is not NAMESPACE=MAX`);
    namespaces[m[1]!] = maxValue(m[2]!, `--max-priority ${m[1]}`);
  }
  const o: ManifestOptions = {
    strategy: values.strategy ?? d.strategy,
    tsnInterfaces: values["tsn-if"] === undefined
      ? d.tsnInterfaces
      : values["tsn-if"].split(",").map((s) => s.trim()),
    image: values.image ?? d.image,
    namespace: values.namespace ?? d.namespace,
    policy: section as unknown as PolicySection,
    cniConfDir: values["cni-conf-dir"] ?? d.cniConfDir,
    cniBinDir: values["cni-bin-dir"] ?? d.cniBinDir,
  };
  return { ...validateOptions(o), help: values.help ?? false };
}
