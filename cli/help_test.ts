import { equal, match, notEqual } from "node:assert/strict";
import { DATAPATH_USAGE } from "./datapath.ts";
import { COMMANDS, main } from "./main.ts";
import { shipped, SHIPPED_COMMANDS } from "./shipped.ts";

/** Runs fn with console.log/error and stdout captured; returns its result and all it printed. */
async function captured(fn: () => Promise<number>): Promise<{ code: number; text: string }> {
  const { log, error } = console;
  const lines: string[] = [];
  console.log = console.error = (...a: unknown[]) => lines.push(a.join(" "));
  const stdout = Object.getOwnPropertyDescriptor(Deno.stdout, "writeSync");
  Object.defineProperty(Deno.stdout, "writeSync", {
    configurable: true,
    value: (b: Uint8Array) => (lines.push(new TextDecoder().decode(b)), b.length),
  });
  try {
    return { code: await fn(), text: lines.join("\n") };
  } finally {
    Object.assign(console, { log, error });
    if (stdout) Object.defineProperty(Deno.stdout, "writeSync", stdout);
    else delete (Deno.stdout as { writeSync?: unknown }).writeSync;
  }
}

const argvs = (): string[][] => [
  ["--help"],
  ["help"],
  ...Object.keys(COMMANDS).flatMap((c) => [[c, "--help"], [c, "-h"]]),
  ...Object.keys(DATAPATH_USAGE).flatMap((s) => [["datapath", s, "--help"], ["datapath", s, "-h"]]),
];

Deno.test("every tsnproxy command and datapath subcommand answers --help with usage, exit 0", async () => {
  for (const argv of argvs()) {
    const r = await captured(() => main(argv));
    equal(r.code, 0, `tsnproxy ${argv.join(" ")} exited ${r.code}:\n${r.text}`);
    match(r.text, /usage/i, `tsnproxy ${argv.join(" ")} printed no usage:\n${r.text}`);
    const [name, sub] = argv;
    if (name === "datapath" && sub !== undefined && !sub.startsWith("-")) {
      match(r.text, new RegExp(`datapath ${sub} `), `not ${sub}'s own usage:\n${r.text}`);
    }
  }
});

Deno.test("every shipped command answers --help with usage, exit 0", async () => {
  for (const argv of [["--help"], ...Object.keys(SHIPPED_COMMANDS).map((c) => [c, "--help"])]) {
    const r = await captured(() => shipped(argv));
    equal(r.code, 0, `shipped tsnproxy ${argv.join(" ")} exited ${r.code}:\n${r.text}`);
    match(r.text, /usage/i, `shipped tsnproxy ${argv.join(" ")} printed no usage:\n${r.text}`);
  }
});

Deno.test("--help after `--` is an argument, not a request for help", async () => {
  const r = await captured(() => main(["status", "--", "--help"]));
  notEqual(r.code, 0, r.text);
  match(r.text, /Unexpected argument '--help'/);
});
