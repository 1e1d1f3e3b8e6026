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
  | "PROFILE_UNSUPPORTED"
  | "SESSION_TOO_SHORT"
  | "CERTIFICATE_INVALID"
  | "CERTIFICATE_EXPIRED"
  | "CERTIFICATE_UNTRUSTED"
  | "KEY_MISMATCH"
  | "KEY_PASSPHRASE"
  | "PKCS11_FAILED"
  | "PKCS11_PIN_INCORRECT"
  | "IOT_THING_NOT_ATTACHED"
  | "ACCESS_DENIED"
  | "LOGIN_REQUIRED"
  | "LOGIN_CACHE_INVALID";

/** Context attached to an error; never holds a secret. */
export interface RefreshSessionErrorContext {
  /** The credential source, e.g. `sts:arn:aws:iam::123456789012:role/etl`. */
  source?: string | undefined;
  /** The profile in play, if any. */
  profile?: string | undefined;
  /** When the last credential expires or expired. */
  expiration?: Date | undefined;
}

/**
 * Codes whose message already says exactly what happened and what to run (an SSO session that needs a new login, a
 * broken SSO config or cache file, a profile or config file to fix, a certificate to renew, a key that does not
 * match it, a wrong PIN): anything that wraps a failure (the refresh engine) hands these on as they are.
 */
const ACTIONABLE_CODES: ReadonlySet<RefreshSessionErrorCode> = new Set<RefreshSessionErrorCode>([
  "SSO_LOGIN_REQUIRED",
  "SSO_CONFIG_INVALID",
  "SSO_CACHE_INVALID",
  "CONFIG_INVALID",
  "PROFILE_NOT_FOUND",
  "PROFILE_UNSUPPORTED",
  "CERTIFICATE_INVALID",
  "CERTIFICATE_EXPIRED",
  "CERTIFICATE_UNTRUSTED",
  "KEY_MISMATCH",
  "KEY_PASSPHRASE",
  "PKCS11_FAILED",
  "PKCS11_PIN_INCORRECT",
  "IOT_THING_NOT_ATTACHED",
  "ACCESS_DENIED",
  "LOGIN_REQUIRED",
  "LOGIN_CACHE_INVALID",
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

/** A short message for an unknown thrown value, safe to show (errors from this library never hold secrets). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
