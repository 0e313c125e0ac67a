/**
 * `tsnproxy doctor` in the guest, as shipped: the bundle of cli/shipped.ts and the core object
 * come from the host (`/lab/extra/tsnproxy.js`, `/lab/extra/tsn_core.bpf.o`) and run with the
 * guest's Deno and no config, on a veth `tsn0` (no PHC) and an empty CNI conf dir.
 * Result: `{ code, report, stderr }` with the doctor's `--json` report.
 */
import { writeResult } from "../result.ts";

/** tools/release/bundle.ts SELF_CONTAINED_RUN: what the shipped launcher runs the bundle with. */
const SELF_CONTAINED_RUN = ["--no-config", "--no-lock", "--no-remote", "--no-npm"];

const ip = await new Deno.Command("/bin/ip", {
  args: ["link", "add", "name", "tsn0", "type", "veth", "peer", "name", "tsn0p"],
}).output();
if (!ip.success) throw new Error("ip link add tsn0 failed");
const confDir = await Deno.makeTempDir({ prefix: "cni-" });
const out = await new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    ...SELF_CONTAINED_RUN,
    "-A",
    "/lab/extra/tsnproxy.js",
    "doctor",
    "--json",
    "--restore-on",
    "tsn0",
    "--cni-conf-dir",
    confDir,
  ],
  env: { TSN_PROXY_BPF_OBJECT: "/lab/extra/tsn_core.bpf.o" },
  stdout: "piped",
  stderr: "piped",
}).output();
const dec = new TextDecoder();
const stdout = dec.decode(out.stdout);
let report: unknown = null;
try {
  report = JSON.parse(stdout);
} catch {
  report = { unparsed: stdout };
}
await writeResult({ code: out.code, report, stderr: dec.decode(out.stderr) });
