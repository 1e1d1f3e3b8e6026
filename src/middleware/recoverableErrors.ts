/**
 * Error codes with which an AWS service says "the credential that signed this request is no longer valid". The request
 * was refused at authentication, before the service acted on it, so replaying it once with a new credential is safe
 * for any operation, idempotent or not.
 *
 * - `ExpiredToken`: the session token expired or was revoked (STS, S3 and the other XML/Query services).
 * - `ExpiredTokenException`: the same, in the JSON-protocol services (DynamoDB, Kinesis, CloudWatch Logs, ECS…).
 * - `TokenRefreshRequired`: S3: "The provided token must be refreshed."
 * - `RequestExpired`: EC2 and other Query services: the credential expired, or the signature's date is more than 15
 *   minutes old. The SDK for Go v1 treats it as expired credentials too.
 *
 * @example
 * ```ts
 * import { EXPIRED_CREDENTIAL_ERROR_CODES } from "aws-refresh-session";
 * EXPIRED_CREDENTIAL_ERROR_CODES.includes("ExpiredToken"); // true
 * ```
 */
export const EXPIRED_CREDENTIAL_ERROR_CODES: readonly string[] = Object.freeze([
  "ExpiredToken",
  "ExpiredTokenException",
  "TokenRefreshRequired",
  "RequestExpired",
]);

/**
 * Error codes with which a service says "this signature is too old (or too new)": the request sat in a queue, a socket
 * pool or a backoff loop between signing and sending, or the clock was off. The credential is fine; signing the request
 * again (with the clock offset the SDK and the session have just corrected) is the cure, so no refresh is forced.
 *
 * - `RequestTimeTooSkewed`: S3: X-Amz-Date more than 15 minutes from the server's clock.
 * - `RequestInTheFuture`: Query services: the signature's date is ahead of the server's clock.
 * - `SignatureDoesNotMatch` and `InvalidSignatureException` only when the message begins `Signature expired` or
 *   `Signature not yet current`: that is how STS and the JSON services word the same condition (a real signature
 *   mismatch is never replayed).
 *
 * @example
 * ```ts
 * import { EXPIRED_SIGNATURE_ERROR_CODES } from "aws-refresh-session";
 * EXPIRED_SIGNATURE_ERROR_CODES.includes("RequestTimeTooSkewed"); // true
 * ```
 */
export const EXPIRED_SIGNATURE_ERROR_CODES: readonly string[] = Object.freeze([
  "RequestTimeTooSkewed",
  "RequestInTheFuture",
  "SignatureDoesNotMatch",
  "InvalidSignatureException",
]);

const SIGNATURE_TIME_MESSAGE = /^Signature (expired|not yet current)\b/;
/** Codes whose meaning depends on the message: only their "signature expired" form is recoverable. */
const MESSAGE_QUALIFIED = new Set(["SignatureDoesNotMatch", "InvalidSignatureException"]);

/**
 * How a failed request is recovered: `credential` (refresh, then replay) or `signature` (replay re-signed).
 *
 * @example
 * ```ts
 * session.on("recovered", (e) => e.kind === "signature" && log.warn("a request waited more than 15 min to be sent"));
 * ```
 */
export type RecoveryKind = "credential" | "signature";

/** A recognised failure: the code to report and what cures it. Internal. */
export interface RecoverableFailure {
  code: string;
  kind: RecoveryKind;
  /** A HEAD answered 400 without a body: most likely an expired token, but S3 cannot say so on a HEAD. */
  guessed: boolean;
}

interface ErrorShape {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** The service's error code, as the SDK exposes it (`name`, or `Code` on XML errors). */
export function serviceErrorCode(err: unknown): string | undefined {
  if (err === null || typeof err !== "object") return undefined;
  const e = err as ErrorShape;
  for (const v of [e.Code, e.name, e.code]) if (typeof v === "string" && v !== "" && v !== "Error") return v;
  return undefined;
}

/**
 * Classifies an SDK error: a recognised expired-credential or expired-signature failure, or undefined. `codes` are the
 * expired-credential codes in force; `signatureCodes` the expired-signature ones. A HEAD request answered 400 with no
 * error code (S3 HeadObject/HeadBucket cannot carry one) counts as an expired credential when `headRequests` is set.
 */
export function classifyFailure(
  err: unknown,
  options: {
    codes: ReadonlySet<string>;
    signatureCodes: ReadonlySet<string>;
    headRequests: boolean;
    commandName: string | undefined;
  },
): RecoverableFailure | undefined {
  const code = serviceErrorCode(err);
  if (code === undefined) return undefined;
  if (options.codes.has(code)) return { code, kind: "credential", guessed: false };
  if (options.signatureCodes.has(code)) {
    if (!MESSAGE_QUALIFIED.has(code)) return { code, kind: "signature", guessed: false };
    const message = (err as ErrorShape).message;
    if (typeof message === "string" && SIGNATURE_TIME_MESSAGE.test(message)) {
      return { code, kind: "signature", guessed: false };
    }
    return undefined;
  }
  const status = (err as ErrorShape).$metadata?.httpStatusCode;
  if (
    options.headRequests &&
    status === 400 &&
    (code === "Unknown" || code === "BadRequest" || code === "400") &&
    options.commandName?.startsWith("Head")
  ) {
    return { code: "ExpiredToken", kind: "credential", guessed: true };
  }
  return undefined;
}
