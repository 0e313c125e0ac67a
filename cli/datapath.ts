/**
 * `tsnproxy datapath`: low-level control of the BPF datapath for operators and research.
 *
 *   up     --strategy NAME --bpffs DIR --restore-on IF[,IF...] [--max-age-ms N] [--cleanup]
 *          [--allow-missing]
 *   attach --bpffs DIR --netns PATH --ifname IF [--id ID] [--max-priority N]
 *   detach --bpffs DIR (--id ID | --netns PATH --ifname IF)
 *   down   --bpffs DIR
 *   stats  --bpffs DIR [--json]
 *
 * Every command also takes `--state FILE` (default: one file per bpffs dir under
 * /run/tsn-proxy/datapath/). Input is validated before the kernel is touched.
 *
 * `up` is strict: an interface of `--restore-on` that does not exist fails it with nothing
 * attached. `--allow-missing` (what the agent does) attaches the restorers it can and records the
 * others as pending: the agent's restorer check, or another `up`, attaches them once they exist.
 *
 * @example
 * ```sh
 * tsnproxy datapath up --strategy skb-addr --bpffs /sys/fs/bpf/tsn --restore-on nic0
 * ```
 */
import { parseArgs } from "node:util";
import { basename } from "node:path";
import { getStrategy, UnknownStrategyError } from "@tsn-proxy/strategies";
import { Datapath, DEFAULT_MAX_AGE_NS } from "@tsn-proxy/bpf/datapath";
import { isBpfError } from "@tsn-proxy/bpf/libbpf";
import { checkIfname, parseIfnames, parseUint, required, UsageError, wantsHelp } from "./args.ts";
import { formatStats } from "./datapath_format.ts";

const SUBCOMMANDS = ["up", "attach", "detach", "down", "stats"] as const;
type Subcommand = typeof SUBCOMMANDS[number];

/** Usage of each `tsnproxy datapath` subcommand (`tsnproxy datapath SUB --help`). */
export const DATAPATH_USAGE: Readonly<Record<Subcommand, string>> = {
  up: "tsnproxy datapath up --strategy NAME --bpffs DIR --restore-on IF[,IF...] " +
    "[--max-age-ms N] [--cleanup] [--allow-missing] [--state FILE]\n" +
    "  load the core for a strategy, pin it under DIR, attach restorers to the TSN interfaces",
  attach: "tsnproxy datapath attach --bpffs DIR --netns PATH --ifname IF [--id ID] " +
    "[--max-priority N] [--state FILE]\n  attach a saver to a pod's interface",
  detach: "tsnproxy datapath detach --bpffs DIR (--id ID | --netns PATH --ifname IF) " +
    "[--state FILE]\n  remove one pod's saver",
  down: "tsnproxy datapath down --bpffs DIR [--state FILE]\n  remove everything `up` made",
  stats: "tsnproxy datapath stats --bpffs DIR [--json] [--state FILE]\n  counters and records",
};

/** Usage of `tsnproxy datapath`. */
function datapathUsage(): string {
  return `usage:\n${SUBCOMMANDS.map((s) => `  ${DATAPATH_USAGE[s]}`).join("\n")}\n\n` +
    "Every subcommand takes --state FILE (default: one file per bpffs dir under " +
    "/run/tsn-proxy/datapath/).";
}

/** The state file of a datapath when `--state` is not given. */
export function defaultStateFile(bpffs: string): string {
  const name = bpffs.replace(/^\/+|\/+$/g, "").replace(/[^A-Za-z0-9_.-]+/g, "_");
  return `/run/tsn-proxy/datapath/${name}.json`;
}

/** A default attachment id from the netns path and interface. */
function defaultPodId(netns: string, ifname: string): string {
  return `${basename(netns)}-${ifname}`.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[_.-]+/, "");
}

function bpffsDir(value: string | undefined): string {
  const dir = required("bpffs", value).replace(/\/+$/, "");
  if (!dir.startsWith("/")) throw new UsageError(`--bpffs must be an absolute path, got "${dir}"`);
  return dir;
}

/** Entry point of `tsnproxy datapath`. */
export function datapathCommand(argv: string[]): Promise<number> {
  return Promise.resolve(datapath(argv));
}

/** The synchronous body of `tsnproxy datapath` (setns-safe: no await between attach steps). */
export function datapath(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (!SUBCOMMANDS.includes(sub as Subcommand)) {
    if (wantsHelp(argv)) {
      console.log(datapathUsage());
      return 0;
    }
    throw new UsageError(`expected one of ${SUBCOMMANDS.join(", ")}, got "${sub ?? ""}"`);
  }
  if (wantsHelp(rest)) {
    console.log(`usage: ${DATAPATH_USAGE[sub as Subcommand]}`);
    return 0;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      strategy: { type: "string" },
      bpffs: { type: "string" },
      "restore-on": { type: "string" },
      "max-age-ms": { type: "string" },
      cleanup: { type: "boolean" },
      "allow-missing": { type: "boolean" },
      netns: { type: "string" },
      ifname: { type: "string" },
      id: { type: "string" },
      "max-priority": { type: "string" },
      state: { type: "string" },
      json: { type: "boolean" },
    },
    strict: true,
  });
  const bpffs = bpffsDir(values.bpffs);
  const stateFile = values.state ?? defaultStateFile(bpffs);
  const datapath = Datapath.open({ stateFile, bpffs });

  switch (sub) {
    case "up": {
      let strategy;
      try {
        strategy = getStrategy(required("strategy", values.strategy));
      } catch (e) {
        if (e instanceof UnknownStrategyError) throw new UsageError(e.message);
        throw e;
      }
      const restoreOn = parseIfnames(required("restore-on", values["restore-on"]));
      const maxAgeNs = values["max-age-ms"] === undefined
        ? DEFAULT_MAX_AGE_NS
        : BigInt(parseUint("max-age-ms", values["max-age-ms"], 1, 60_000)) * 1_000_000n;
      const allowMissing = !!values["allow-missing"];
      let state;
      try {
        state = datapath.up({
          strategy,
          restoreOn,
          maxAgeNs,
          cleanup: !!values.cleanup,
          allowMissing,
        });
      } catch (e) {
        if (!allowMissing && isBpfError(e, "ENODEV", "ENXIO")) {
          throw new Error(
            `${e.message}: an interface of --restore-on does not exist in this network ` +
              "namespace; nothing was attached (--allow-missing attaches the others and leaves " +
              "it pending)",
          );
        }
        throw e;
      }
      for (const t of state.trackers) {
        if (t.state === "unavailable") {
          console.error(
            `warning: tracker ${t.program} unavailable (${t.reason}); ` +
              `${strategy.name} runs without it`,
          );
        }
      }
      const pending = state.pendingRestorers ?? [];
      if (pending.length) {
        console.error(
          `warning: no interface ${pending.join(", ")} in this network namespace: no restorer ` +
            "on it yet (pending; run 'datapath up' again once it exists)",
        );
      }
      console.log(
        `datapath up: ${strategy.name}, restorers on ${
          state.restorers.map((r) => `${r.ifname} (${r.mode.kind})`).join(", ") || "none"
        }${pending.length ? `, pending ${pending.join(", ")}` : ""}`,
      );
      return 0;
    }
    case "attach": {
      const netns = required("netns", values.netns);
      const ifname = checkIfname(required("ifname", values.ifname));
      const maxPriority = values["max-priority"] === undefined
        ? undefined
        : parseUint("max-priority", values["max-priority"]);
      const id = values.id ?? defaultPodId(netns, ifname);
      const pod = datapath.attach({
        id,
        netns,
        ifname,
        ...(maxPriority === undefined ? {} : { maxPriority }),
      });
      console.log(`saver attached: ${pod.id} (${pod.netns} ${pod.ifname}, ${pod.mode.kind})`);
      return 0;
    }
    case "detach": {
      const id = values.id ??
        defaultPodId(
          required("netns", values.netns),
          checkIfname(required("ifname", values.ifname)),
        );
      if (!datapath.detach(id)) {
        console.error(`no saver attached as "${id}"`);
        return 1;
      }
      console.log(`saver detached: ${id}`);
      return 0;
    }
    case "down": {
      datapath.down();
      console.log(`datapath down: ${bpffs} removed`);
      return 0;
    }
    case "stats": {
      const stats = datapath.stats();
      console.log(
        values.json
          ? JSON.stringify(stats, (_, v) => typeof v === "bigint" ? Number(v) : v, 2)
          : formatStats(stats),
      );
      return 0;
    }
  }
  return 2;
}
