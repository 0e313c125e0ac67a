import { equal, throws } from "node:assert/strict";
import { ConfigError, parseConfig, parsePolicyFile } from "./config.ts";

Deno.test("parseConfig() fills defaults around the one required field", () => {
  const c = parseConfig("restoreOn: [eth1]\n", "a.yaml", { TSN_PROXY_PLUGIN_DIR: "/opt/plugin" });
  equal(c.strategy, "skb-addr");
  equal(c.cni.confDir, "/etc/cni/net.d");
  equal(c.cni.binDir, "/opt/cni/bin");
  equal(c.cni.pluginDir, "/opt/plugin");
  equal(c.socketPath, "/var/run/tsn-proxy/cni.sock");
  equal(c.policy.configured, false);
  equal(c.kubernetes.enabled, true);
  // the clock is watched, never enforced, unless asked
  equal(c.txtime.requireSyncedClock, false);
  equal(c.txtime.maxPtpOffsetNs, 0);
  equal(c.clock.checkIntervalMs, 5000);
  equal(c.clock.procRoot, "/proc");
});

Deno.test("parseConfig() reads JSON and derives the socket from stateDir", () => {
  const c = parseConfig(
    JSON.stringify({
      restoreOn: ["nic0", "nic1"],
      stateDir: "/run/x/",
      metricsAddress: "unix:/run/x/m.sock",
      policy: { defaultMaxPriority: 0, namespaces: { cell: 5, ops: "unlimited" } },
    }),
  );
  equal(c.stateDir, "/run/x");
  equal(c.socketPath, "/run/x/cni.sock");
  equal(c.policy.namespaces.cell, 5);
  equal(c.policy.namespaces.ops, null);
});

Deno.test("parseConfig() errors name the field", () => {
  const cases: [string, string][] = [
    ["strategy: skb-addr\n", "restoreOn"],
    ["restoreOn: [eth1]\nbogus: 1\n", "bogus"],
    ["restoreOn: [eth1]\ncni:\n  confdir: /x\n", "cni.confdir"],
    ["restoreOn: [eth1]\ncni:\n  binDir: opt/cni\n", "cni.binDir"],
    ["restoreOn: [eth1]\nmaxAgeMs: -1\n", "maxAgeMs"],
    ["restoreOn: [eth1]\nmetricsAddress: nowhere\n", "metricsAddress"],
    ["restoreOn: [eth1]\npolicy:\n  namespaces:\n    cell: 9.5\n", "policy.namespaces.cell"],
    ["restoreOn: [eth1]\npolicy:\n  default: 3\n", "policy.default"],
    ["restoreOn: [eth1, eth1]\n", "restoreOn"],
    ["restoreOn: [eth1]\nbpffs: /sys/fs/bpf\n", "bpffs"],
    ["restoreOn: [eth1]\ncni:\n  optIn: some\n", "cni.optIn"],
    ["restoreOn: [\n", "(document)"],
    ["restoreOn: [eth1]\ntxtime:\n  requireSyncedClock: yes please\n", "txtime.requireSyncedClock"],
    ["restoreOn: [eth1]\ntxtime:\n  requireSynced: true\n", "txtime.requireSynced"],
    ["restoreOn: [eth1]\ntxtime:\n  maxPtpOffsetNs: -5\n", "txtime.maxPtpOffsetNs"],
    ["restoreOn: [eth1]\nclock:\n  procRoot: proc\n", "clock.procRoot"],
    ["restoreOn: [eth1]\nclock:\n  checkIntervalMs: 10\n", "clock.checkIntervalMs"],
  ];
  for (const [text, field] of cases) {
    throws(
      () => parseConfig(text, "f.yaml"),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(`f.yaml: ${field}:`),
      `${JSON.stringify(text)} should fail on ${field}`,
    );
  }
});

Deno.test("parseConfig() takes logFormat text (default) or json and refuses others", () => {
  equal(parseConfig("restoreOn: [eth1]\n").logFormat, "text");
  equal(parseConfig("restoreOn: [eth1]\nlogFormat: json\n").logFormat, "json");
  throws(
    () => parseConfig("restoreOn: [eth1]\nlogFormat: xml\n", "a.yaml"),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith("a.yaml: logFormat: must be"),
  );
});

Deno.test("parseConfig() refuses invalid interface names, not interfaces missing on this host", () => {
  // A valid name is accepted whether or not the interface exists: the agent attaches its restorer
  // when it appears. An invalid one can never exist: a config error, before anything is attached.
  for (const name of ["tsn-not-here0", "eth1.100", "enp3s0f1np1", "éth0"]) {
    equal(parseConfig(JSON.stringify({ restoreOn: [name] })).restoreOn[0], name);
  }
  for (const name of [".", "..", "", "eth 1", "eth/1", "eth:1", "a".repeat(16), "ééééééééé"]) {
    throws(
      () => parseConfig(JSON.stringify({ restoreOn: ["eth1", name] }), "f.yaml"),
      (e: unknown) =>
        e instanceof ConfigError && e.message.startsWith("f.yaml: restoreOn[1]: not an interface"),
      JSON.stringify(name),
    );
  }
});

Deno.test("parsePolicyFile() reads the ConfigMap's policy.yaml; emptied, it clamps to 0", () => {
  const p = parsePolicyFile("policy:\n  defaultMaxPriority: 1\n  namespaces:\n    cell: 5\n");
  equal(p.namespaces.cell, 5);
  equal(p.defaultMaxPriority, 1);
  for (const empty of ["", "# nothing\n", "policy:\n"]) {
    const e = parsePolicyFile(empty);
    equal(e.defaultMaxPriority, 0, JSON.stringify(empty));
    equal(e.configured, false);
  }
  throws(
    () => parsePolicyFile("strategy: skb-addr\n", "p.yaml"),
    /p\.yaml: strategy: unknown field/,
  );
  throws(() => parsePolicyFile("policy: [1]\n"), /policy/);
  throws(() => parsePolicyFile("policy: {namespaces: {cell: high}}\n"), /namespaces\.cell/);
});

Deno.test("parseConfig() takes an absolute policyFile, default none", () => {
  equal(parseConfig("restoreOn: [eth1]\n").policyFile, "");
  equal(parseConfig("restoreOn: [eth1]\npolicyFile: /etc/p.yaml\n").policyFile, "/etc/p.yaml");
  throws(() => parseConfig("restoreOn: [eth1]\npolicyFile: p.yaml\n"), /policyFile/);
});
