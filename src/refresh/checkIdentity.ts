import type { AwsCredentialIdentity } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";

/**
 * Checks what a source returned; throws `INVALID_CREDENTIALS` naming the missing or wrong field.
 *
 * @example
 * ```ts
 * const identity = checkIdentity(await mySource(), "vault");
 * ```
 */
export function checkIdentity(value: unknown, source: string): AwsCredentialIdentity {
  if (value === null || typeof value !== "object") {
    throw new RefreshSessionError(
      "INVALID_CREDENTIALS",
      `Credential source "${source}" returned ${value === null ? "null" : typeof value}, not a credential object ` +
        "with accessKeyId, secretAccessKey, sessionToken? and expiration?",
      { source },
    );
  }
  const v = value as Record<string, unknown>;
  for (const field of ["accessKeyId", "secretAccessKey"] as const) {
    if (typeof v[field] !== "string" || v[field] === "") {
      throw new RefreshSessionError(
        "INVALID_CREDENTIALS",
        `Credential source "${source}" returned a credential without \`${field}\` (a non-empty string is required)`,
        { source },
      );
    }
  }
  if (v.sessionToken !== undefined && typeof v.sessionToken !== "string") {
    throw new RefreshSessionError(
      "INVALID_CREDENTIALS",
      `Credential source "${source}" returned a \`sessionToken\` that is not a string`,
      { source },
    );
  }
  if (v.expiration !== undefined && !(v.expiration instanceof Date && Number.isFinite(v.expiration.getTime()))) {
    throw new RefreshSessionError(
      "INVALID_CREDENTIALS",
      `Credential source "${source}" returned an \`expiration\` that is not a valid Date`,
      { source },
    );
  }
  return value as AwsCredentialIdentity;
}
