/**
 * linuxptp for real (root, Debian's linuxptp): two ptp4l instances with software timestamps on a
 * veth pair between two network namespaces the test creates (L2 transport: the PTP frames stay on
 * that link), the slave `free_running` so the host's clock is never adjusted. The probes must find
 * the slave in /proc with its `-i` interface and read its offset through the real pmc; a socket
 * nobody serves must read as "did not answer". Never skipped: without root or linuxptp it fails
 * with the reason.
 */
import { equal, ok } from "node:assert/strict";
import { findLinuxptp, queryPtp4l, runCommand } from "./linuxptp.ts";
import { readTimex, STA_UNSYNC } from "./timex.ts";

const CONFIG = `[global]
free_running 1
network_transport L2
logAnnounceInterval -2
logSyncInterval -3
announceReceiptTimeout 2
`;

async function sh(...argv: string[]): Promise<void> {
  const out = await new Deno.Command(argv[0]!, { args: argv.slice(1), stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${argv.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

Deno.test("a real ptp4l pair: found in /proc with its interface, its offset read through pmc", async () => {
  if (Deno.uid() !== 0) throw new Error("needs root (network namespaces)");
  for (const bin of ["/usr/sbin/ptp4l", "/usr/sbin/pmc"]) {
    try {
      Deno.statSync(bin);
    } catch {
      throw new Error(`${bin} missing: install linuxptp (./dev setup does)`);
    }
  }
  const id = crypto.randomUUID().slice(0, 8);
  const [nsA, nsB] = [`tsn-ptp-a-${id}`, `tsn-ptp-b-${id}`];
  const dir = await Deno.makeTempDir({ prefix: "tsn-ptp-" });
  const children: Deno.ChildProcess[] = [];
  const unsyncBefore = readTimex().status & STA_UNSYNC;
  await sh("ip", "netns", "add", nsA);
  await sh("ip", "netns", "add", nsB);
  try {
    await sh(
      "ip",
      "-n",
      nsA,
      "link",
      "add",
      "ptp0",
      "type",
      "veth",
      "peer",
      "name",
      "ptp1",
      "netns",
      nsB,
    );
    await sh("ip", "-n", nsA, "link", "set", "ptp0", "up");
    await sh("ip", "-n", nsB, "link", "set", "ptp1", "up");
    await Deno.writeTextFile(`${dir}/ptp.cfg`, CONFIG);
    const ptp4l = (ns: string, ifname: string, sock: string, ...extra: string[]) =>
      new Deno.Command("nsenter", {
        args: [
          `--net=/run/netns/${ns}`,
          "/usr/sbin/ptp4l",
          "-S",
          "-q",
          "-f",
          `${dir}/ptp.cfg`,
          "-i",
          ifname,
          `--uds_address=${sock}`,
          ...extra,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
    children.push(ptp4l(nsA, "ptp0", `${dir}/a.sock`, "--priority1=1"));
    const slave = ptp4l(nsB, "ptp1", `${dir}/b.sock`, "-s");
    children.push(slave);

    let answer = await queryPtp4l(runCommand, "pmc", `${dir}/b.sock`);
    for (let i = 0; i < 40 && !(answer.ok && answer.status.gmPresent); i++) {
      await new Promise((r) => setTimeout(r, 500));
      answer = await queryPtp4l(runCommand, "pmc", `${dir}/b.sock`);
    }
    ok(
      answer.ok && answer.status.gmPresent,
      `the slave never heard its master: ${JSON.stringify(answer)}`,
    );
    console.log(`ptp4l slave on veth (software timestamps): ${JSON.stringify(answer.status)}`);
    ok(Number.isInteger(answer.status.masterOffsetNs));

    // nsenter execs ptp4l: the child's pid is ptp4l's
    const found = findLinuxptp("/proc").filter((p) => p.pid === slave.pid);
    equal(
      JSON.stringify(found),
      JSON.stringify([{ name: "ptp4l", pid: slave.pid, ifaces: ["ptp1"] }]),
    );

    const silent = await queryPtp4l(runCommand, "pmc", `${dir}/nobody.sock`);
    equal(silent.ok, false);
    ok(!silent.ok && silent.reason.startsWith("ptp4l did not answer pmc"), JSON.stringify(silent));
    equal(readTimex().status & STA_UNSYNC, unsyncBefore, "free_running: the host clock untouched");
  } finally {
    for (const c of children) {
      try {
        c.kill("SIGTERM");
      } catch { /* exited */ }
      await c.status;
    }
    await sh("ip", "netns", "del", nsA).catch(() => {});
    await sh("ip", "netns", "del", nsB).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
