import { deepEqual, equal, match, ok } from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { manifestCommand } from "./command.ts";
import { renderManifest } from "./manifest.ts";
import { agentConfigOf } from "./semantics.ts";
import { DEFAULT_MANIFEST_OPTIONS, parseManifestArgs } from "./options.ts";
import type { ManifestObject } from "./manifest.ts";

async function run(argv: string[], files: Record<string, string> = {}) {
  let out = "", err = "";
  const code = await manifestCommand(argv, {
    out: (t) => out += t,
    err: (t) => err += t,
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw new Error(`No such file or directory: ${p}`);
      return f;
    },
  });
  return { code, out, err };
}

function objects(yaml: string): ManifestObject[] {
  return parseAllDocuments(yaml).map((d) => d.toJS() as ManifestObject);
}

Deno.test("manifestCommand() without flags prints the default manifest", async () => {
  const r = await run([]);
  equal(r.code, 0);
  equal(r.out, renderManifest(DEFAULT_MANIFEST_OPTIONS));
  equal(r.err, "");
});

Deno.test("manifestCommand() puts strategy, interfaces, image, namespace and policy in place", async () => {
  const r = await run(
    [
      "--strategy",
      "skb-data",
      "--tsn-if",
      "eth1, enp3s0",
      "--image",
      "ghcr.io/acme/tsn-proxy:1.2.3",
      "--namespace",
      "tsn",
      "--policy",
      "p.yaml",
      "--max-priority",
      "cell-2=unlimited",
      "--default-max-priority",
      "1",
    ],
    { "p.yaml": "policy:\n  defaultMaxPriority: 0\n  namespaces:\n    cell-1: 5\n" },
  );
  equal(r.code, 0, r.err);
  const objs = objects(r.out);
  const cfg = agentConfigOf(objs);
  equal(cfg.strategy, "skb-data");
  deepEqual(cfg.restoreOn, ["eth1", "enp3s0"]);
  equal(cfg.policy.defaultMaxPriority, 1);
  deepEqual(cfg.policy.namespaces, { "cell-1": 5, "cell-2": null });
  ok(objs.every((o) =>
    o.kind.startsWith("Cluster") || o.kind === "Namespace" ||
    o.metadata?.namespace === "tsn"
  ));
  equal(objs.find((o) => o.kind === "Namespace")?.metadata?.name, "tsn");
  match(r.out, /image: ghcr\.io\/acme\/tsn-proxy:1\.2\.3/);
});

Deno.test("manifestCommand() refuses bad values with exit 2, a message naming the flag, no output", async () => {
  const cases: Array<[string[], RegExp, Record<string, string>?]> = [
    [
      ["--strategy", "skb-magic"],
      /--strategy: unknown strategy "skb-magic"; valid strategies: skb-addr, skb-data/,
    ],
    [["--tsn-if", ""], /--tsn-if: an empty interface name/],
    [["--tsn-if", "eth1,,eth2"], /--tsn-if: an empty interface name/],
    [["--tsn-if", "eth/1"], /--tsn-if: not an interface name/],
    [["--tsn-if", "averyveryverylongname0"], /--tsn-if: not an interface name/],
    [["--tsn-if", "eth1,eth1"], /--tsn-if: lists a name twice/],
    [["--namespace", "Tsn_System"], /--namespace: "Tsn_System" is not a Kubernetes namespace name/],
    [["--image", "Not An Image"], /--image: "Not An Image" is not an image reference/],
    [
      ["--max-priority", "cell=high"],
      /--max-priority cell: "high" is not an integer or "unlimited"/,
    ],
    [["--max-priority", "cell"], /--max-priority: "cell" is not NAMESPACE=MAX/],
    [["--max-priority", "Bad_NS=3"], /policy: namespaces\.Bad_NS: not a Kubernetes namespace name/],
    [["--max-priority", "cell=4294967295"], /must be an integer in 0\.\.4294967294/],
    [["--default-max-priority=-1"], /--default-max-priority: "-1" is not an integer/],
    [["--policy", "p.yaml"], /--policy p\.yaml: colour: unknown field/, {
      "p.yaml": "colour: red\n",
    }],
    [["--policy", "p.yaml"], /--policy p\.yaml: namespaces\.cell: must be an integer/, {
      "p.yaml": "namespaces:\n  cell: 2.5\n",
    }],
    [["--policy", "p.yaml"], /--policy p\.yaml: not valid YAML/, { "p.yaml": "a: [1\n" }],
    [["--policy", "missing.yaml"], /--policy missing\.yaml: No such file/],
    [["--cni-bin-dir", "opt/cni/bin"], /--cni-bin-dir: must be an absolute path/],
    [["--colour"], /Unknown option '--colour'/],
    [["extra"], /positional argument/],
  ];
  for (const [argv, message, files] of cases) {
    const r = await run(argv, files);
    equal(r.code, 2, `${argv.join(" ")}: ${r.err}`);
    equal(r.out, "", `${argv.join(" ")}: nothing on stdout`);
    match(r.err, message, argv.join(" "));
    match(r.err, /^tsnproxy manifest: /);
  }
});

Deno.test("manifestCommand() --help prints the usage", async () => {
  const r = await run(["--help"]);
  equal(r.code, 0);
  match(r.out, /usage: tsnproxy manifest/);
});

Deno.test("parseManifestArgs() keeps a policy file's namespaces and lets flags override them", () => {
  const o = parseManifestArgs(
    ["--policy", "p", "--max-priority", "a=2"],
    () => "defaultMaxPriority: unlimited\nnamespaces: {a: 1, b: 3}\n",
  );
  deepEqual(o.policy, { defaultMaxPriority: "unlimited", namespaces: { a: 2, b: 3 } });
});
