/**
 * The clock probes of `agent/clock` inside a guest: a QEMU guest has no PHC on any interface and
 * nobody disciplines its clock, so the probes must say so. Reads the clock facts for a veth pair
 * (created here), lo and the virtio NIC if any, busybox's adjtimex for comparison, and a fake
 * /proc tree with ptp4l and phc2sys to show the daemons are found by name.
 * Result: `{ facts, verdict, busybox, fakeProc }`. Needs `agent/clock` in `repoPaths`.
 */
import { clockVerdict, findLinuxptp, probeClock } from "@tsn-proxy/agent/clock";
import { writeResult } from "../result.ts";

async function sh(argv: string[]): Promise<string> {
  const out = await new Deno.Command(argv[0]!, { args: argv.slice(1), stderr: "piped" }).output();
  if (!out.success) throw new Error(`${argv.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

await sh(["/bin/ip", "link", "add", "name", "tsn0", "type", "veth", "peer", "name", "tsn0p"]);
const facts = await probeClock({ ifaces: ["tsn0", "lo"] });
const busybox = await sh(["busybox", "adjtimex"]);
const proc = await Deno.makeTempDir();
for (const [pid, comm] of [["7", "ptp4l"], ["8", "phc2sys"], ["9", "sh"]]) {
  await Deno.mkdir(`${proc}/${pid}`);
  await Deno.writeTextFile(`${proc}/${pid}/comm`, `${comm}\n`);
}
await Deno.writeTextFile(`${proc}/7/cmdline`, "ptp4l\0-i\0tsn0\0");
let ptpClasses: string[] = [];
try {
  ptpClasses = [...Deno.readDirSync("/sys/class/ptp")].map((e) => e.name);
} catch { /* no PTP clock class */ }
await writeResult({
  facts,
  verdict: clockVerdict(facts, { maxPtpOffsetNs: 0 }),
  busybox,
  ptpClasses,
  fakeProc: findLinuxptp(proc),
});
