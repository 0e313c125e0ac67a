/**
 * @module
 * Packet-keying strategies for the tsn-proxy BPF core.
 *
 * @example
 * ```ts
 * import { getStrategy } from "@tsn-proxy/strategies";
 * console.log(getStrategy("skb-addr").description);
 * ```
 */
export type { KernelFeature, Strategy, Tracker } from "./strategy.ts";
export {
  DEFAULT_STRATEGY,
  getStrategy,
  STRATEGIES,
  strategyNames,
  UnknownStrategyError,
} from "./registry.ts";
export { skbAddr } from "./skb_addr.ts";
export { skbData } from "./skb_data.ts";
