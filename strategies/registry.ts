/**
 * The strategies a node can run, by name.
 *
 * @example
 * ```ts
 * import { getStrategy, strategyNames } from "./registry.ts";
 * console.log(getStrategy("skb-data").name, strategyNames());
 * ```
 */
import { skbAddr } from "./skb_addr.ts";
import { skbData } from "./skb_data.ts";
import type { Strategy } from "./strategy.ts";

/** Every strategy, the default first. */
export const STRATEGIES: readonly Strategy[] = [skbAddr, skbData];

/** The strategy a node runs when its config names none. */
export const DEFAULT_STRATEGY: Strategy = skbAddr;

/** Thrown for a strategy name that is not registered; lists the valid ones. */
export class UnknownStrategyError extends Error {
  constructor(readonly requested: string) {
    super(`unknown strategy "${requested}"; valid strategies: ${strategyNames().join(", ")}`);
    this.name = "UnknownStrategyError";
  }
}

/** The registered names, in registry order. */
export function strategyNames(): string[] {
  return STRATEGIES.map((s) => s.name);
}

/** The strategy called `name`; throws {@link UnknownStrategyError} for any other name. */
export function getStrategy(name: string): Strategy {
  const found = STRATEGIES.find((s) => s.name === name);
  if (!found) throw new UnknownStrategyError(name);
  return found;
}
