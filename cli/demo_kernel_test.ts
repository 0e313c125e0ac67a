/** The README's demo command, end to end: the proxy must turn lost priorities into restored ones. */
import { equal } from "node:assert/strict";
import { runDemo } from "./demo.ts";

for (const strategy of ["skb-addr", "skb-data"]) {
  Deno.test(`demo with ${strategy}: priorities lost without the proxy, restored with it`, async () => {
    const r = await runDemo(strategy, 1);
    for (const p of r.pods) {
      equal(p.with.prioWrong + p.without.prioWrong, 0, `${p.pod}: wrong priorities`);
      if (p.optIn) {
        equal(p.without.prioRight, 0, `${p.pod}: priority survived without the proxy?`);
        equal(p.with.prioRight, p.with.packets, `${p.pod}: restored with the proxy`);
      } else {
        equal(p.with.prioRight, p.with.packets, `${p.pod}: best effort stays priority 0`);
      }
    }
    const leftovers = [...Deno.readDirSync("/run/netns")].filter((e) =>
      e.name.startsWith("tsndemo")
    );
    equal(leftovers.length, 0, `namespaces left: ${leftovers.map((e) => e.name).join(", ")}`);
  });
}
