import { deepEqual } from "node:assert/strict";
import { AGENT_IMAGE } from "./image.ts";

const CONTAINERFILE = new URL("./Containerfile", import.meta.url);

/** The final stage of a Containerfile: lines after its last FROM, continuations joined. */
function finalStage(text: string): string[] {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const from = lines.findLastIndex((l) => l.startsWith("FROM "));
  return lines.slice(from);
}

Deno.test("k8s/Containerfile's image is AGENT_IMAGE: base, packages, copies, env, entrypoint", async () => {
  const stage = finalStage(await Deno.readTextFile(CONTAINERFILE));
  deepEqual(stage[0], `FROM ${AGENT_IMAGE.base}`);
  const run = stage.filter((l) => l.startsWith("RUN ")).join(" ");
  const installed = /apt-get install -y --no-install-recommends ([^&]+)/.exec(run)?.[1];
  deepEqual(installed?.trim().split(/\s+/), [...AGENT_IMAGE.packages]);
  const copies = stage.filter((l) => l.startsWith("COPY ")).flatMap((l) => {
    const words = l.split(/\s+/).slice(1).filter((w) => !w.startsWith("--"));
    const to = words.pop()!;
    const from = l.includes("--from=build") ? words.map((w) => w.replace(/^\/src\//, "")) : words;
    return from.map((f) => ({ from: f, to }));
  });
  deepEqual(copies, AGENT_IMAGE.copies.map((c) => ({ ...c })));
  const env = stage.filter((l) => l.startsWith("ENV ")).flatMap((l) => l.split(/\s+/).slice(1));
  deepEqual(env, [...AGENT_IMAGE.env]);
  const entry = stage.find((l) => l.startsWith("ENTRYPOINT "));
  deepEqual(JSON.parse(entry!.slice("ENTRYPOINT ".length)), [...AGENT_IMAGE.entrypoint]);
});
