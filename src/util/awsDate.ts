/**
 * The date formats AWS uses on the wire and on disk: SigV4's `X-Amz-Date` (`20260101T000000Z`) and the ISO 8601
 * times of the SSO and credential caches (`2026-01-01T00:00:00Z` from botocore and the AWS CLI, with milliseconds from
 * the SDK for JavaScript).
 */

/** `20260101T000000Z` → epoch ms; NaN when malformed. */
export function parseAmzDate(s: string | undefined): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s ?? "");
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** Epoch ms → `20260101T000000Z`. */
export function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/** A time as botocore writes it in its caches: `2024-01-01T00:00:00Z` (whole seconds, UTC). */
export function formatIsoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Parses an ISO 8601 time from a cache file (with or without milliseconds); undefined if it is not a time. */
export function parseIsoTime(value: unknown): number | undefined {
  if (typeof value !== "string" || value.trim() === "") return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}
