/**
 * Refuses an option that should be a number of milliseconds (at least `min`) but is not; `undefined` passes (the
 * default applies). The `RangeError` names the option in backticks.
 *
 * @example
 * ```ts
 * checkMs("loginTimeoutMs", options.loginTimeoutMs, 1);
 * ```
 */
export function checkMs(name: string, value: unknown, min = 0): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(`\`${name}\` must be a finite number of milliseconds >= ${min}, got ${String(value)}`);
  }
}
