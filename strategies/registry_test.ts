import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { PROGRAMS, TsnKeyMode } from "@tsn-proxy/bpf/gen/tsn_core";
import { getStrategy, STRATEGIES, strategyNames, UnknownStrategyError } from "./registry.ts";

Deno.test("getStrategy() finds each registered strategy by name", () => {
  equal(getStrategy("skb-addr").keyMode, TsnKeyMode.TSN_KEY_SKB_ADDR);
  equal(getStrategy("skb-data").keyMode, TsnKeyMode.TSN_KEY_SKB_DATA);
});

Deno.test("getStrategy() refuses an unknown name and lists the valid ones", () => {
  throws(() => getStrategy("skb-hash"), (e: unknown) => {
    return e instanceof UnknownStrategyError &&
      e.message === 'unknown strategy "skb-hash"; valid strategies: skb-addr, skb-data';
  });
});

Deno.test("strategies have unique names and key modes", () => {
  deepStrictEqual(new Set(strategyNames()).size, STRATEGIES.length);
  deepStrictEqual(new Set(STRATEGIES.map((s) => s.keyMode)).size, STRATEGIES.length);
});

Deno.test("every tracker names a program of the core object", () => {
  const programs = new Set<string>(Object.values(PROGRAMS).map((p) => p.name));
  for (const s of STRATEGIES) {
    for (const t of s.trackers) equal(programs.has(t.program), true, `${s.name}: ${t.program}`);
  }
});
