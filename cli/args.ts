/**
 * Argument validation shared by every `tsnproxy` subcommand: each value is checked before any
 * kernel object is touched, and a bad one fails with a message that says what was expected.
 *
 * @example
 * ```ts
 * import { parseIfnames } from "./args.ts";
 * console.log(parseIfnames("nic0,nic1")); // ["nic0", "nic1"]
 * ```
 */

/** A user input error: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** True when argv asks for help (`--help` or `-h` before any `--`): print usage, exit 0. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/** Linux interface names: 1..15 bytes (IFNAMSIZ - 1), no '/', ':', whitespace, not "." or "..". */
export function checkIfname(name: string): string {
  if (
    name.length === 0 || new TextEncoder().encode(name).length > 15 || /[\s/:]/.test(name) ||
    name === "." || name === ".."
  ) {
    throw new UsageError(`invalid interface name "${name}" (1-15 bytes, no '/', ':' or spaces)`);
  }
  return name;
}

/** A comma-separated list of interface names, each checked, without duplicates. */
export function parseIfnames(list: string): string[] {
  const names = list.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length === 0) throw new UsageError("expected at least one interface name");
  names.forEach(checkIfname);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`interface "${dup}" is listed twice`);
  return names;
}

/** A whole number in [min, max], from a flag value. */
export function parseUint(flag: string, value: string, min = 0, max = 0xffffffff): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return Number(value);
}

/** A flag that must be present. */
export function required(flag: string, value: string | undefined): string {
  if (value === undefined || value === "") throw new UsageError(`--${flag} is required`);
  return value;
}
