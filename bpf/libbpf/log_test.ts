import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { cString, libbpf } from "./ffi.ts";
import {
  captureLog,
  configureLog,
  disposeLog,
  logMark,
  LogRing,
  logSince,
  recentLog,
  withLibbpfLog,
} from "./log.ts";
import { BpfObject } from "./object.ts";
import { BpfError } from "./errors.ts";

Deno.test("LogRing splits chunks into lines and holds partial lines", () => {
  const ring = new LogRing(10);
  const mark = ring.seq;
  ring.write("a\nb");
  deepStrictEqual(ring.since(mark), ["a", "b"]); // since() flushes the pending "b"
  ring.write("c\n\nd\n");
  deepStrictEqual(ring.since(mark), ["a", "b", "c", "", "d"]);
  equal(ring.seq, mark + 5);
});

Deno.test("LogRing keeps at most ~capacity lines and still counts", () => {
  const ring = new LogRing(5);
  for (let i = 0; i < 100; i++) ring.write(`l${i}\n`);
  equal(ring.seq, 100);
  const all = ring.since(0);
  ok(all.length >= 5 && all.length <= 10, `kept ${all.length}`);
  equal(all.at(-1), "l99");
  deepStrictEqual(ring.tail(2), ["l98", "l99"]);
  deepStrictEqual(ring.since(98), ["l98", "l99"]);
  ring.clear();
  deepStrictEqual(ring.tail(3), []);
  equal(ring.seq, 100);
  throws(() => new LogRing(0), RangeError);
});

Deno.test("captureLog() returns what libbpf printed during a call (va_list formatted)", () => {
  const { value, lines } = captureLog(() =>
    libbpf().bpf_object__open_file(cString("/nonexistent/x.bpf.o"), null)
  );
  equal(value, null);
  ok(
    lines.some((l) =>
      l === "libbpf: elf: failed to open /nonexistent/x.bpf.o: No such file or directory"
    ),
    JSON.stringify(lines),
  );
  ok(recentLog(5).some((l) => l.includes("/nonexistent/x.bpf.o")));
});

Deno.test("libbpf errors carry the log; libbpf is silent outside captured calls", () => {
  try {
    BpfObject.open("/nonexistent/y.bpf.o");
    throw new Error("open succeeded");
  } catch (e) {
    ok(e instanceof BpfError);
    equal(e.code, "ENOENT");
    ok(e.log.some((l) => l.includes("failed to open /nonexistent/y.bpf.o")), e.message);
  }
  // Not captured: the print function is NULL, nothing reaches the ring.
  const mark = logMark();
  libbpf().bpf_object__open_file(cString("/nonexistent/z.bpf.o"), null);
  deepStrictEqual(logSince(mark), []);
});

Deno.test("messages longer than the format buffer are formatted whole (va_list copy)", () => {
  const path = "/nonexistent/" + "a".repeat(20_000);
  const { lines } = captureLog(() => libbpf().bpf_object__open_file(cString(path), null));
  const line = lines.find((l) => l.startsWith("libbpf: elf: failed to open /nonexistent/"));
  ok(line !== undefined, JSON.stringify(lines).slice(0, 200));
  equal(line, `libbpf: elf: failed to open ${path}: File name too long`);
});

Deno.test("captureLog() refuses async functions and nested capture installs once", () => {
  throws(() => captureLog(() => Promise.resolve(1)), TypeError);
  const { lines } = captureLog(() =>
    withLibbpfLog(() => libbpf().bpf_object__open_file(cString("/nonexistent/n.bpf.o"), null))
  );
  ok(lines.some((l) => l.includes("/nonexistent/n.bpf.o")));
});

Deno.test("configureLog(level) filters; disposeLog() closes the callback and a new one works", () => {
  configureLog({ level: "debug" });
  try {
    const { lines } = captureLog(() =>
      libbpf().bpf_object__open_file(cString("/nonexistent/d.bpf.o"), null)
    );
    ok(lines.length >= 1);
  } finally {
    configureLog({ level: "info" });
  }
  disposeLog();
  const { lines } = captureLog(() =>
    libbpf().bpf_object__open_file(cString("/nonexistent/e.bpf.o"), null)
  );
  ok(lines.some((l) => l.includes("/nonexistent/e.bpf.o")));
});

Deno.test("captured calls of two isolates (a worker and this one) never see each other's lines", async () => {
  const code = `
    import { captureLog } from ${JSON.stringify(new URL("./log.ts", import.meta.url).href)};
    import { cString, libbpf } from ${JSON.stringify(new URL("./ffi.ts", import.meta.url).href)};
    let bad = 0;
    for (let i = 0; i < 300; i++) {
      const { lines } = captureLog(() =>
        libbpf().bpf_object__open_file(cString("/nonexistent/worker-" + i + ".o"), null));
      if (lines.length !== 1 || !lines[0].includes("/worker-" + i + ".o")) bad++;
    }
    self.postMessage(bad);
    self.close();
  `;
  const url = URL.createObjectURL(new Blob([code], { type: "application/javascript" }));
  const worker = new Worker(url, { type: "module" });
  const result = new Promise<number>((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data as number);
    worker.onerror = (e) => reject(new Error(e.message));
  });
  let bad = 0;
  for (let i = 0; i < 300; i++) {
    const { lines } = captureLog(() =>
      libbpf().bpf_object__open_file(cString(`/nonexistent/main-${i}.o`), null)
    );
    if (lines.length !== 1 || !lines[0]!.includes(`/main-${i}.o`)) bad++;
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 0)); // let the worker report
  }
  equal(bad, 0, "main isolate lost or got foreign lines");
  equal(await result, 0, "worker isolate lost or got foreign lines");
  worker.terminate();
  URL.revokeObjectURL(url);
});
