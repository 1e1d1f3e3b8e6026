/**
 * Stable codes carried by every {@link RefreshSessionError}. Match on `code`, never on the message.
 */
export type RefreshSessionErrorCode =
  | "CREDENTIALS_EXPIRED"
  | "SOURCE_FAILED"
  | "INVALID_CREDENTIALS"
  | "MFA_FAILED"
  | "SSO_LOGIN_REQUIRED"
  | "SSO_CONFIG_INVALID"
  | "SSO_CACHE_INVALID"
  | "SSO_LOGIN_FAILED"
  | "PRESIGN_LIFETIME"
  | "CLOSED"
  | "CONFIG_INVALID"
  | "PROFILE_NOT_FOUND"
  | "SESSION_TOO_SHORT";

/** Context attached to an error; never holds a secret. */
export interface RefreshSessionErrorContext {
  /** The credential source, e.g. `sts:arn:aws:iam::123456789012:role/etl`. */
  source?: string;
  /** The profile in play, if any. */
  profile?: string;
  /** When the last credential expires or expired. */
  expiration?: Date;
}

/**
 * Codes whose message already says exactly what happened and what to run (an SSO session that needs a new login, a
 * broken SSO config or cache file): anything that wraps a failure (the refresh engine) hands these on as they are.
 */
const ACTIONABLE_CODES: ReadonlySet<RefreshSessionErrorCode> = new Set<RefreshSessionErrorCode>([
  "SSO_LOGIN_REQUIRED",
  "SSO_CONFIG_INVALID",
  "SSO_CACHE_INVALID",
]);

/**
 * The one error class of this library. Every failure a caller can see carries a stable {@link code}, the source it
 * concerns and, where one exists, the underlying failure as `cause`.
 *
 * @example
 * ```ts
 * try {
 *   await session.credentials();
 * } catch (err) {
 *   if (err instanceof RefreshSessionError && err.code === "CREDENTIALS_EXPIRED") alertOps(err.message);
 * }
 * ```
 */
export class RefreshSessionError extends Error {
  override readonly name: string = "RefreshSessionError";
  readonly code: RefreshSessionErrorCode;
  readonly source: string | undefined;
  readonly profile: string | undefined;
  readonly expiration: Date | undefined;

  constructor(
    code: RefreshSessionErrorCode,
    message: string,
    options: RefreshSessionErrorContext & { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.source = options.source;
    this.profile = options.profile;
    this.expiration = options.expiration;
  }

  /** Whether the message already tells the caller what to do, so wrappers pass the error on unchanged. */
  get actionable(): boolean {
    return ACTIONABLE_CODES.has(this.code);
  }
}

/** Renders a time for an error message: ISO string plus how far away it is, e.g. `2026-01-01T00:00:00.000Z (4m ago)`. */
export function describeTime(when: Date | undefined, now: number = Date.now()): string {
  if (!when) return "never";
  const delta = when.getTime() - now;
  const rel = formatDuration(Math.abs(delta));
  return `${when.toISOString()} (${delta >= 0 ? `in ${rel}` : `${rel} ago`})`;
}

/** `90061000` → `1d1h1m1s`; sub-second values show as `0s`. */
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

/** A short message for an unknown thrown value, safe to show (errors from this library never hold secrets). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
