/**
 * What a `RefreshableSession` is given: the options every method shares, the keys each method accepts, and the checks
 * made before anything is built, so that a typo or a wrong type fails at construction and names the option.
 */
import type { Logger } from "@smithy/types";
import type { ExpiredTokenRecoveryOptions } from "../middleware/expiredTokenRecoveryMiddleware.js";
import type { RefreshableOptions } from "../refresh/types.js";
import { allKeys, refuseUnknownKeys } from "../util/optionKeys.js";
import { METHOD_KEYS, methods, type MethodFactory, type MethodOptions } from "./methods.js";

/** Options every method shares. */
export interface SessionCommonOptions {
  /** Region for the clients the session creates. Default: the source's (an SSO profile's), else the SDK's resolution. */
  region?: string;
  /** Engine options: windows, mode, jitter, clock, retry. See {@link RefreshableOptions}. */
  refresh?: Omit<RefreshableOptions, "logger">;
  /** Client cache: `{ maxSize }` (default 64) or `false` to build a new client on every `client()` call. */
  clientCache?: { maxSize?: number } | false;
  /** The SDK's Logger interface; used by the engine and passed to every client. Default: silent. */
  logger?: Logger;
  /**
   * ExpiredToken recovery on every `client()`: options of {@link getExpiredTokenRecoveryPlugin} (its `onRecovered` and
   * `onUnrecovered` are called besides the session's events), or `false` to leave clients without it. Default `{}`.
   */
  recovery?: Omit<ExpiredTokenRecoveryOptions, "logger"> | false;
  /**
   * One clock offset to AWS shared by the session: learnt from every response's `Date`, used in expiry decisions and
   * by every client. `{ thresholdMs }` (default 60000) sets when `clock-skew` fires; `false` turns it off.
   */
  clockSkew?: { thresholdMs?: number } | false;
}

/** Options of {@link RefreshableSession}: a `method` with its own options, plus the common ones. */
export type RefreshableSessionOptions = MethodOptions & SessionCommonOptions;

export const COMMON_KEYS = allKeys<SessionCommonOptions>()([
  "region",
  "refresh",
  "clientCache",
  "logger",
  "recovery",
  "clockSkew",
]);
/** The engine options a session passes on (`logger` is the session's own). */
const REFRESH_KEYS = allKeys<NonNullable<SessionCommonOptions["refresh"]>>()([
  "mode",
  "advisoryMs",
  "mandatoryMs",
  "jitter",
  "clock",
  "name",
  "retryBaseMs",
  "maxRetryMs",
  "spread",
  "timers",
  "sourceTimeoutMs",
  "firstFetchTimeoutMs",
]);
/**
 * Checks a session's options up front: the method is known, no key is unknown for it (a typo such as `regoin` or
 * `refresh: { advisory }` must not be ignored), and the common options have their types. Throws a `TypeError` or
 * `RangeError` naming the option; returns the method and the factory that builds its source.
 *
 * @example
 * ```ts
 * const { method } = checkSessionOptions({ method: "sts", assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/etl" } });
 * ```
 */
export function checkSessionOptions(options: RefreshableSessionOptions): { method: string; factory: MethodFactory } {
  if (options === null || typeof options !== "object") {
    throw new TypeError("`options` must be an object with a `method`");
  }
  const method = (options as { method?: unknown }).method;
  const factory = typeof method === "string" && Object.hasOwn(methods, method) ? methods[method] : undefined;
  if (!factory) {
    throw new TypeError(
      `\`method\` must be one of ${Object.keys(methods)
        .map((m) => JSON.stringify(m))
        .join(", ")}; got ${JSON.stringify(method)}`,
    );
  }
  // A typo (`regoin`, `refresh: { advisory }`) must not be ignored silently.
  refuseUnknownKeys(
    options,
    ["method", ...COMMON_KEYS, ...(METHOD_KEYS[method as string] ?? [])],
    `for method "${String(method)}"`,
  );
  if (options.refresh !== undefined) {
    if (options.refresh === null || typeof options.refresh !== "object") {
      throw new TypeError("`refresh` must be an object of engine options");
    }
    refuseUnknownKeys(options.refresh, REFRESH_KEYS, "in `refresh`");
  }
  if (options.region !== undefined && (typeof options.region !== "string" || options.region === "")) {
    throw new TypeError("`region` must be a non-empty string");
  }
  if (options.clientCache !== undefined && options.clientCache !== false) {
    const max = options.clientCache?.maxSize;
    if (typeof options.clientCache !== "object" || (max !== undefined && !(Number.isInteger(max) && max >= 1))) {
      throw new RangeError("`clientCache.maxSize` must be an integer >= 1 (or pass `clientCache: false`)");
    }
  }
  if (options.recovery !== undefined && options.recovery !== false && typeof options.recovery !== "object") {
    throw new TypeError("`recovery` must be an options object or false");
  }
  if (options.clockSkew !== undefined && options.clockSkew !== false && typeof options.clockSkew !== "object") {
    throw new TypeError("`clockSkew` must be an options object or false");
  }
  return { method: method as string, factory };
}
