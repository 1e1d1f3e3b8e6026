/**
 * The engine's decisions as pure functions of its state and the time: what to do for a caller, when to refresh a new
 * credential, when to retry after a failure. No timers, no promises, no randomness of their own (the random draws are
 * arguments), so tests call them directly and the engine in `refreshable.ts` only carries them out.
 */

/** What the engine knows about the credential it holds (the credential itself is not needed to decide). */
export interface HeldCredential {
  /** Epoch ms; undefined for a credential that never expires. */
  expiresAt: number | undefined;
  /** When this exact credential was first received: the base of its issued lifetime. */
  receivedAt: number;
  /** Windows in force for it, after clamping to its lifetime. */
  advisoryMs: number;
  mandatoryMs: number;
}

/** The state a caller's answer depends on. */
export interface ServeState {
  held: HeldCredential | undefined;
  mode: "eager" | "deferred";
  /** A source call is in flight. */
  inflight: boolean;
  /** When the engine's own timer calls the source next; undefined when none is set. */
  nextRefreshAt: number | undefined;
  /** Callers start no source call before this (the backoff after a failure). */
  retryNotBefore: number;
  /** A first fetch failed for a retryable reason and the engine is retrying it: callers wait for it. */
  firstFetchRetrying: boolean;
}

/**
 * What to do for a caller:
 * - `serve`: hand out the held credential;
 * - `serve-and-refresh`: hand it out and start a background refresh;
 * - `wait`: start a source call (or join the one in flight) and wait for it;
 * - `wait-for-retry`: wait for the retry the engine has scheduled (a first fetch being retried);
 * - `fail`: fail fast with the last error (`no-credential`: none was ever fetched; `expired`: the held one expired).
 */
export type ServeDecision =
  | { action: "serve" }
  | { action: "serve-and-refresh" }
  | { action: "wait" }
  | { action: "wait-for-retry" }
  | { action: "fail"; reason: "no-credential" | "expired" };

const SERVE: ServeDecision = { action: "serve" };
const SERVE_AND_REFRESH: ServeDecision = { action: "serve-and-refresh" };
const WAIT: ServeDecision = { action: "wait" };
const WAIT_FOR_RETRY: ServeDecision = { action: "wait-for-retry" };
const FAIL_NONE: ServeDecision = { action: "fail", reason: "no-credential" };
const FAIL_EXPIRED: ServeDecision = { action: "fail", reason: "expired" };

/**
 * What a caller arriving at `now` gets. Outside the windows the held credential; in the advisory window the same, and
 * a background refresh when one is due (in eager mode a caller never pre-empts the engine's own timer, which would
 * undo the fleet's spread); in the mandatory window callers wait for a refresh unless the source failed recently
 * (static stability: the valid credential is served until the scheduled retry); an expired credential is never handed
 * out.
 *
 * @example
 * ```ts
 * serveDecision({ held, mode: "eager", inflight: false, nextRefreshAt, retryNotBefore: 0, firstFetchRetrying: false }, Date.now());
 * ```
 */
export function serveDecision(state: ServeState, now: number): ServeDecision {
  const h = state.held;
  if (h === undefined) {
    if (state.inflight) return WAIT;
    if (state.firstFetchRetrying) return now >= state.retryNotBefore ? WAIT : WAIT_FOR_RETRY;
    return now < state.retryNotBefore ? FAIL_NONE : WAIT;
  }
  if (h.expiresAt === undefined) return SERVE;
  const remaining = h.expiresAt - now;
  if (remaining > h.advisoryMs) return SERVE;
  if (remaining > h.mandatoryMs) {
    const timerDue = state.mode === "deferred" || state.nextRefreshAt === undefined || now >= state.nextRefreshAt;
    return !state.inflight && now >= state.retryNotBefore && timerDue ? SERVE_AND_REFRESH : SERVE;
  }
  if (remaining > 0) {
    if (state.inflight) return WAIT;
    return now < state.retryNotBefore ? SERVE : WAIT;
  }
  if (state.inflight) return WAIT;
  return now < state.retryNotBefore ? FAIL_EXPIRED : WAIT;
}

/** The windows of a credential received at `receivedAt`: the options, clamped to half and a quarter of its life. */
export function windowsFor(
  expiresAt: number,
  receivedAt: number,
  options: { advisoryMs: number; mandatoryMs: number },
): { advisoryMs: number; mandatoryMs: number } {
  const lifetime = Math.max(0, expiresAt - receivedAt);
  return {
    advisoryMs: Math.min(options.advisoryMs, lifetime / 2),
    mandatoryMs: Math.min(options.mandatoryMs, lifetime / 4),
  };
}

/**
 * Capped exponential backoff with full jitter: a uniform draw `u` (0..1) of `min(maxMs, baseMs × 2^(attempt−1))`, so
 * a fleet whose source failed together does not retry together. `attempt` 1 is the first retry.
 */
export function backoffDelay(attempt: number, u: number, options: { retryBaseMs: number; maxRetryMs: number }): number {
  const ceiling = Math.min(options.maxRetryMs, options.retryBaseMs * 2 ** Math.max(0, attempt - 1));
  return u * ceiling;
}

/**
 * The scheduled refresh time of a credential: its advisory start plus `u × jitter` of the advisory-to-mandatory span.
 * Undefined for a credential that never expires.
 */
export function scheduledRefreshAt(h: HeldCredential, u: number, jitter: number): number | undefined {
  if (h.expiresAt === undefined) return undefined;
  const span = Math.max(0, h.advisoryMs - h.mandatoryMs);
  return h.expiresAt - h.advisoryMs + u * jitter * span;
}

/** Input of {@link planAfterSuccess}. */
export interface SuccessInput {
  /** The credential just received. */
  held: HeldCredential;
  now: number;
  mode: "eager" | "deferred";
  jitter: number;
  spread: number;
  /** The source handed back the credential already held. */
  unchanged: boolean;
  /** Successes in a row that handed back the held credential, this one included (0 when it changed). */
  unchangedStreak: number;
  /**
   * The call was not the engine's own on-time refresh (the first fetch, a forced refresh, a retry after failures, a
   * caller's): its timing is shared with whatever else happened then, so the next refresh is spread anew.
   */
  offSchedule: boolean;
  retryBaseMs: number;
  maxRetryMs: number;
  /** Uniform draws in 0..1: the jitter, the spread, the backoff. */
  random: readonly [number, number, number];
}

/** When the engine calls the source next, and from when callers may start a call themselves. */
export interface Plan {
  /** Undefined: no timer (deferred mode, a static credential, no retry). */
  nextRefreshAt: number | undefined;
  retryNotBefore: number;
}

/**
 * When to refresh the credential just received.
 *
 * - Scheduled: at its advisory start plus jitter ({@link scheduledRefreshAt}), a fixed point of its own life, so an
 *   engine's refreshes keep their phase.
 * - Spread: after an off-schedule fetch, uniformly within `spread` of the credential's life before that point. A fleet
 *   that started (or recovered from an outage) together then refreshes evenly from its second refresh on, and keeps
 *   doing so because each later refresh is at a fixed point of its credential's life.
 * - A source that handed back the held credential when it was due is asked again after a backoff, not in a loop.
 *
 * @example
 * ```ts
 * const plan = planAfterSuccess({ held, now, mode: "eager", jitter: 0.5, spread: 1, unchanged: false, unchangedStreak: 0,
 *   offSchedule: true, retryBaseMs: 1000, maxRetryMs: 60000, random: [Math.random(), Math.random(), Math.random()] });
 * ```
 */
export function planAfterSuccess(input: SuccessInput): Plan {
  const { held, now, random } = input;
  const at = scheduledRefreshAt(held, random[0], input.jitter);
  if (at === undefined) return { nextRefreshAt: undefined, retryNotBefore: 0 };
  if (input.unchanged && at <= now) {
    const retryAt = now + backoffDelay(Math.max(1, input.unchangedStreak), random[2], input);
    return { nextRefreshAt: retryAt, retryNotBefore: retryAt };
  }
  if (input.mode === "deferred") return { nextRefreshAt: undefined, retryNotBefore: 0 };
  const base = Math.max(now, held.receivedAt);
  const spreadAt = input.offSchedule && !input.unchanged ? at - random[1] * input.spread * Math.max(0, at - base) : at;
  return { nextRefreshAt: spreadAt, retryNotBefore: 0 };
}

/** Input of {@link planAfterFailure}. */
export interface FailureInput {
  held: HeldCredential | undefined;
  now: number;
  /** Failures in a row, this one included. */
  consecutiveFailures: number;
  /** A retry may cure it (throttling, 5xx, timeout, connection reset). */
  retryable: boolean;
  /** When the first attempt of the current first fetch started; undefined when a credential is held. */
  firstFetchStartedAt: number | undefined;
  firstFetchTimeoutMs: number;
  retryBaseMs: number;
  maxRetryMs: number;
  failFastMs: number;
  /** Uniform draw in 0..1 for the backoff. */
  random: number;
}

/** {@link Plan} after a failure, and whether callers of a first fetch keep waiting for the retry. */
export interface FailurePlan extends Plan {
  /** A first fetch is retried and its callers wait; false once its deadline is near or the error is not retryable. */
  firstFetchRetrying: boolean;
}

/**
 * When to retry after a failed source call.
 *
 * - A credential is held: retry after the backoff, never later than half of what is left of it, so every retry lands
 *   before expiry; callers in the mandatory window are served the valid credential until then (static stability),
 *   and after expiry fail fast until then instead of each calling the source; for a failure that is not retryable
 *   (a login or a fix is needed), a caller may try again after `failFastMs`.
 * - No credential yet, retryable error: retry after the backoff while the first fetch's deadline allows, callers
 *   waiting; else (or a non-retryable error) callers fail, fast for `failFastMs`, then the next caller tries again.
 *
 * @example
 * ```ts
 * planAfterFailure({ held: undefined, now, consecutiveFailures: 1, retryable: true, firstFetchStartedAt: now - 200,
 *   firstFetchTimeoutMs: 60000, retryBaseMs: 1000, maxRetryMs: 60000, failFastMs: 1000, random: Math.random() });
 * ```
 */
export function planAfterFailure(input: FailureInput): FailurePlan {
  const { held, now } = input;
  const delay = backoffDelay(input.consecutiveFailures, input.random, input);
  if (held !== undefined) {
    if (held.expiresAt === undefined) return { nextRefreshAt: undefined, retryNotBefore: 0, firstFetchRetrying: false };
    const left = held.expiresAt - now;
    const retryAt = now + (left > 0 ? Math.min(delay, left / 2) : delay);
    // Once nothing valid is held, a caller may try again after `failFastMs` when the failure needs someone to act (a
    // login, a config fix: one made meanwhile serves at once). An outage or throttling (retryable) keeps the backoff
    // for callers too: a fleet whose credentials expired during an outage must not call STS every second each.
    const callerRetry = left > 0 || input.retryable ? retryAt : Math.min(retryAt, now + input.failFastMs);
    return { nextRefreshAt: retryAt, retryNotBefore: callerRetry, firstFetchRetrying: false };
  }
  if (input.retryable && input.firstFetchStartedAt !== undefined) {
    const deadline = input.firstFetchStartedAt + input.firstFetchTimeoutMs;
    const retryAt = now + delay;
    if (retryAt < deadline) return { nextRefreshAt: retryAt, retryNotBefore: retryAt, firstFetchRetrying: true };
  }
  return { nextRefreshAt: undefined, retryNotBefore: now + input.failFastMs, firstFetchRetrying: false };
}
