import { equal } from "node:assert/strict";
import { fnv1a32, ownerId } from "./pod.ts";

Deno.test("fnv1a32() is FNV-1a over UTF-8; ownerId() is never 0", () => {
  // Reference values of 32-bit FNV-1a.
  equal(fnv1a32(""), 0x811c9dc5);
  equal(fnv1a32("a"), 0xe40c292c);
  equal(fnv1a32("foobar"), 0xbf9cf968);
  equal(ownerId("a"), 0xe40c292c);
});
