/**
 * Property-based tests (fast-check) of the plugin over what a runtime (or anything else) may hand
 * it: the CNI environment, the stdin config, and the agent's answers.
 *
 * - One mutation of a valid invocation, from a catalogue of bad inputs, each with the error code
 *   the spec prescribes: the plugin answers exactly that code with a spec error object, and the
 *   agent (the only component that changes state) is never contacted.
 * - Arbitrary environments and stdin: the plugin always answers (exit 0 with a result or nothing,
 *   or exit 1 with a spec error object of a known code), never throws, and contacts the agent
 *   only for input that passes validation.
 * - Arbitrary agent answers and broken connections: a protocol error (100), "try again" (11) or
 *   the agent's own code, never a crash.
 * - The built plugin as a process (launcher + Deno + bundle) with bad input: exit 1 and a spec
 *   error on stdout, no uncaught exception; VERSION through the shell launcher with arbitrary stdin
 *   always prints a supported version.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { buildPlugin } from "@tsn-proxy/release";
import { parseNetConf } from "./config.ts";
import { parseCniEnv } from "./env.ts";
import { runPlugin } from "./plugin.ts";
import {
  type AgentRequest,
  type AgentResponse,
  AgentUnavailableError,
  callAgent,
  parseResponse,
  statusRequest,
} from "./protocol.ts";
import { ErrorCode, SUPPORTED_VERSIONS } from "./spec.ts";

/** Runs per property; the totals are in docs/reliability.md. */
const RUNS = 1000;
const KNOWN_CODES = new Set<number>(Object.values(ErrorCode));

type Env = Record<string, string | undefined>;
type Conf = Record<string, unknown>;

const PREV = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "eth0", sandbox: "/run/netns/p" }],
  ips: [{ interface: 0, address: "10.244.1.5/24" }],
};

function validEnv(command: string): Env {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: "c0ffee01",
    CNI_NETNS: "/run/netns/p",
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p",
  };
}

function validConf(command: string): Conf {
  const v110 = command === "GC" || command === "STATUS";
  return {
    cniVersion: v110 ? "1.1.0" : "1.0.0",
    name: "k8s",
    type: "tsn-proxy",
    socketPath: "/nonexistent/tsn-proxy/cni.sock",
    ...(command === "ADD" || command === "CHECK" ? { prevResult: PREV } : {}),
    runtimeConfig: { "io.kubernetes.cri.pod-annotations": { "tsn-proxy.io/enabled": "true" } },
    ...(command === "GC" ? { "cni.dev/valid-attachments": [] } : {}),
  };
}

/** A fake agent: records requests, answers ok. */
function fakeAgent(answer: (req: AgentRequest) => Promise<AgentResponse> = okAnswer) {
  const calls: AgentRequest[] = [];
  return {
    calls,
    call: (_socket: string, req: AgentRequest) => {
      calls.push(req);
      return answer(req);
    },
  };
}

function okAnswer(): Promise<AgentResponse> {
  return Promise.resolve({ v: 1, ok: true, attached: true });
}

/** Checks the shape of an outcome; returns the error code (0 on success). */
function shape(out: { code: number; stdout: string }, command: string | undefined): number {
  ok(out.code === 0 || out.code === 1, `exit ${out.code}`);
  if (out.code === 1) {
    ok(out.stdout.endsWith("\n") && !out.stdout.slice(0, -1).includes("\n"), "one line");
    const e = JSON.parse(out.stdout);
    ok(SUPPORTED_VERSIONS.includes(e.cniVersion), `error cniVersion ${e.cniVersion}`);
    ok(Number.isInteger(e.code) && KNOWN_CODES.has(e.code), `code ${e.code}`);
    ok(typeof e.msg === "string" && e.msg.length > 0, "msg");
    ok(e.details === undefined || typeof e.details === "string", "details");
    return e.code;
  }
  if (command === "VERSION") {
    const v = JSON.parse(out.stdout);
    ok(SUPPORTED_VERSIONS.includes(v.cniVersion));
    deepEqual(v.supportedVersions, [...SUPPORTED_VERSIONS]);
  } else if (command === "ADD") {
    ok(typeof JSON.parse(out.stdout) === "object");
  } else {
    equal(out.stdout, "", `${command} prints nothing on success`);
  }
  return 0;
}

/** A bad input: what to change, and the code the spec (and the plugin's README) prescribe. */
interface Mutation {
  readonly what: string;
  readonly code: number;
  apply(env: Env, conf: Conf, command: string): { env: Env; stdin: string };
}

const str = (env: Env, conf: Conf) => ({ env, stdin: JSON.stringify(conf) });

/** Strings that are not container ids. */
const badContainerId = fc.oneof(
  fc.constant(""),
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `-${s}`),
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `a/${s}`),
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `a ${s}`),
  fc.constantFrom("../etc", "a\u00e9", "a;b", "a\nb", "."),
);
/** Strings that are not Linux interface names. */
const badIfname = fc.oneof(
  fc.constantFrom("", ".", "..", "eth0/1", "eth:0", "eth 0", "a\tb"),
  fc.string({ minLength: 16, maxLength: 40 }).filter((s) => !/[/:\s]/.test(s)),
);
/** Values that are not valid for a JSON string field. */
const notString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer()));
/** The same without null: tsn-proxy's optional keys take JSON null as "not set" (the default). */
const notStringNorNull = notString.filter((v) => v !== null);
const unsupportedVersion = fc.oneof(
  fc.string().filter((s) => !SUPPORTED_VERSIONS.includes(s)),
  fc.integer(),
  fc.constantFrom("0.2.0", "0.1.0", "1.2.0", "2.0.0", "1.0", " 1.0.0"),
);

function mutations(command: string): fc.Arbitrary<Mutation>[] {
  const perContainer = ["ADD", "DEL", "CHECK"].includes(command);
  const out: fc.Arbitrary<Mutation>[] = [
    fc.oneof(
      fc.string().filter((s) =>
        !["ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS"]
          .includes(s)
      ),
      fc.constantFrom("add", "Add ", "VERSIONS"),
    ).map((v) => ({
      what: `CNI_COMMAND=${JSON.stringify(v)}`,
      code: 4,
      apply: (env, conf) => str({ ...env, CNI_COMMAND: v }, conf),
    })),
    fc.constant({
      what: "no CNI_COMMAND",
      code: 4,
      apply: (env: Env, conf: Conf) => str({ ...env, CNI_COMMAND: undefined }, conf),
    }),
    fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !s.includes("=") && !s.includes(";"))
      .map((pair) => ({
        what: `CNI_ARGS pair ${JSON.stringify(pair)}`,
        code: 4,
        apply: (env, conf) => str({ ...env, CNI_ARGS: `A=1;${pair}` }, conf),
      })),
    fc.string({ maxLength: 30 }).filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    }).map((text) => ({
      what: `stdin not JSON ${JSON.stringify(text)}`,
      code: 6,
      apply: (env) => ({ env, stdin: text }),
    })),
    fc.oneof(fc.integer(), fc.array(fc.jsonValue()), fc.string(), fc.constant(null)).map((v) => ({
      what: `stdin JSON ${JSON.stringify(v)}`,
      code: 7,
      apply: (env) => ({ env, stdin: JSON.stringify(v) }),
    })),
    unsupportedVersion.map((v) => ({
      what: `cniVersion ${JSON.stringify(v)}`,
      code: 1,
      apply: (env, conf) => str(env, { ...conf, cniVersion: v }),
    })),
    fc.oneof(notString, fc.constant("")).map((v) => ({
      what: `name ${JSON.stringify(v)}`,
      code: 7,
      apply: (env, conf) => str(env, { ...conf, name: v }),
    })),
    fc.oneof(notString, fc.constant("")).map((v) => ({
      what: `type ${JSON.stringify(v)}`,
      code: 7,
      apply: (env, conf) => str(env, { ...conf, type: v }),
    })),
    fc.oneof(notStringNorNull, fc.string().filter((s) => !s.startsWith("/"))).map((
      v,
    ): Mutation => ({
      what: `socketPath ${JSON.stringify(v)}`,
      code: 2,
      apply: (env, conf) => str(env, { ...conf, socketPath: v }),
    })),
    fc.oneof(
      fc.integer({ max: 99 }),
      fc.double({ min: 100.5, max: 1e6, noNaN: true }),
      notStringNorNull,
    )
      .filter((v) => !(Number.isInteger(v) && (v as number) >= 100))
      .map((v) => ({
        what: `agentTimeoutMs ${JSON.stringify(v)}`,
        code: 2,
        apply: (env, conf) => str(env, { ...conf, agentTimeoutMs: v }),
      })),
    fc.oneof(fc.string(), notStringNorNull).filter((v) => v !== "annotation" && v !== "all").map((
      v,
    ) => ({
      what: `optIn ${JSON.stringify(v)}`,
      code: 2,
      apply: (env, conf) => str(env, { ...conf, optIn: v }),
    })),
    fc.oneof(notString, fc.string()).map((v) => ({
      what: `runtimeConfig ${JSON.stringify(v)}`,
      code: 7,
      apply: (env, conf) => str(env, { ...conf, runtimeConfig: v }),
    })),
    fc.oneof(notString, fc.string()).filter((v) => v !== null).map((v) => ({
      what: `annotations ${JSON.stringify(v)}`,
      code: 7,
      apply: (env, conf) =>
        str(env, { ...conf, runtimeConfig: { "io.kubernetes.cri.pod-annotations": v } }),
    })),
  ];
  if (perContainer) {
    out.push(
      badContainerId.map((v) => ({
        what: `CNI_CONTAINERID ${JSON.stringify(v)}`,
        code: 4,
        apply: (env, conf) => str({ ...env, CNI_CONTAINERID: v }, conf),
      })),
      badIfname.map((v) => ({
        what: `CNI_IFNAME ${JSON.stringify(v)}`,
        code: 4,
        apply: (env, conf) => str({ ...env, CNI_IFNAME: v }, conf),
      })),
    );
  }
  if (command === "ADD" || command === "CHECK") {
    out.push(
      fc.oneof(fc.constant(""), fc.string().filter((s) => !s.startsWith("/"))).map((v) => ({
        what: `CNI_NETNS ${JSON.stringify(v)}`,
        code: 4,
        apply: (env, conf) => str({ ...env, CNI_NETNS: v }, conf),
      })),
      fc.oneof(notString, fc.string()).filter((v) => v !== null).map((v) => ({
        what: `prevResult ${JSON.stringify(v)}`,
        code: 7,
        apply: (env, conf) => str(env, { ...conf, prevResult: v }),
      })),
      fc.constant({
        what: "no prevResult",
        code: 7,
        apply: (env: Env, conf: Conf) => {
          const { prevResult: _, ...rest } = conf;
          return str(env, rest);
        },
      }),
    );
  }
  if (command === "CHECK") {
    out.push(
      fc.constantFrom("0.3.0", "0.3.1").map((v) => ({
        what: `CHECK with cniVersion ${v}`,
        code: 1,
        apply: (env, conf) => str(env, { ...conf, cniVersion: v }),
      })),
    );
  }
  if (command === "GC" || command === "STATUS") {
    out.push(
      fc.constantFrom("0.3.1", "0.4.0", "1.0.0").map((v) => ({
        what: `${command} with cniVersion ${v}`,
        code: 1,
        apply: (env, conf) => str(env, { ...conf, cniVersion: v }),
      })),
    );
  }
  if (command === "GC") {
    out.push(
      fc.oneof(
        notString.filter((v) => !Array.isArray(v)),
        fc.string(),
        fc.array(
          fc.oneof(notString, fc.record({ containerID: fc.integer(), ifname: fc.string() })),
          {
            minLength: 1,
          },
        ),
      ).filter((v) => v !== null).map((v) => ({
        what: `valid-attachments ${JSON.stringify(v)}`,
        code: 7,
        apply: (env, conf) => str(env, { ...conf, "cni.dev/valid-attachments": v }),
      })),
    );
  }
  return out;
}

const COMMANDS = ["ADD", "DEL", "CHECK", "GC", "STATUS"] as const;

const badInput = fc.constantFrom(...COMMANDS).chain((command) =>
  fc.oneof(...mutations(command)).map((m) => ({ command, m }))
);

Deno.test("fuzz: one bad field of a valid invocation gets the spec's error code; the agent is never asked", async () => {
  let tried = 0;
  const codes = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(badInput, async ({ command, m }) => {
      tried++;
      const { env, stdin } = m.apply(validEnv(command), validConf(command), command);
      const agent = fakeAgent();
      const out = await runPlugin({ env, stdin, call: agent.call, log: () => {} });
      const code = shape(out, env.CNI_COMMAND);
      equal(code, m.code, `${command} ${m.what}: got ${out.stdout}`);
      equal(agent.calls.length, 0, `${command} ${m.what}: the agent was asked`);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }),
    { numRuns: RUNS * 3 },
  );
  console.log(`bad invocations: ${tried}, codes ${JSON.stringify(Object.fromEntries(codes))}`);
  for (const c of [1, 2, 4, 6, 7]) ok(codes.has(c), `no case produced code ${c}`);
});

/** Mostly the valid value, sometimes anything (so that valid invocations occur too). */
function mostly<T>(valid: T, any: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(valid) }, { weight: 1, arbitrary: any });
}

const anyString = fc.option(fc.string(), { nil: undefined });

/** Arbitrary CNI_* environments: each variable valid, absent or an arbitrary string. */
const anyEnv: fc.Arbitrary<Env> = fc.constantFrom(...COMMANDS, "VERSION").chain((command) => {
  const v = validEnv(command);
  return fc.record({
    CNI_COMMAND: mostly<string | undefined>(command, anyString),
    CNI_CONTAINERID: mostly<string | undefined>(v.CNI_CONTAINERID, anyString),
    CNI_NETNS: mostly<string | undefined>(v.CNI_NETNS, anyString),
    CNI_IFNAME: mostly<string | undefined>(v.CNI_IFNAME, anyString),
    CNI_ARGS: mostly<string | undefined>(
      v.CNI_ARGS,
      fc.oneof(
        anyString,
        fc.dictionary(fc.string({ minLength: 1 }).filter((k) => !/[=;]/.test(k)), fc.string())
          .map((d) => Object.entries(d).map(([k, x]) => `${k}=${x.replaceAll(";", "")}`).join(";")),
      ),
    ),
    CNI_PATH: mostly<string | undefined>(v.CNI_PATH, anyString),
  });
});

/** Arbitrary stdin: garbage text, arbitrary JSON, or a config whose keys are mostly valid. */
const anyStdin: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.constantFrom(...COMMANDS).chain((command) => {
    const c = validConf(command);
    const keys = Object.keys(c);
    return fc.record(
      Object.fromEntries(
        [...keys, "agentTimeoutMs", "optIn"].map((k) => [k, mostly<unknown>(c[k], fc.jsonValue())]),
      ),
      { requiredKeys: [] },
    ).map((o) => JSON.stringify(o));
  }),
);

Deno.test("fuzz: arbitrary environments and stdin always get an answer; only valid input reaches the agent", async () => {
  let tried = 0, asked = 0, succeeded = 0;
  await fc.assert(
    fc.asyncProperty(anyEnv, anyStdin, async (env, stdin) => {
      tried++;
      const agent = fakeAgent();
      const out = await runPlugin({ env, stdin, call: agent.call, log: () => {} });
      const code = shape(out, env.CNI_COMMAND);
      if (code === 0) succeeded++;
      if (agent.calls.length > 0) {
        asked++;
        // Whatever reached the agent had passed validation.
        const parsed = parseCniEnv(env);
        parseNetConf(stdin, parsed.command);
        equal(agent.calls.length, 1);
        equal(agent.calls[0]!.command, parsed.command);
      }
    }),
    { numRuns: RUNS * 3 },
  );
  console.log(
    `arbitrary invocations: ${tried}, ${succeeded} succeeded, ${asked} reached the agent`,
  );
  ok(asked > 0 && succeeded > 0, "the generator never produced a valid invocation");
});

Deno.test("fuzz: arbitrary agent answers and failures become a spec error, never a crash", async () => {
  const answers = fc.oneof(
    fc.record({ v: fc.constant(1), ok: fc.constant(false), code: fc.integer(), msg: fc.string() })
      .map((r) => ({ kind: "answer" as const, r: r as unknown as AgentResponse })),
    fc.constant({ kind: "down" as const }),
    fc.string().map((text) => ({ kind: "garbage" as const, text })),
    fc.constant({ kind: "throw" as const }),
  );
  let tried = 0;
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...COMMANDS), answers, async (command, a) => {
      tried++;
      const agent = fakeAgent((): Promise<AgentResponse> => {
        switch (a.kind) {
          case "answer":
            return Promise.resolve(a.r);
          case "down":
            return Promise.reject(new AgentUnavailableError("/s", "refused"));
          case "garbage":
            return Promise.resolve().then(() => parseResponse(a.text));
          case "throw":
            return Promise.reject(new TypeError("boom"));
        }
      });
      const out = await runPlugin({
        env: validEnv(command),
        stdin: JSON.stringify(validConf(command)),
        call: agent.call,
        log: () => {},
      });
      ok(out.code === 0 || out.code === 1);
      if (out.code === 1) {
        const e = JSON.parse(out.stdout);
        ok(Number.isInteger(e.code) && typeof e.msg === "string");
        if (a.kind === "answer") equal(e.code, a.r.ok ? 0 : (a.r as { code: number }).code);
        if (a.kind === "down") equal(e.code, command === "STATUS" ? 50 : 11, "agent down");
        // STATUS reports any failure to get a good answer as "not available" (50).
        if (a.kind === "garbage" || a.kind === "throw") {
          equal(e.code, command === "STATUS" ? 50 : 100);
        }
      } else {
        // DEL succeeds with the agent down (best effort); a garbage answer that happens to be a
        // valid ok message is an ok.
        ok(a.kind === "down" ? command === "DEL" : a.kind === "garbage", `${command} ${a.kind}`);
      }
    }),
    { numRuns: RUNS },
  );
  console.log(`agent answers tried: ${tried}`);
});

Deno.test("fuzz: callAgent against a socket answering arbitrary bytes or hanging up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-fuzz-sock-" });
  const path = join(dir, "agent.sock");
  let reply = new Uint8Array() as Uint8Array | "hangup";
  const listener = Deno.listen({ transport: "unix", path });
  const serving = (async () => {
    for await (const conn of listener) {
      try {
        const buf = new Uint8Array(65536);
        await conn.read(buf);
        if (reply !== "hangup") await conn.write(reply);
      } catch { /* the client went away */ }
      try {
        conn.close();
      } catch { /* closed */ }
    }
  })().catch(() => {});
  const req = statusRequest();
  let tried = 0;
  const outcomes = new Map<string, number>();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v) + "\n")),
          fc.record({ v: fc.constant(1), ok: fc.boolean(), code: fc.integer(), msg: fc.string() })
            .map((v) => new TextEncoder().encode(JSON.stringify(v) + "\n")),
          fc.constant("hangup" as const),
        ),
        async (r) => {
          tried++;
          reply = r;
          let outcome: string;
          try {
            const res = await callAgent(path, req, 2000);
            ok(res.v === 1 && typeof res.ok === "boolean");
            outcome = "answer";
          } catch (e) {
            outcome = (e as Error).name;
            ok(
              ["AgentProtocolError", "AgentUnavailableError"].includes(outcome),
              `unexpected ${outcome}: ${e}`,
            );
          }
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        },
      ),
      { numRuns: 300 },
    );
  } finally {
    listener.close();
    await serving;
    await Deno.remove(dir, { recursive: true });
  }
  console.log(`socket answers tried: ${tried}: ${JSON.stringify(Object.fromEntries(outcomes))}`);
});

async function runBuilt(
  launcher: string,
  env: Env,
  stdin: Uint8Array,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const pairs = Object.entries(env).flatMap(([k, v]) =>
    v === undefined || v.includes("\0") ? [] : [`${k}=${v}`]
  );
  const child = new Deno.Command("/usr/bin/env", {
    // Deno's cache in the build dir, not the launcher's /run default (tests leave nothing there).
    args: ["-i", `TSN_PROXY_DENO_CACHE=${dirname(launcher)}/deno-cache`, ...pairs, launcher],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: "/",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const w = child.stdin.getWriter();
  await w.write(stdin).catch(() => {});
  await w.close().catch(() => {});
  const out = await child.output();
  clearTimeout(timer);
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("fuzz: the built plugin process answers bad input with a spec error, never a crash", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-fuzz-build-" });
  try {
    const launcher = await buildPlugin(dir);
    // Bad input through Deno: samples of the catalogue, raw bytes, a 2 MiB stdin.
    const samples = fc.sample(badInput, { numRuns: 48, seed: 42 });
    const cases: { env: Env; stdin: Uint8Array; code: number; what: string }[] = samples.map(
      ({ command, m }) => {
        const { env, stdin } = m.apply(validEnv(command), validConf(command), command);
        return { env, stdin: new TextEncoder().encode(stdin), code: m.code, what: m.what };
      },
    );
    cases.push(
      {
        env: validEnv("ADD"),
        stdin: new Uint8Array([0xff, 0xfe, 0x00, 0x7b]),
        code: 6,
        what: "invalid UTF-8",
      },
      { env: validEnv("ADD"), stdin: new Uint8Array(), code: 6, what: "empty stdin" },
      {
        env: validEnv("ADD"),
        stdin: new TextEncoder().encode(`{"cniVersion":"1.0.0","x":"${"a".repeat(2 << 20)}"}`),
        code: 7,
        what: "2 MiB stdin",
      },
    );
    let crashed = 0;
    for (let i = 0; i < cases.length; i += 8) {
      const batch = cases.slice(i, i + 8);
      const outs = await Promise.all(batch.map((c) => runBuilt(launcher, c.env, c.stdin)));
      for (const [j, out] of outs.entries()) {
        const c = batch[j]!;
        if (/Uncaught|panicked|Stack backtrace/.test(out.stderr)) crashed++;
        equal(out.code, 1, `${c.what}: exit ${out.code}\n${out.stderr}`);
        equal(JSON.parse(out.stdout).code, c.code, `${c.what}: ${out.stdout}`);
      }
    }
    equal(crashed, 0);
    // VERSION is answered by the shell launcher: arbitrary stdin, always a supported version.
    const versions = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.constantFrom(...SUPPORTED_VERSIONS, "9.9.9", "").map((v) => `{"cniVersion":"${v}"}`),
        fc.string({ maxLength: 40 }).map((s) => `{"cniVersion":"${s}`),
        fc.string({ maxLength: 40 }).map((s) => `{"cniVersion"${s}\n"x":"1.0.0"}`),
      ),
      { numRuns: 150, seed: 7 },
    );
    for (let i = 0; i < versions.length; i += 25) {
      const outs = await Promise.all(
        versions.slice(i, i + 25).map((s) =>
          runBuilt(launcher, { CNI_COMMAND: "VERSION" }, new TextEncoder().encode(s))
        ),
      );
      for (const [j, out] of outs.entries()) {
        const input = versions[i + j]!;
        equal(out.code, 0, `VERSION ${JSON.stringify(input)}: ${out.stderr}`);
        const v = JSON.parse(out.stdout);
        ok(SUPPORTED_VERSIONS.includes(v.cniVersion), `VERSION ${JSON.stringify(input)}: ${v}`);
        const asked = /"cniVersion":"([^"]*)"/.exec(input)?.[1];
        if (asked !== undefined && SUPPORTED_VERSIONS.includes(asked)) {
          equal(v.cniVersion, asked, `VERSION ${JSON.stringify(input)}`);
        }
      }
    }
    console.log(
      `built plugin: ${cases.length} bad invocations (exit 1, spec error, ${crashed} crashes), ` +
        `${versions.length} VERSION inputs through the launcher`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
