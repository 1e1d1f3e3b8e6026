/**
 * Parses a flag's whole number, refusing anything else by the flag's name: `--port 99999`, `--concurrency 1.5` and
 * `--lifetime abc` are errors that say what is wanted, not NaN further down.
 *
 * @example
 * ```ts
 * parseInteger("16", "--concurrency", { min: 1 }); // 16
 * ```
 */
export function parseInteger(text: string, flag: string, range: { min?: number; max?: number } = {}): number {
  const s = String(text).trim();
  const n = Number(s);
  const { min, max } = range;
  if (
    !/^-?\d+$/.test(s) ||
    !Number.isSafeInteger(n) ||
    (min !== undefined && n < min) ||
    (max !== undefined && n > max)
  ) {
    const bounds =
      min !== undefined && max !== undefined
        ? ` from ${min} to ${max}`
        : min !== undefined
          ? ` >= ${min}`
          : max !== undefined
            ? ` <= ${max}`
            : "";
    throw new RangeError(`\`${flag}\` must be a whole number${bounds}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** A TCP port: 0 (any free port) to 65535. */
export function parsePort(text: string, flag = "--port"): number {
  return parseInteger(text, flag, { min: 0, max: 65_535 });
}
