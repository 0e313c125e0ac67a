import { deepEqual, equal, ok } from "node:assert/strict";
import { Progress } from "./progress.ts";

function recorder(tty: boolean) {
  const out: string[] = [];
  let t = 0;
  const p = new Progress(3, { write: (s) => out.push(s), tty, now: () => t });
  return { out, p, advance: (ms: number) => (t += ms) };
}

Deno.test("Progress numbers steps with the time since the start", () => {
  const { out, p, advance } = recorder(false);
  p.step("build");
  advance(2500);
  p.step("run");
  p.note("a note");
  deepEqual(out, ["[1/3   0.0s] build\n", "[2/3   2.5s] run\n", "a note\n"]);
});

Deno.test("Progress writes live lines only on a terminal and clears them before a step", () => {
  const plain = recorder(false);
  plain.p.tick("10/100");
  plain.p.done();
  deepEqual(plain.out, [], "no live line off a terminal");

  const tty = recorder(true);
  tty.p.tick("10/100");
  tty.p.tick("20/100");
  tty.p.step("next");
  equal(tty.out.length, 4);
  ok(tty.out[0]!.startsWith("\r\x1b[2K") && tty.out[0]!.endsWith("10/100"));
  ok(tty.out[1]!.endsWith("20/100") && tty.out[1] !== tty.out[0], "the spinner moves");
  equal(tty.out[2], "\r\x1b[2K", "the live line is cleared");
  equal(tty.out[3], "[1/3   0.0s] next\n");
});

Deno.test("Progress never counts past its total; quiet writes nothing", () => {
  const { out, p } = recorder(false);
  for (let i = 0; i < 5; i++) p.step("s");
  equal(out.at(-1), "[3/3   0.0s] s\n");
  const q = new Progress(1, { quiet: true, write: () => out.push("x"), tty: true });
  q.step("s");
  q.tick("t");
  equal(out.filter((x) => x === "x").length, 0);
});
