import { formatDuration } from "./duration.js";

/**
 * Renders a time for a message: ISO string plus how far away it is, e.g. `2026-01-01T00:00:00.000Z (4m ago)`;
 * `never` for no time at all.
 *
 * @example
 * ```ts
 * describeTime(new Date(Date.now() + 90_000)); // "2026-…Z (in 1m30s)"
 * ```
 */
export function describeTime(when: Date | undefined, now: number = Date.now()): string {
  if (!when) return "never";
  const delta = when.getTime() - now;
  const rel = formatDuration(Math.abs(delta));
  return `${when.toISOString()} (${delta >= 0 ? `in ${rel}` : `${rel} ago`})`;
}
