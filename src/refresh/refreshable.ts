import type { AwsCredentialIdentity, Logger } from "@smithy/types";
import { RefreshSessionError, describeTime, errorMessage } from "../errors.js";
import { redactKeyId } from "./redact.js";

/** Start a background refresh this long before expiry (clamped to half the credential's issued lifetime). */
export const DEFAULT_ADVISORY_MS = 15 * 60_000;
/** Make callers wait for a refresh this long before expiry (clamped to a quarter of the issued lifetime). */
export const DEFAULT_MANDATORY_MS = 10 * 60_000;
/** Fraction of the span between the advisory and mandatory windows over which the background refresh is spread. */
export const DEFAULT_JITTER = 0.5;
/** First retry delay after a failed refresh; doubles per failure up to {@link DEFAULT_MAX_RETRY_MS}. */
export const DEFAULT_RETRY_BASE_MS = 1_000;
/** Longest delay between two retries of a failing source. */
export const DEFAULT_MAX_RETRY_MS = 60_000;
/** Once no valid credential is left, callers fail fast for this long after a failed refresh instead of retrying. */
export const DEFAULT_EXPIRED_RETRY_MS = 1_000;
/** Shortest delay the engine ever schedules, so a misbehaving source cannot make it spin. */
const MIN_TIMER_MS = 25;

/** A source of credentials: any SDK v3 credential provider or an async function of your own. */
export type CredentialSource = (() => Promise<AwsCredentialIdentity>) & { readonly sourceName?: string };

/** Where the engine reads the time. Inject one to fake it in tests or to correct for clock skew. */
export interface Clock {
  now(): number;
}

/** Options of {@link refreshable}. */
export interface RefreshableOptions {
  /**
   * `"eager"` (default) refreshes on a timer at a jittered time inside the advisory window; `"deferred"` refreshes
   * only when a caller arrives inside it (the caller is answered at once with the current credential).
   */
  mode?: "eager" | "deferred";
  /** Start a background refresh this many ms before expiry. Default 900000 (15 min); clamped to lifetime/2. */
  advisoryMs?: number;
  /** Callers wait for a refresh this many ms before expiry. Default 600000 (10 min); clamped to lifetime/4. */
  mandatoryMs?: number;
  /** 0..1: how much of the advisory-to-mandatory span the background refresh time is spread over. Default 0.5. */
  jitter?: number;
  /** Time source. Default `Date`. */
  clock?: Clock;
  /** The SDK's Logger interface. Default: silent. */
  logger?: Logger;
  /** Name of the source in errors, events and metrics. Default: the source's `sourceName`, else its function name. */
  name?: string;
  /** First retry delay after a failure (ms). Default 1000. */
  retryBaseMs?: number;
  /** Longest delay between retries (ms). Default 60000. */
  maxRetryMs?: number;
}

/** Payload of the `refresh` event. Holds no secret. */
export interface RefreshEvent {
  source: string;
  /** Last four characters of the new access key id, masked: `****WXYZ`. */
  accessKeyId: string;
  expiration: Date | undefined;
  /** How long the source call took. */
  durationMs: number;
  /** `true` when {@link RefreshableCredentials.refresh} asked for it. */
  forced: boolean;
  /** `true` when the source returned the credential it had already returned. */
  unchanged: boolean;
}

/** Payload of the `refresh-failed` event. */
export interface RefreshFailedEvent {
  source: string;
  error: Error;
  consecutiveFailures: number;
  /** Expiry of the credential still being served, if any. */
  expiration: Date | undefined;
  /** Whether the current credential is still valid (static stability keeps serving it). */
  stillValid: boolean;
  /** When the engine retries on its own; undefined when it waits for a caller. */
  nextRetryAt: Date | undefined;
}

/** Payload of the `expired` event: the served credential expired with no replacement. */
export interface ExpiredEvent {
  source: string;
  expiration: Date;
  lastError: Error | undefined;
}

/** Events emitted by the engine. */
export interface RefreshableEvents {
  refresh: RefreshEvent;
  "refresh-failed": RefreshFailedEvent;
  expired: ExpiredEvent;
}

/** A snapshot of the engine's state. */
export interface RefreshMetrics {
  source: string;
  /** Successful source calls. */
  refreshes: number;
  /** Failed source calls (including ones that returned an invalid or already-expired credential). */
  refreshFailures: number;
  consecutiveFailures: number;
  /** Callers that had to wait for a source call (first fetch, mandatory window, expired). */
  waits: number;
  /** Expiry of the credential being served; undefined before the first fetch and for static credentials. */
  expiration: Date | undefined;
  lastRefreshAt: Date | undefined;
  /** When the engine will call the source next on its own (eager mode, or a retry after a failure). */
  nextRefreshAt: Date | undefined;
  lastError: Error | undefined;
  /** Windows in force for the current credential, after clamping. */
  advisoryMs: number | undefined;
  mandatoryMs: number | undefined;
}

/** A listener for one of the engine's events. */
export type RefreshListener<E extends keyof RefreshableEvents> = (event: RefreshableEvents[E]) => void;

/**
 * What {@link refreshable} returns: an SDK v3 credential provider (pass it as any client's `credentials`) with
 * controls attached.
 */
export interface RefreshableCredentials {
  (options?: { forceRefresh?: boolean }): Promise<AwsCredentialIdentity>;
  /** Force a refresh now, joining one already in flight. Rejects if the source fails (the old credential stays). */
  refresh(): Promise<AwsCredentialIdentity>;
  metrics(): RefreshMetrics;
  /** Subscribe to an event; returns a function that unsubscribes. */
  on<E extends keyof RefreshableEvents>(event: E, listener: RefreshListener<E>): () => void;
  /** Stop every timer. Later calls reject with code `CLOSED`. */
  close(): void;
  /** The credential currently held, without refreshing or waiting; undefined when none is valid. */
  peek(): AwsCredentialIdentity | undefined;
  readonly sourceName: string;
  /** Marks the provider as memoized so the SDK does not wrap it in its own lazy cache. */
  readonly memoized: true;
  readonly refreshable: true;
}

interface Held {
  identity: AwsCredentialIdentity;
  expiresAt: number | undefined;
  /** When this exact credential was first received: the base of its issued lifetime. */
  receivedAt: number;
  advisoryMs: number;
  mandatoryMs: number;
}

function validateMs(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`\`${name}\` must be a finite number of milliseconds >= 0, got ${String(value)}`);
  }
}

/** Validates {@link RefreshableOptions}; throws TypeError/RangeError naming the option. */
export function validateRefreshableOptions(options: RefreshableOptions): void {
  if (options === null || typeof options !== "object") throw new TypeError("`options` must be an object");
  if (options.mode !== undefined && options.mode !== "eager" && options.mode !== "deferred") {
    throw new TypeError(`\`mode\` must be "eager" or "deferred", got ${JSON.stringify(options.mode)}`);
  }
  validateMs("advisoryMs", options.advisoryMs);
  validateMs("mandatoryMs", options.mandatoryMs);
  validateMs("retryBaseMs", options.retryBaseMs);
  validateMs("maxRetryMs", options.maxRetryMs);
  const advisory = options.advisoryMs ?? DEFAULT_ADVISORY_MS;
  const mandatory = options.mandatoryMs ?? DEFAULT_MANDATORY_MS;
  if (mandatory > advisory) {
    throw new RangeError(`\`mandatoryMs\` (${mandatory}) must not be greater than \`advisoryMs\` (${advisory})`);
  }
  if (
    options.jitter !== undefined &&
    (typeof options.jitter !== "number" || !(options.jitter >= 0 && options.jitter <= 1))
  ) {
    throw new RangeError(`\`jitter\` must be a number from 0 to 1, got ${String(options.jitter)}`);
  }
  if (options.clock !== undefined && typeof options.clock?.now !== "function") {
    throw new TypeError("`clock` must be an object with a `now()` method");
  }
  if (options.name !== undefined && typeof options.name !== "string") throw new TypeError("`name` must be a string");
}

/** Checks what a source returned; throws a clear error naming the missing or wrong field. */
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

const noop = (): void => {};

/** A source's error that already says what to run (see `RefreshSessionError.actionable`), handed on as it is. */
function passThrough(err: unknown): RefreshSessionError | undefined {
  return err instanceof RefreshSessionError && err.actionable ? err : undefined;
}

/**
 * Wraps a credential source in an engine that refreshes it in the background, ahead of expiry.
 *
 * - eager mode (default): a timer refreshes at a jittered time inside the advisory window;
 * - inside the mandatory window callers wait for the one refresh in flight;
 * - a failed refresh keeps serving the still-valid credential and retries with backoff (static stability);
 * - an expired credential is never handed out: callers get `RefreshSessionError` `CREDENTIALS_EXPIRED` instead.
 *
 * @example
 * ```ts
 * import { S3Client } from "@aws-sdk/client-s3";
 * import { fromIni } from "@aws-sdk/credential-providers";
 * import { refreshable } from "aws-refresh-session";
 *
 * const credentials = refreshable(fromIni({ profile: "dev" }));
 * const s3 = new S3Client({ credentials });
 * credentials.on("refresh-failed", (e) => console.warn(`refresh failed, serving until ${e.expiration}`));
 * ```
 */
export function refreshable(source: CredentialSource, options: RefreshableOptions = {}): RefreshableCredentials {
  if (typeof source !== "function") {
    throw new TypeError(`\`source\` must be a function returning a Promise of credentials, got ${typeof source}`);
  }
  validateRefreshableOptions(options);
  const mode = options.mode ?? "eager";
  const advisoryOpt = options.advisoryMs ?? DEFAULT_ADVISORY_MS;
  const mandatoryOpt = options.mandatoryMs ?? DEFAULT_MANDATORY_MS;
  const jitter = options.jitter ?? DEFAULT_JITTER;
  const clock: Clock = options.clock ?? Date;
  const retryBase = options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
  const maxRetry = Math.max(options.maxRetryMs ?? DEFAULT_MAX_RETRY_MS, retryBase);
  const logger: Logger = options.logger ?? { debug: noop, info: noop, warn: noop, error: noop };
  const name = options.name ?? source.sourceName ?? (source.name || "custom");

  let held: Held | undefined;
  let inflight: Promise<AwsCredentialIdentity> | undefined;
  let closed = false;
  let refreshTimer: NodeJS.Timeout | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  let nextRefreshAt: number | undefined;
  /** Callers inside the mandatory window do not start a new source call before this (backoff after a failure). */
  let retryNotBefore = 0;
  let lastFailureAt: number | undefined;
  /** Message of the last failure, to tell a repeat from a new problem when logging. */
  let previousFailureMessage: string | undefined;
  let expiredEmittedFor: number | undefined;
  /** Refreshes in a row that returned the credential already held. */
  let unchangedStreak = 0;
  const m = { refreshes: 0, refreshFailures: 0, consecutiveFailures: 0, waits: 0 };
  let lastRefreshAt: number | undefined;
  let lastError: Error | undefined;
  const listeners: { [E in keyof RefreshableEvents]: Set<RefreshListener<E>> } = {
    refresh: new Set(),
    "refresh-failed": new Set(),
    expired: new Set(),
  };

  function emit<E extends keyof RefreshableEvents>(event: E, payload: RefreshableEvents[E]): void {
    for (const fn of listeners[event]) {
      try {
        fn(payload);
      } catch (err) {
        logger.error(`aws-refresh-session: a "${event}" listener threw: ${errorMessage(err)}`);
      }
    }
  }

  function isValid(h: Held | undefined, now: number): h is Held {
    return h !== undefined && (h.expiresAt === undefined || h.expiresAt > now);
  }

  function clearTimer(t: NodeJS.Timeout | undefined): undefined {
    if (t) clearTimeout(t);
    return undefined;
  }

  function schedule(at: number, reason: string): void {
    refreshTimer = clearTimer(refreshTimer);
    if (closed) return;
    const delay = Math.max(MIN_TIMER_MS, at - clock.now());
    nextRefreshAt = clock.now() + delay;
    refreshTimer = setTimeout(() => {
      refreshTimer = undefined;
      nextRefreshAt = undefined;
      logger.debug(`aws-refresh-session: ${reason} refresh of "${name}"`);
      start(false).catch(noop);
    }, delay);
    refreshTimer.unref();
  }

  function scheduleExpiry(h: Held): void {
    expiryTimer = clearTimer(expiryTimer);
    if (closed || h.expiresAt === undefined) return;
    const at = h.expiresAt;
    expiryTimer = setTimeout(
      () => {
        expiryTimer = undefined;
        if (held === h && !isValid(h, clock.now())) emitExpired(h);
        else if (held === h) scheduleExpiry(h);
      },
      Math.max(MIN_TIMER_MS, at - clock.now() + 1),
    );
    expiryTimer.unref();
  }

  function emitExpired(h: Held): void {
    if (h.expiresAt === undefined || expiredEmittedFor === h.expiresAt) return;
    expiredEmittedFor = h.expiresAt;
    logger.error(
      `aws-refresh-session: credentials from "${name}" expired at ${new Date(h.expiresAt).toISOString()} ` +
        `and could not be refreshed${lastError ? `: ${lastError.message}` : ""}`,
    );
    emit("expired", { source: name, expiration: new Date(h.expiresAt), lastError });
  }

  function windowsFor(expiresAt: number, receivedAt: number): { advisoryMs: number; mandatoryMs: number } {
    const lifetime = Math.max(0, expiresAt - receivedAt);
    return {
      advisoryMs: Math.min(advisoryOpt, lifetime / 2),
      mandatoryMs: Math.min(mandatoryOpt, lifetime / 4),
    };
  }

  /** When the background refresh of `h` should happen: jittered between the advisory and mandatory bounds. */
  function backgroundRefreshAt(h: Held): number {
    const expiresAt = h.expiresAt as number;
    const span = Math.max(0, h.advisoryMs - h.mandatoryMs);
    return expiresAt - h.advisoryMs + Math.random() * jitter * span;
  }

  /** Backoff before attempt `attempt` (1 = first retry) of a source that failed or returned no new credential. */
  function retryDelay(now: number, attempt: number): number {
    const exp = Math.min(maxRetry, retryBase * 2 ** Math.max(0, attempt - 1));
    // Half to full of the backoff, so a fleet whose source failed together does not retry together.
    let delay = exp * (0.5 + Math.random() * 0.5);
    if (held?.expiresAt !== undefined && held.expiresAt > now) {
      // Every retry lands before expiry: never wait more than half of what is left.
      delay = Math.min(delay, (held.expiresAt - now) / 2);
    }
    return Math.max(MIN_TIMER_MS, delay);
  }

  async function callSource(forced: boolean): Promise<AwsCredentialIdentity> {
    const startedAt = clock.now();
    let identity: AwsCredentialIdentity;
    try {
      identity = checkIdentity(await source(), name);
      const expiresAt = identity.expiration?.getTime();
      const now = clock.now();
      if (expiresAt !== undefined && expiresAt <= now) {
        throw new RefreshSessionError(
          "INVALID_CREDENTIALS",
          `Credential source "${name}" returned a credential that had already expired at ` +
            `${describeTime(identity.expiration, now)}; check the source and the local clock`,
          { source: name, expiration: identity.expiration },
        );
      }
    } catch (err) {
      onFailure(err);
      throw lastError;
    }
    if (closed) return identity;
    const now = clock.now();
    const expiresAt = identity.expiration?.getTime();
    const unchanged =
      held !== undefined && held.identity.accessKeyId === identity.accessKeyId && held.expiresAt === expiresAt;
    // A source that hands back the same credential (a cache, IMDS before it rotates) must not shrink its lifetime.
    // A new one's lifetime counts from its arrival, read after the call: a clock corrected for skew during the call
    // (from the source's own response) then measures it in the same time as its expiry.
    const receivedAt = unchanged && held ? held.receivedAt : now;
    const windows = expiresAt === undefined ? { advisoryMs: 0, mandatoryMs: 0 } : windowsFor(expiresAt, receivedAt);
    held = { identity, expiresAt, receivedAt, ...windows };
    m.refreshes++;
    m.consecutiveFailures = 0;
    previousFailureMessage = undefined;
    lastRefreshAt = now;
    lastError = undefined;
    lastFailureAt = undefined;
    emit("refresh", {
      source: name,
      accessKeyId: redactKeyId(identity.accessKeyId),
      expiration: identity.expiration,
      durationMs: now - startedAt,
      forced,
      unchanged,
    });
    refreshTimer = clearTimer(refreshTimer);
    nextRefreshAt = undefined;
    if (expiresAt !== undefined) {
      scheduleExpiry(held);
      const at = backgroundRefreshAt(held);
      if (unchanged && at <= now) {
        // Still the old credential and already inside the window: try again later, not in a tight loop.
        unchangedStreak++;
        retryNotBefore = now + retryDelay(now, unchangedStreak);
        schedule(retryNotBefore, "repeat");
      } else {
        unchangedStreak = 0;
        retryNotBefore = 0;
        if (mode === "eager") schedule(at, "scheduled");
      }
    } else {
      expiryTimer = clearTimer(expiryTimer);
    }
    return identity;
  }

  function onFailure(err: unknown): void {
    const now = clock.now();
    const error =
      err instanceof RefreshSessionError
        ? err
        : new RefreshSessionError("SOURCE_FAILED", `Credential source "${name}" failed: ${errorMessage(err)}`, {
            source: name,
            expiration: held?.identity.expiration,
            cause: err,
          });
    m.refreshFailures++;
    m.consecutiveFailures++;
    lastError = error;
    lastFailureAt = now;
    const stillValid = isValid(held, now);
    let nextRetry: number | undefined;
    if (!closed && held !== undefined && held.expiresAt !== undefined) {
      nextRetry = now + retryDelay(now, m.consecutiveFailures);
      retryNotBefore = nextRetry;
      schedule(nextRetry, "retry");
    }
    // A source that keeps failing the same way (an SSO login nobody approved yet) is retried often; log the 1st,
    // 2nd, 4th, 8th… repeat at full level and the rest at debug, so the log shows it without drowning in it.
    const sameAsBefore = previousFailureMessage === error.message;
    previousFailureMessage = error.message;
    const n = m.consecutiveFailures;
    const level = sameAsBefore && (n & (n - 1)) !== 0 ? "debug" : stillValid ? "warn" : "error";
    logger[level](
      `aws-refresh-session: refresh of "${name}" failed (${n} in a row): ${error.message.replace(/[.;:,]\s*$/, "")}` +
        (held?.identity.expiration
          ? `; ${stillValid ? "still serving the credential that expires" : "the credential expired"} ` +
            describeTime(held.identity.expiration, now)
          : ""),
    );
    emit("refresh-failed", {
      source: name,
      error,
      consecutiveFailures: m.consecutiveFailures,
      expiration: held?.identity.expiration,
      stillValid,
      nextRetryAt: nextRetry === undefined ? undefined : new Date(nextRetry),
    });
    if (held && !stillValid) emitExpired(held);
  }

  function start(forced: boolean): Promise<AwsCredentialIdentity> {
    if (closed) return Promise.reject(closedError());
    if (!inflight) {
      const p = callSource(forced).finally(() => {
        if (inflight === p) inflight = undefined;
      });
      inflight = p;
    }
    return inflight;
  }

  function closedError(): RefreshSessionError {
    return new RefreshSessionError("CLOSED", `Credentials from "${name}" were closed; create a new session`, {
      source: name,
    });
  }

  function expiredError(now: number): RefreshSessionError {
    const exp = held?.identity.expiration;
    const specific = passThrough(lastError);
    if (specific) return specific;
    return new RefreshSessionError(
      "CREDENTIALS_EXPIRED",
      `No valid AWS credentials from "${name}": the last credential expired at ${describeTime(exp, now)} and ` +
        `refreshing failed${lastError ? ` (${lastError.message})` : ""}. ` +
        "Check that the source is reachable and its own credentials are valid; the engine keeps retrying.",
      { source: name, expiration: exp, cause: lastError },
    );
  }

  async function waitForRefresh(): Promise<AwsCredentialIdentity> {
    m.waits++;
    try {
      return await start(false);
    } catch (err) {
      const now = clock.now();
      if (isValid(held, now)) return held.identity; // static stability
      if (held === undefined) {
        throw (err instanceof RefreshSessionError && err.code === "CLOSED") || passThrough(err)
          ? err
          : new RefreshSessionError(
              "SOURCE_FAILED",
              `Could not get AWS credentials from "${name}": ${errorMessage(err)}`,
              { source: name, cause: err },
            );
      }
      throw expiredError(now);
    }
  }

  async function get(): Promise<AwsCredentialIdentity> {
    if (closed) throw closedError();
    const now = clock.now();
    const h = held;
    if (h === undefined) {
      if (inflight) return waitForRefresh();
      if (lastFailureAt !== undefined && now - lastFailureAt < DEFAULT_EXPIRED_RETRY_MS && lastError) {
        const specific = passThrough(lastError);
        if (specific) throw specific;
        throw new RefreshSessionError(
          "SOURCE_FAILED",
          `Could not get AWS credentials from "${name}": ${lastError.message}`,
          { source: name, cause: lastError },
        );
      }
      return waitForRefresh();
    }
    if (h.expiresAt === undefined) return h.identity;
    const remaining = h.expiresAt - now;
    if (remaining > h.advisoryMs) return h.identity;
    if (remaining > h.mandatoryMs) {
      // Advisory window: answer at once, refresh in the background (deferred mode, or a timer that fired late).
      // In eager mode a caller never pre-empts the jittered timer: that would undo the fleet-wide spread.
      const timerDue = mode === "deferred" || nextRefreshAt === undefined || now >= nextRefreshAt;
      if (!inflight && now >= retryNotBefore && timerDue) start(false).catch(noop);
      return h.identity;
    }
    if (remaining > 0) {
      if (inflight) return waitForRefresh();
      if (now < retryNotBefore) return h.identity; // the source failed recently; its retry is scheduled
      return waitForRefresh();
    }
    if (inflight) return waitForRefresh();
    if (lastFailureAt !== undefined && now - lastFailureAt < DEFAULT_EXPIRED_RETRY_MS) throw expiredError(now);
    return waitForRefresh();
  }

  const fn = ((opts?: { forceRefresh?: boolean }) =>
    opts?.forceRefresh ? forceRefresh() : get()) as RefreshableCredentials;

  async function forceRefresh(): Promise<AwsCredentialIdentity> {
    return start(true);
  }

  Object.defineProperties(fn, {
    memoized: { value: true, enumerable: true },
    refreshable: { value: true },
    sourceName: { value: name, enumerable: true },
    refresh: { value: forceRefresh },
    metrics: {
      value: (): RefreshMetrics => ({
        source: name,
        ...m,
        expiration: held?.identity.expiration,
        lastRefreshAt: lastRefreshAt === undefined ? undefined : new Date(lastRefreshAt),
        nextRefreshAt: nextRefreshAt === undefined ? undefined : new Date(nextRefreshAt),
        lastError,
        advisoryMs: held?.expiresAt === undefined ? undefined : held.advisoryMs,
        mandatoryMs: held?.expiresAt === undefined ? undefined : held.mandatoryMs,
      }),
    },
    on: {
      value: <E extends keyof RefreshableEvents>(event: E, listener: RefreshListener<E>) => {
        const set = listeners[event] as Set<RefreshListener<E>> | undefined;
        if (!set)
          throw new TypeError(`Unknown event ${JSON.stringify(event)}; use ${Object.keys(listeners).join(", ")}`);
        if (typeof listener !== "function") throw new TypeError("`listener` must be a function");
        set.add(listener);
        return () => set.delete(listener);
      },
    },
    close: {
      value: () => {
        closed = true;
        refreshTimer = clearTimer(refreshTimer);
        expiryTimer = clearTimer(expiryTimer);
        nextRefreshAt = undefined;
      },
    },
    peek: { value: () => (isValid(held, clock.now()) ? held?.identity : undefined) },
    [Symbol.for("nodejs.util.inspect.custom")]: {
      value: () => `RefreshableCredentials { source: ${JSON.stringify(name)} }`,
    },
  });
  return fn;
}

/** True when `value` was made by {@link refreshable}. */
export function isRefreshable(value: unknown): value is RefreshableCredentials {
  return typeof value === "function" && (value as { refreshable?: unknown }).refreshable === true;
}
