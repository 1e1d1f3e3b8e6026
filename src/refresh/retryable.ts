import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import { RefreshSessionError } from "../errors.js";

/** How deep into `cause` chains a source's error is looked at (wrappers such as SOURCE_FAILED keep the SDK's error). */
const MAX_CAUSE_DEPTH = 5;

type Classifiable = Parameters<typeof isThrottlingError>[0];

/**
 * Whether a source's failure is one a retry may cure: throttling, a 5xx, a timeout (ours or the HTTP client's), a
 * reset or refused connection. The SDK's own classification decides (`@smithy/core/retry`, what its retry strategies
 * use), looking through `cause` chains. Errors that already say what to do (an SSO login needed, a broken config) and
 * anything else (AccessDenied, a malformed answer, a bad option) are not retried at start-up: they fail at once.
 *
 * @example
 * ```ts
 * isRetryableSourceError(Object.assign(new Error("Rate exceeded"), { name: "Throttling" })); // true
 * ```
 */
export function isRetryableSourceError(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && e !== null && typeof e === "object"; depth++) {
    if (e instanceof RefreshSessionError && e.actionable) return false;
    const c = e as Classifiable;
    if (isThrottlingError(c) || isTransientError(c) || isServerError(c)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
