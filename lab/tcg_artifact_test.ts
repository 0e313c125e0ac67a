import { equal } from "node:assert/strict";
import { tcgArtifact } from "./mod.ts";

Deno.test("tcgArtifact() names TCG's double fault and int3 oopses, under TCG only", () => {
  const doubleFault = "[   38.361824] Oops: double fault: 0000 [#1] PREEMPT SMP NOPTI";
  const int3 = "[   12.797514] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI";
  equal(tcgArtifact("tcg", ["boot", doubleFault]), doubleFault.trim());
  equal(tcgArtifact("tcg", [int3]), int3.trim());
  equal(tcgArtifact("kvm", [int3]), "", "a real CPU's oops is real trouble");
  equal(tcgArtifact("tcg", ["[ 1.0] BUG: kernel NULL pointer dereference"]), "");
  equal(tcgArtifact("tcg", ["[ 1.0] Oops: general protection fault: 0000"]), "");
});
