import assert from "node:assert/strict";
import { cleanLine, parseLine, problems, SerialParser } from "./protocol.ts";

const GOOD = [
  "\x1bc\x1b[?7l\x1b[2JSeaBIOS (version 1.16.2)",
  'Probing EDD... ok\x1bcTSNLAB {"event":"init","release":"6.12.1","version":"#1 Debian","uptime":1.9}',
  'TSNLAB {"event":"ready","modules":31,"uptime":2.7}',
  'TSNLAB {"event":"start","scenario":"taprio"}',
  "qdisc taprio 100: root",
  'TSNLAB {"event":"result","scenario":"taprio","data":{"ok":true}}',
  'TSNLAB {"event":"end","scenario":"taprio","exit":0,"ms":1400}',
  'TSNLAB {"done":true,"failed":0}',
  'TSNLAB {"event":"exit","code":0}',
  "[    5.2] reboot: Power down",
].join("\r\n") + "\r\n";

Deno.test("cleanLine strips escapes, CR and control characters", () => {
  assert.equal(cleanLine("\x1bc\x1b[?7l\x1b[2JTSNLAB {}\r"), "TSNLAB {}");
  assert.equal(cleanLine("a\tb"), "a\tb");
});

Deno.test("parseLine: text, events, malformed", () => {
  assert.equal(parseLine("plain console text"), undefined);
  assert.deepEqual(parseLine('junk before TSNLAB {"event":"start","scenario":"x"}'), {
    event: "start",
    scenario: "x",
  });
  assert.deepEqual(parseLine('TSNLAB {"done":true}'), { event: "done", failed: 0 });
  const broken = parseLine('TSNLAB {"event":"end","scenario":"x"'); // cut by a kernel message
  assert.ok(broken && "malformed" in broken);
  const wrong = parseLine('TSNLAB {"event":"end","scenario":"x","exit":"0","ms":1}');
  assert.ok(wrong && "malformed" in wrong && /end needs/.test(wrong.malformed));
  const unknown = parseLine('TSNLAB {"event":"party"}');
  assert.ok(unknown && "malformed" in unknown);
});

Deno.test("SerialParser: a good run, fed in odd chunks, passes", () => {
  const p = new SerialParser();
  const events = [];
  for (let i = 0; i < GOOD.length; i += 7) events.push(...p.push(GOOD.slice(i, i + 7)));
  events.push(...p.end());
  assert.deepEqual(events.map((e) => e.event), [
    "init",
    "ready",
    "start",
    "result",
    "end",
    "done",
    "exit",
  ]);
  const s = p.summary();
  assert.equal(s.init?.release, "6.12.1");
  assert.equal(s.ready?.modules, 31);
  assert.equal(s.done, true);
  assert.deepEqual(s.scenarios, [{
    name: "taprio",
    exit: 0,
    ms: 1400,
    data: { ok: true },
    output: ["qdisc taprio 100: root"],
    ok: true,
  }]);
  assert.deepEqual(problems(s, ["taprio"]), []);
  assert.ok(!p.lines.some((l) => l.includes("\r") || l.includes("\x1b")));
});

Deno.test("problems: nothing missing counts as a pass", () => {
  const run = (text: string) => {
    const p = new SerialParser();
    p.push(text);
    p.end();
    return p.summary();
  };
  const init = 'TSNLAB {"event":"init","release":"r","version":"v","uptime":1}\n';
  // no done line
  let s = run(init + 'TSNLAB {"event":"start","scenario":"a"}\n');
  let found = problems(s, ["a"]);
  assert.ok(found.some((f) => f.includes("a: no end line")));
  assert.ok(found.some((f) => f.includes('{"done":true}')));
  // non-zero exit, even with a result and done
  s = run(
    init + 'TSNLAB {"event":"start","scenario":"a"}\nTSNLAB {"event":"result","scenario":"a",' +
      '"data":{}}\nTSNLAB {"event":"end","scenario":"a","exit":3,"ms":1}\nTSNLAB {"done":true}\n',
  );
  assert.deepEqual(problems(s, ["a"]), ["scenario a: exit 3"]);
  assert.equal(s.scenarios[0]?.ok, false);
  // killed by the guest-side timeout
  s = run(
    init + 'TSNLAB {"event":"start","scenario":"a"}\n' +
      'TSNLAB {"event":"end","scenario":"a","exit":137,"ms":1}\nTSNLAB {"done":true}\n',
  );
  assert.deepEqual(problems(s, ["a"]), ["scenario a: exit 137 (killed: timeout)"]);
  // exit 0 without a result object
  s = run(
    init + 'TSNLAB {"event":"start","scenario":"a"}\n' +
      'TSNLAB {"event":"end","scenario":"a","exit":0,"ms":1}\nTSNLAB {"done":true}\n',
  );
  assert.deepEqual(problems(s, ["a"]), ["scenario a: wrote no result"]);
  // a requested scenario that never started; an init error
  s = run(
    init + 'TSNLAB {"event":"error","stage":"modules","message":"insmod veth.ko failed"}\n',
  );
  found = problems(s, ["b"]);
  assert.equal(found[0], "guest error at modules: insmod veth.ko failed");
  assert.ok(found.includes("scenario b: never started"));
  // no init at all (kernel panic before /init)
  s = run("Kernel panic - not syncing: VFS: Unable to mount root fs\n");
  assert.ok(problems(s, []).some((f) => f.includes("no init line")));
  // a malformed protocol line is a problem
  s = run(init + 'TSNLAB {"done":tr\nTSNLAB {"done":true}\n');
  assert.ok(problems(s, []).some((f) => f.startsWith("malformed protocol line")));
});
