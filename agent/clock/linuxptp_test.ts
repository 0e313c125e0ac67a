import { deepEqual, equal } from "node:assert/strict";
import {
  cmdlineIfaces,
  findLinuxptp,
  parsePmcTimeStatus,
  queryPtp4l,
  type Runner,
} from "./linuxptp.ts";

// pmc's answer for a slave clock, in the layout linuxptp's pmc_common.c prints (IFMT = "\n\t\t").
const PMC_SLAVE = `sending: GET TIME_STATUS_NP
	90e2ba.fffe.2d4ccc-0 seq 0 RESPONSE MANAGEMENT TIME_STATUS_NP 
		master_offset              -15
		ingress_time               1508420006893588624
		cumulativeScaledRateOffset +0.000000000
		scaledLastGmPhaseChange    0
		gmTimeBaseIndicator        0
		lastGmPhaseChange          0x0000'0000000000000000.0000
		gmPresent                  true
		gmIdentity                 001b21.fffe.6f1c3e
`;

Deno.test("parsePmcTimeStatus() reads ptp4l's master offset and grandmaster", () => {
  deepEqual(parsePmcTimeStatus(PMC_SLAVE), {
    masterOffsetNs: -15,
    gmPresent: true,
    gmIdentity: "001b21.fffe.6f1c3e",
  });
});

Deno.test("parsePmcTimeStatus() is null when ptp4l did not answer", () => {
  equal(parsePmcTimeStatus("sending: GET TIME_STATUS_NP\n"), null);
  equal(parsePmcTimeStatus(""), null);
  // a garbled offset is not an offset
  equal(parsePmcTimeStatus(PMC_SLAVE.replace("-15", "x")), null);
});

Deno.test("findLinuxptp() finds ptp4l and phc2sys in a /proc tree, nothing else", () => {
  const proc = Deno.makeTempDirSync();
  try {
    const comm = (pid: string, name: string) => {
      Deno.mkdirSync(`${proc}/${pid}`);
      Deno.writeTextFileSync(`${proc}/${pid}/comm`, `${name}\n`);
    };
    comm("1", "init");
    comm("812", "ptp4l");
    Deno.writeTextFileSync(`${proc}/812/cmdline`, "/usr/sbin/ptp4l\0-i\0eth1\0-2\0-s\0");
    comm("820", "phc2sys");
    comm("900", "ptp4l-wrapper"); // a name that only starts like a daemon's
    Deno.mkdirSync(`${proc}/self`);
    Deno.mkdirSync(`${proc}/77`); // exited between readdir and read: no comm
    deepEqual(findLinuxptp(proc), [
      { name: "ptp4l", pid: 812, ifaces: ["eth1"] },
      { name: "phc2sys", pid: 820, ifaces: [] },
    ]);
    deepEqual(findLinuxptp(`${proc}/none`), []);
  } finally {
    Deno.removeSync(proc, { recursive: true });
  }
});

Deno.test("queryPtp4l() says why when pmc is missing or ptp4l is silent", async () => {
  const missing: Runner = () => Promise.resolve(null);
  deepEqual(await queryPtp4l(missing), {
    ok: false,
    reason: "pmc not found (install linuxptp to read offsets)",
  });
  const silent: Runner = () =>
    Promise.resolve({ success: true, stdout: "sending: GET TIME_STATUS_NP\n", stderr: "" });
  deepEqual(await queryPtp4l(silent), { ok: false, reason: "ptp4l did not answer pmc" });
  let seen: string[] = [];
  const answers: Runner = (_cmd, args) => {
    seen = args;
    return Promise.resolve({ success: true, stdout: PMC_SLAVE, stderr: "" });
  };
  const r = await queryPtp4l(answers, "pmc", "/var/run/ptp4l");
  equal(r.ok && r.status.masterOffsetNs, -15);
  deepEqual(seen, ["-u", "-b", "0", "-s", "/var/run/ptp4l", "GET TIME_STATUS_NP"]);
});

Deno.test("queryPtp4l() runs a fake pmc found on PATH", async () => {
  const bin = Deno.makeTempDirSync();
  const path = Deno.env.get("PATH") ?? "";
  try {
    Deno.writeTextFileSync(`${bin}/pmc`, `#!/bin/sh\ncat <<'EOF'\n${PMC_SLAVE}EOF\n`);
    Deno.chmodSync(`${bin}/pmc`, 0o755);
    Deno.env.set("PATH", `${bin}:${path}`);
    deepEqual(await queryPtp4l(), {
      ok: true,
      status: { masterOffsetNs: -15, gmPresent: true, gmIdentity: "001b21.fffe.6f1c3e" },
    });
    equal((await queryPtp4l(undefined, `${bin}/no-pmc`)).ok, false);
  } finally {
    Deno.env.set("PATH", path);
    Deno.removeSync(bin, { recursive: true });
  }
});

Deno.test("cmdlineIfaces() reads -i IF and -iIF, not other flags", () => {
  deepEqual(cmdlineIfaces("ptp4l\0-f\0/etc/ptp.cfg\0-i\0eth1\0-ieth2\0-m\0"), ["eth1", "eth2"]);
  deepEqual(cmdlineIfaces("phc2sys\0-a\0-rr\0"), []);
  deepEqual(cmdlineIfaces(""), []);
});
