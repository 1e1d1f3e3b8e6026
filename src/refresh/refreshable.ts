/**
 * The engine: carries out the decisions of `decision.ts` with timers, one source call in flight, deadlines, events and
 * metrics. Types live in `types.ts`, defaults and option checks in `options.ts`. One file past ~400 lines: the held
 * credential, the call in flight, the timer and the counters are one closure's state, which every path (caller,
 * timer, forced refresh, close) reads and writes; the choices themselves are already pure functions in `decision.ts`.
 */
import type { AwsCredentialIdentity } from "@smithy/types";
import { RefreshSessionError, errorMessage } from "../errors.js";
import { describeTime } from "../util/timeText.js";
import type { CredentialSource } from "../types.js";
import { checkIdentity } from "./checkIdentity.js";
import { planAfterFailure, planAfterSuccess, serveDecision, windowsFor, type HeldCredential } from "./decision.js";
import {
  DEFAULT_EXPIRED_RETRY_MS,
  MIN_TIMER_MS,
  resolveRefreshableOptions,
  validateRefreshableOptions,
} from "./options.js";
import { RecoveryCoordinator } from "./recoveryCoordinator.js";
import { redactKeyId } from "./redact.js";
import { isRetryableSourceError } from "./retryable.js";
import type {
  EngineTimer,
  RefreshListener,
  RefreshMetrics,
  RefreshableCredentials,
  RefreshableEvents,
  RefreshableOptions,
} from "./types.js";

/** What started a source call. Only the engine's own on-time refreshes keep an engine's phase; the rest re-spread. */
type Reason = "scheduled" | "repeat" | "retry" | "caller" | "forced";

interface Held extends HeldCredential {
  identity: AwsCredentialIdentity;
}

/** A promise with its settlers, for callers waiting on a first fetch the engine is retrying. */
interface Waiters {
  promise: Promise<AwsCredentialIdentity>;
  resolve(identity: AwsCredentialIdentity): void;
  reject(err: unknown): void;
}

function waiters(): Waiters {
  let resolve!: (identity: AwsCredentialIdentity) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<AwsCredentialIdentity>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // nobody may be waiting when it fails
  return { promise, resolve, reject };
}

const noop = (): void => {};

/** A source's error that already says what to run (see `RefreshSessionError.actionable`), handed on as it is. */
function passThrough(err: unknown): RefreshSessionError | undefined {
  return err instanceof RefreshSessionError && err.actionable ? err : undefined;
}

/** Marks a source call that ran past its deadline, so the SDK's classification (and ours) sees a timeout. */
class SourceTimeoutError extends Error {
  override readonly name = "TimeoutError";
}

/**
 * Wraps a credential source in an engine that refreshes it in the background, ahead of expiry.
 *
 * - eager mode (default): a timer refreshes each credential at a fixed point of its life inside the advisory window,
 *   with jitter; the first credential's refresh (and any after a forced or failed one) is spread over its life, so a
 *   fleet started together refreshes evenly;
 * - inside the mandatory window callers wait for the one refresh in flight;
 * - every source call has a deadline (`sourceTimeoutMs`); past it, the call counts as failed;
 * - a failed refresh keeps serving the still-valid credential and retries with backoff (static stability);
 * - a first fetch that fails for a retryable reason (throttling, 5xx, timeout) is retried while callers wait, up to
 *   `firstFetchTimeoutMs`;
 * - an expired credential is never handed out: callers get `RefreshSessionError` `CREDENTIALS_EXPIRED` instead.
 *
 * @example
 * ```ts
 * import { S3Client } from "@aws-sdk/client-s3";
 * import { fromIni } from "@aws-sdk/credential-providers";
 * import { refreshable } from "aws-refresh-session";
 *
 * const credentials = refreshable(fromIni({ profile: "dev" }));
 * const s3 = new S3Client({ region: "us-east-1", credentials });
 * credentials.on("refresh-failed", (e) => console.warn(`refresh failed, serving until ${e.expiration}`));
 * ```
 */
export function refreshable(source: CredentialSource, options: RefreshableOptions = {}): RefreshableCredentials {
  if (typeof source !== "function") {
    throw new TypeError(`\`source\` must be a function returning a Promise of credentials, got ${typeof source}`);
  }
  validateRefreshableOptions(options);
  const o = resolveRefreshableOptions(options, source.sourceTimeoutMs);
  const { clock, timers, logger } = o;
  const name = options.name ?? source.sourceName ?? (source.name || "custom");

  let held: Held | undefined;
  let inflight: { promise: Promise<AwsCredentialIdentity>; cancel(err: unknown): void; keepAlive(): void } | undefined;
  let closed = false;
  let refreshTimer: EngineTimer | undefined;
  let expiryTimer: EngineTimer | undefined;
  let nextRefreshAt: number | undefined;
  /** Callers do not start a new source call before this (backoff after a failure). */
  let retryNotBefore = 0;
  /** When the first attempt of the current first fetch started (no credential held yet); undefined otherwise. */
  let firstFetchStartedAt: number | undefined;
  /** Callers of a first fetch that is being retried, and the deadline that releases them. */
  let firstFetch: { waiters: Waiters; deadline: EngineTimer | undefined } | undefined;
  /** Message of the last failure, to tell a repeat from a new problem when logging. */
  let previousFailureMessage: string | undefined;
  let expiredEmittedFor: number | undefined;
  /** Refreshes in a row that returned the credential already held. */
  let unchangedStreak = 0;
  const m = { refreshes: 0, refreshFailures: 0, timeouts: 0, consecutiveFailures: 0, waits: 0 };
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

  /**
   * Timers never keep a process alive on their own, except while a caller awaits what only they can deliver (the
   * retry of a first fetch, a source call's deadline): then an unref'ed timer would let Node exit mid-await, with
   * status 0 and no error, as if the work had succeeded.
   */
  function setTimer(fn: () => void, ms: number, keepAlive = false): EngineTimer {
    const t = timers.setTimeout(fn, ms);
    if (!keepAlive) t.unref?.();
    return t;
  }

  function clearTimer(t: EngineTimer | undefined): undefined {
    if (t) timers.clearTimeout(t);
    return undefined;
  }

  function schedule(at: number, reason: Reason, keepAlive = false): void {
    refreshTimer = clearTimer(refreshTimer);
    if (closed) return;
    const delay = Math.max(MIN_TIMER_MS, at - clock.now());
    nextRefreshAt = clock.now() + delay;
    refreshTimer = setTimer(
      () => {
        refreshTimer = undefined;
        nextRefreshAt = undefined;
        logger.debug(`aws-refresh-session: ${reason} refresh of "${name}"`);
        start(reason).catch(noop);
      },
      delay,
      keepAlive,
    );
  }

  function unschedule(): void {
    refreshTimer = clearTimer(refreshTimer);
    nextRefreshAt = undefined;
  }

  function scheduleExpiry(h: Held): void {
    expiryTimer = clearTimer(expiryTimer);
    if (closed || h.expiresAt === undefined) return;
    expiryTimer = setTimer(
      () => {
        expiryTimer = undefined;
        if (held === h && !isValid(h, clock.now())) emitExpired(h);
        else if (held === h) scheduleExpiry(h);
      },
      Math.max(MIN_TIMER_MS, h.expiresAt - clock.now() + 1),
    );
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

  /** Releases the callers of a first fetch: with the credential, or with the error that ends it. */
  function endFirstFetch(outcome: { identity: AwsCredentialIdentity } | { error: unknown }): void {
    firstFetchStartedAt = undefined;
    const f = firstFetch;
    if (!f) return;
    firstFetch = undefined;
    clearTimer(f.deadline);
    if ("identity" in outcome) f.waiters.resolve(outcome.identity);
    else f.waiters.reject(outcome.error);
  }

  /** Calls the source once, with a deadline; a late answer is ignored (the call already counted as failed). */
  function callWithDeadline(): {
    promise: Promise<AwsCredentialIdentity>;
    cancel(err: unknown): void;
    keepAlive(): void;
  } {
    let settle!: { resolve(v: AwsCredentialIdentity): void; reject(e: unknown): void };
    let done = false;
    const promise = new Promise<AwsCredentialIdentity>((resolve, reject) => (settle = { resolve, reject }));
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      clearTimer(deadline);
      fn();
    };
    const deadline = setTimer(() => {
      m.timeouts++;
      finish(() =>
        settle.reject(
          new RefreshSessionError(
            "SOURCE_FAILED",
            `Credential source "${name}" did not answer within ${o.sourceTimeoutMs} ms (\`sourceTimeoutMs\`); ` +
              "the call counts as failed and is retried",
            { source: name, cause: new SourceTimeoutError(`no answer within ${o.sourceTimeoutMs} ms`) },
          ),
        ),
      );
    }, o.sourceTimeoutMs);
    let call: Promise<AwsCredentialIdentity>;
    try {
      call = Promise.resolve(source());
    } catch (err) {
      call = Promise.reject(err);
    }
    call.then(
      (v) => finish(() => settle.resolve(v)),
      (e: unknown) => finish(() => settle.reject(e)),
    );
    return {
      promise,
      cancel: (err) => finish(() => settle.reject(err)),
      keepAlive: () => void deadline.ref?.(),
    };
  }

  async function callSource(
    reason: Reason,
    call: Promise<AwsCredentialIdentity>,
    localStart: number,
  ): Promise<AwsCredentialIdentity> {
    let identity: AwsCredentialIdentity;
    try {
      identity = checkIdentity(await call, name);
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
      if (closed && err instanceof RefreshSessionError && err.code === "CLOSED") throw err;
      onFailure(err);
      throw lastError;
    }
    if (closed) return identity;
    onSuccess(identity, reason, (clock.local ?? clock).now() - localStart);
    return identity;
  }

  function onSuccess(identity: AwsCredentialIdentity, reason: Reason, durationMs: number): void {
    const now = clock.now();
    const expiresAt = identity.expiration?.getTime();
    const unchanged =
      held !== undefined && held.identity.accessKeyId === identity.accessKeyId && held.expiresAt === expiresAt;
    const hadFailures = m.consecutiveFailures > 0;
    // A source that hands back the same credential (a cache, IMDS before it rotates) must not shrink its lifetime.
    // A new one's lifetime counts from its arrival, read after the call: a clock corrected for skew during the call
    // (from the source's own response) then measures it in the same time as its expiry.
    const receivedAt = unchanged && held ? held.receivedAt : now;
    const windows =
      expiresAt === undefined
        ? { advisoryMs: 0, mandatoryMs: 0 }
        : windowsFor(expiresAt, receivedAt, { advisoryMs: o.advisoryMs, mandatoryMs: o.mandatoryMs });
    held = { identity, expiresAt, receivedAt, ...windows };
    m.refreshes++;
    m.consecutiveFailures = 0;
    previousFailureMessage = undefined;
    lastRefreshAt = now;
    lastError = undefined;
    endFirstFetch({ identity });
    emit("refresh", {
      source: name,
      accessKeyId: redactKeyId(identity.accessKeyId),
      expiration: identity.expiration,
      durationMs,
      forced: reason === "forced",
      unchanged,
    });
    unschedule();
    if (expiresAt === undefined) {
      expiryTimer = clearTimer(expiryTimer);
      retryNotBefore = 0;
      return;
    }
    scheduleExpiry(held);
    const streak = unchanged ? unchangedStreak + 1 : 0;
    const plan = planAfterSuccess({
      held,
      now,
      mode: o.mode,
      jitter: o.jitter,
      spread: o.spread,
      unchanged,
      unchangedStreak: streak,
      offSchedule: hadFailures || (reason !== "scheduled" && reason !== "repeat"),
      retryBaseMs: o.retryBaseMs,
      maxRetryMs: o.maxRetryMs,
      random: [Math.random(), Math.random(), Math.random()],
    });
    const repeat = plan.retryNotBefore > 0;
    unchangedStreak = repeat ? streak : 0;
    retryNotBefore = plan.retryNotBefore;
    if (plan.nextRefreshAt !== undefined) schedule(plan.nextRefreshAt, repeat ? "repeat" : "scheduled");
  }

  function onFailure(err: unknown): void {
    const now = clock.now();
    const timedOut = err instanceof RefreshSessionError && err.cause instanceof SourceTimeoutError;
    const error =
      err instanceof RefreshSessionError
        ? err
        : new RefreshSessionError("SOURCE_FAILED", `Credential source "${name}" failed: ${errorMessage(err)}`, {
            source: name,
            expiration: held?.identity.expiration,
            cause: err,
          });
    const retryable = timedOut || isRetryableSourceError(err);
    m.refreshFailures++;
    m.consecutiveFailures++;
    lastError = error;
    const stillValid = isValid(held, now);
    const plan = planAfterFailure({
      held,
      now,
      consecutiveFailures: m.consecutiveFailures,
      retryable,
      firstFetchStartedAt: held === undefined ? firstFetchStartedAt : undefined,
      firstFetchTimeoutMs: o.firstFetchTimeoutMs,
      retryBaseMs: o.retryBaseMs,
      maxRetryMs: o.maxRetryMs,
      failFastMs: DEFAULT_EXPIRED_RETRY_MS,
      random: Math.random(),
    });
    retryNotBefore = plan.retryNotBefore;
    // Callers of a first fetch wait for this retry: it must keep the process alive until they have an answer.
    const callersWait = held === undefined && plan.firstFetchRetrying;
    if (!closed && plan.nextRefreshAt !== undefined) schedule(plan.nextRefreshAt, "retry", callersWait);
    if (held === undefined) {
      if (plan.firstFetchRetrying && !closed) {
        if (!firstFetch) {
          const deadlineAt = (firstFetchStartedAt ?? now) + o.firstFetchTimeoutMs;
          firstFetch = { waiters: waiters(), deadline: undefined };
          firstFetch.deadline = setTimer(
            () => {
              if (held !== undefined || !firstFetch) return;
              logger.warn(
                `aws-refresh-session: no credentials from "${name}" within ${o.firstFetchTimeoutMs} ms ` +
                  `(\`firstFetchTimeoutMs\`); callers get the last error`,
              );
              unschedule();
              retryNotBefore = clock.now() + DEFAULT_EXPIRED_RETRY_MS;
              endFirstFetch({ error: noCredentialError(lastError) });
            },
            Math.max(0, deadlineAt - now),
            true,
          );
        }
      } else {
        endFirstFetch({ error: noCredentialError(error) });
      }
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
      nextRetryAt:
        plan.nextRefreshAt === undefined || closed ? undefined : new Date(nextRefreshAt ?? plan.nextRefreshAt),
      timedOut,
      retryable,
    });
    if (held && !stillValid) emitExpired(held);
  }

  function start(reason: Reason): Promise<AwsCredentialIdentity> {
    if (closed) return Promise.reject(closedError());
    if (!inflight) {
      if (held === undefined) firstFetchStartedAt ??= clock.now();
      // Durations are measured on the uncorrected clock, from before the source is called: the corrected one moves as
      // the source's own answer refines the offset to AWS's clock.
      const localStart = (clock.local ?? clock).now();
      const call = callWithDeadline();
      const p = callSource(reason, call.promise, localStart).finally(() => {
        if (inflight?.promise === p) inflight = undefined;
      });
      inflight = { promise: p, cancel: call.cancel, keepAlive: call.keepAlive };
    }
    return inflight.promise;
  }

  function closedError(): RefreshSessionError {
    return new RefreshSessionError("CLOSED", `Credentials from "${name}" were closed; create a new session`, {
      source: name,
    });
  }

  /** What callers get when no credential was ever fetched. */
  function noCredentialError(err: unknown): unknown {
    if ((err instanceof RefreshSessionError && err.code === "CLOSED") || passThrough(err)) return err;
    const attempts = m.consecutiveFailures;
    return new RefreshSessionError(
      "SOURCE_FAILED",
      `Could not get AWS credentials from "${name}"` +
        (attempts > 1 ? ` (${attempts} attempts)` : "") +
        `: ${errorMessage(err)}`,
      { source: name, cause: err },
    );
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

  async function waitFor(p: Promise<AwsCredentialIdentity>): Promise<AwsCredentialIdentity> {
    m.waits++;
    // A caller awaits this call: its deadline must fire even if nothing else keeps the process alive.
    inflight?.keepAlive();
    try {
      return await p;
    } catch (err) {
      const now = clock.now();
      if (isValid(held, now)) return held.identity; // static stability
      if (held === undefined) {
        if (firstFetch) return firstFetch.waiters.promise; // the engine retries; wait for it
        throw noCredentialError(err);
      }
      throw expiredError(now);
    }
  }

  async function get(): Promise<AwsCredentialIdentity> {
    if (closed) throw closedError();
    const now = clock.now();
    const d = serveDecision(
      {
        held,
        mode: o.mode,
        inflight: inflight !== undefined,
        nextRefreshAt,
        retryNotBefore,
        firstFetchRetrying: firstFetch !== undefined,
      },
      now,
    );
    switch (d.action) {
      case "serve":
        return (held as Held).identity;
      case "serve-and-refresh":
        start("caller").catch(noop);
        return (held as Held).identity;
      case "wait":
        return waitFor(start("caller"));
      case "wait-for-retry":
        m.waits++;
        return (firstFetch as NonNullable<typeof firstFetch>).waiters.promise;
      case "fail": {
        if (d.reason === "expired") throw expiredError(now);
        const specific = passThrough(lastError);
        if (specific) throw specific;
        throw new RefreshSessionError(
          "SOURCE_FAILED",
          `Could not get AWS credentials from "${name}": ${lastError?.message ?? "the source failed"}`,
          { source: name, cause: lastError },
        );
      }
    }
  }

  const fn = ((opts?: { forceRefresh?: boolean }) =>
    opts?.forceRefresh ? forceRefresh() : get()) as RefreshableCredentials;

  async function forceRefresh(): Promise<AwsCredentialIdentity> {
    return start("forced");
  }

  const peek = (): AwsCredentialIdentity | undefined => (isValid(held, clock.now()) ? held?.identity : undefined);
  const recovery = new RecoveryCoordinator({ refresh: forceRefresh, peek, clock });

  Object.defineProperties(fn, {
    memoized: { value: true, enumerable: true },
    refreshable: { value: true },
    sourceName: { value: name, enumerable: true },
    refresh: { value: forceRefresh },
    recovery: { value: recovery },
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
        if (closed) return;
        closed = true;
        unschedule();
        expiryTimer = clearTimer(expiryTimer);
        const err = closedError();
        inflight?.cancel(err);
        endFirstFetch({ error: err });
      },
    },
    peek: { value: peek },
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
