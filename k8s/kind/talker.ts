/**
 * The kind e2e's talker pod program (bundled into the e2e image): the simulator's talkers
 * (sim/talkers/), run in the pod's own netns instead of through nsenter.
 *
 *   talker.js txtime --dst IP --port N --count N --priority P --pod ID --clock C --interval-us N
 *       sim/talkers/txtime_sender.ts itself (SO_PRIORITY, SO_TXTIME, SCM_TXTIME per datagram)
 *   talker.js socat --protocol udp|tcp --dst IP --port N --count N --priority P --pod ID
 *       socat with `so-priority` (sim/talkers/socat.ts's argv), the records on its stdin in the
 *       same pipe-atomic batches
 *
 * Prints one JSON line: `{"tool":..,"sent":N,"errors":N,...}` (./results.ts parses it); exits 1
 * when nothing was sent.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { encodeRecordStream, RECORD_SIZE } from "@tsn-proxy/sim/talkers/record";
import { socatTalkerArgs } from "@tsn-proxy/sim/talkers/socat";
import { parseSenderArgs, sendRecords } from "@tsn-proxy/sim/talkers/txtime_sender";

/** What a talker pod prints. */
export interface TalkerOutput {
  readonly tool: "txtime" | "socat";
  readonly sent: number;
  readonly errors: number;
  readonly detail?: string;
}

async function socat(argv: string[]): Promise<TalkerOutput> {
  const { values } = parseArgs({
    args: argv,
    options: {
      protocol: { type: "string" },
      dst: { type: "string" },
      port: { type: "string" },
      count: { type: "string" },
      priority: { type: "string" },
      pod: { type: "string" },
    },
    strict: true,
  });
  const protocol = values.protocol === "tcp" ? "tcp" : "udp";
  const count = Number(values.count), pod = Number(values.pod), priority = Number(values.priority);
  const [program, ...args] = socatTalkerArgs({
    protocol,
    dst: values.dst!,
    port: Number(values.port),
    priority,
  });
  const child = new Deno.Command(program!, { args, stdin: "piped", stderr: "piped" }).spawn();
  const data = encodeRecordStream(pod, priority, count);
  const w = child.stdin.getWriter();
  let written = 0;
  const batch = 16; // as runSocatTalker: whole records per write, below PIPE_BUF
  try {
    for (let i = 0; i < count; i += batch) {
      const n = Math.min(batch, count - i);
      await w.write(data.subarray(i * RECORD_SIZE, (i + n) * RECORD_SIZE));
      written += n;
      await new Promise((r) => setTimeout(r, 1));
    }
  } catch { /* socat went away: its status says why */ }
  await w.close().catch(() => {});
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  return {
    tool: "socat",
    sent: out.success ? written : 0,
    errors: out.success ? 0 : 1,
    ...(stderr ? { detail: stderr } : {}),
  };
}

async function txtime(argv: string[]): Promise<TalkerOutput> {
  const r = await sendRecords(parseSenderArgs(argv));
  return {
    tool: "txtime",
    sent: r.sent,
    errors: r.errors,
    ...(r.errors ? { detail: `last errno ${r.lastErrno}` } : {}),
  };
}

if (import.meta.main) {
  const [tool, ...rest] = Deno.args;
  const out = tool === "socat" ? await socat(rest) : tool === "txtime" ? await txtime(rest) : null;
  if (!out) {
    console.error("usage: talker.js txtime|socat ARGS");
    Deno.exit(2);
  }
  console.log(JSON.stringify(out));
  Deno.exit(out.sent > 0 ? 0 : 1);
}
