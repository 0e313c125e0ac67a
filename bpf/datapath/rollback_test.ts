import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { Rollback } from "./rollback.ts";

Deno.test("Rollback.run() undoes completed steps newest first when a later step throws", () => {
  const log: string[] = [];
  throws(() =>
    Rollback.run((rb) => {
      log.push("a");
      rb.push("undo a", () => log.push("-a"));
      log.push("b");
      rb.push("undo b", () => log.push("-b"));
      throw new Error("step c failed");
    }), /step c failed/);
  deepStrictEqual(log, ["a", "b", "-b", "-a"]);
});

Deno.test("Rollback.run() keeps everything on success", () => {
  const log: string[] = [];
  equal(Rollback.run((rb) => (rb.push("undo", () => log.push("undone")), 42)), 42);
  deepStrictEqual(log, []);
});

Deno.test("Rollback.run() reports undo failures and still runs the remaining undos", () => {
  const log: string[] = [];
  throws(
    () =>
      Rollback.run((rb) => {
        rb.push("first", () => log.push("-first"));
        rb.push("second", () => {
          throw new Error("busy");
        });
        throw new Error("boom");
      }),
    /boom\n\(rollback incomplete: second: busy\)/,
  );
  deepStrictEqual(log, ["-first"]);
});
