/**
 * The agent's durable index of the savers it attached for CNI: which network, container and
 * interface each datapath attachment id belongs to, and which pod. The datapath state file records
 * the kernel side (netns, ifindex, link pins); this index records the CNI side, so DEL, CHECK and
 * GC (which names attachments by container id and ifname, per network) work after restarts.
 *
 * A record is written before the saver is attached ("pending") and completed after, so every
 * attachment the agent made has a record, even when the agent died in between.
 *
 * @example
 * ```ts ignore
 * import { AttachmentIndex, attachmentId } from "./attachments.ts";
 * const index = new AttachmentIndex("/var/run/tsn-proxy/attachments.json");
 * console.log(attachmentId("k8s-pod-network", "3f2a9c1b7d4e5f60", "eth0"));
 * ```
 */
import { dirname } from "node:path";
import { fnv1a32 } from "@tsn-proxy/bpf/datapath";

/** One CNI attachment with a saver. */
export interface AttachmentRecord {
  /** The datapath attachment id. */
  readonly id: string;
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly netns: string;
  readonly podNamespace?: string;
  readonly podName?: string;
  /** The clamp applied (null: none). */
  readonly maxPriority: number | null;
  /** The pod's default class (`tsn-proxy.io/priority`; absent: none). */
  readonly defaultPriority?: number;
  /**
   * The txtime rule applied, horizon in ns as a decimal string ("0": none); absent in records of
   * agents before it was kept.
   */
  readonly txtime?: { readonly allowed: boolean; readonly horizonNs: string };
  /** Where the opt-in came from. */
  readonly optInSource: string;
  /** "pending" between the index write and the end of the attach. */
  readonly status: "pending" | "attached";
  /** ISO time of the ADD. */
  readonly since: string;
}

interface IndexFile {
  readonly version: 1;
  attachments: AttachmentRecord[];
}

function fnv1a32Hex(text: string): string {
  return fnv1a32(text).toString(16).padStart(8, "0");
}

/**
 * The datapath id of an attachment: readable (container id prefix, ifname) and unique per
 * (network, container, ifname) through a hash of all three. Fits the datapath's id alphabet.
 */
export function attachmentId(network: string, containerId: string, ifname: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, "_");
  const prefix = safe(containerId).slice(0, 12).replace(/^[^A-Za-z0-9]+/, "") || "c";
  return `${prefix}-${safe(ifname)}-${fnv1a32Hex(`${network}\0${containerId}\0${ifname}`)}`;
}

/** The index, read and written whole (it is small: one entry per opted-in pod on the node). */
export class AttachmentIndex {
  constructor(readonly path: string) {}

  /** Every record; empty when there is no file yet. */
  list(): AttachmentRecord[] {
    let text: string;
    try {
      text = Deno.readTextFileSync(this.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    const f = JSON.parse(text) as IndexFile;
    if (f.version !== 1 || !Array.isArray(f.attachments)) {
      throw new Error(`${this.path}: not a tsn-proxy attachment index`);
    }
    return f.attachments;
  }

  /** The record of an id. */
  get(id: string): AttachmentRecord | undefined {
    return this.list().find((a) => a.id === id);
  }

  /** Inserts or replaces the record with the same id. */
  put(record: AttachmentRecord): void {
    this.#write([...this.list().filter((a) => a.id !== record.id), record]);
  }

  /** Removes a record; false when there was none. */
  remove(id: string): boolean {
    const all = this.list();
    const kept = all.filter((a) => a.id !== id);
    if (kept.length === all.length) return false;
    this.#write(kept);
    return true;
  }

  /** Deletes the file. */
  clear(): void {
    try {
      Deno.removeSync(this.path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  #write(attachments: AttachmentRecord[]): void {
    Deno.mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.tmp-${Deno.pid}`;
    const file: IndexFile = { version: 1, attachments };
    Deno.writeTextFileSync(tmp, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
    Deno.renameSync(tmp, this.path);
  }
}
