/**
 * tsn-proxy's simulator (`@tsn-proxy/sim`): simulated nodes in network namespaces, talkers that set
 * SO_PRIORITY and SO_TXTIME, an observer on the node's NIC, and scenarios that tie them together.
 *
 * @module
 */

export * from "./netns.ts";
export * from "./process.ts";
export * from "./deno_run.ts";
export * from "./topology.ts";
export * from "./observer.ts";
export * from "./observer_codec.ts";
export * from "./scenario.ts";
export * from "./require_root.ts";
export * from "./talkers/record.ts";
export * from "./talkers/receiver.ts";
export * from "./talkers/socat.ts";
export {
  parseSenderArgs,
  type SenderArgs,
  type SenderResult,
  TXTIME_AHEAD_NS,
} from "./talkers/txtime_sender.ts";
export { buildObserver, OBSERVER_OBJ } from "./bpf/build.ts";
export * from "./talkers/txtime.ts";
export { parseIpv4 } from "./talkers/libc.ts";
export * from "./tc.ts";
export * from "./tamper.ts";
