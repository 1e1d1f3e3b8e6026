/** Units accepted by {@link parseDuration}, in milliseconds. */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `30h`, `90m`, `1h30m`, `45s`, `2d` or `1500ms` into milliseconds. A bare number means
 * seconds. Throws a `RangeError` naming `what` (e.g. `--require`) on anything else.
 *
 * @example
 * ```ts
 * parseDuration("1h30m", "--require"); // 5400000
 * ```
 */
export function parseDuration(text: string, what = "duration"): number {
  const s = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    matched = re.lastIndex;
  }
  if (s === "" || matched !== s.length) {
    throw new RangeError(
      `\`${what}\` must be a duration such as 30h, 90m, 1h30m, 45s or 2d; got ${JSON.stringify(text)}`,
    );
  }
  return Math.round(total);
}

/**
 * Renders milliseconds as the largest units that fit: `90061000` → `1d1h1m1s`; sub-second values show as `0s`.
 *
 * @example
 * ```ts
 * formatDuration(5_400_000); // "1h30m"
 * ```
 */
export function formatDuration(ms: number): string {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  let out = "";
  if (d) out += `${d}d`;
  if (h) out += `${h}h`;
  if (m) out += `${m}m`;
  if (s || !out) out += `${s}s`;
  return out;
}
