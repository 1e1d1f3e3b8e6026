import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  planAfterFailure,
  planAfterSuccess,
  scheduledRefreshAt,
  serveDecision,
  windowsFor,
  type FailureInput,
  type HeldCredential,
  type ServeState,
} from "../src/refresh/decision.js";

// The engine's choices, called without timers: a credential of one hour received at 0, windows 15 and 10 minutes.
const MIN = 60_000;
const HOUR = 60 * MIN;
const held: HeldCredential = { expiresAt: HOUR, receivedAt: 0, advisoryMs: 15 * MIN, mandatoryMs: 10 * MIN };
const state = (over: Partial<ServeState> = {}): ServeState => ({
  held,
  mode: "eager",
  inflight: false,
  nextRefreshAt: 48 * MIN,
  retryNotBefore: 0,
  firstFetchRetrying: false,
  ...over,
});

describe("serveDecision", () => {
  it("serves outside the windows, and in the advisory window refreshes only once the engine's own timer is due", () => {
    expect(serveDecision(state(), 10 * MIN).action).toBe("serve");
    expect(serveDecision(state(), 47 * MIN).action).toBe("serve"); // advisory, the timer (48 min) not due
    expect(serveDecision(state(), 48 * MIN).action).toBe("serve-and-refresh");
    expect(serveDecision(state({ mode: "deferred" }), 47 * MIN).action).toBe("serve-and-refresh");
    expect(serveDecision(state({ inflight: true }), 48 * MIN).action).toBe("serve");
  });

  it("makes callers wait in the mandatory window unless the source failed recently (static stability)", () => {
    expect(serveDecision(state(), 55 * MIN).action).toBe("wait");
    expect(serveDecision(state({ retryNotBefore: 56 * MIN }), 55 * MIN).action).toBe("serve");
    expect(serveDecision(state({ inflight: true }), 55 * MIN).action).toBe("wait");
  });

  it("never hands out an expired credential", () => {
    expect(serveDecision(state(), HOUR).action).toBe("wait");
    expect(serveDecision(state({ retryNotBefore: HOUR + 1000 }), HOUR)).toEqual({ action: "fail", reason: "expired" });
  });

  it("before any credential: waits for the first fetch, or for its scheduled retry, or fails fast after a failure", () => {
    const none = { held: undefined, nextRefreshAt: undefined };
    expect(serveDecision(state(none), 0).action).toBe("wait");
    expect(serveDecision(state({ ...none, retryNotBefore: 500, firstFetchRetrying: true }), 0).action).toBe(
      "wait-for-retry",
    );
    expect(serveDecision(state({ ...none, retryNotBefore: 500 }), 0)).toEqual({
      action: "fail",
      reason: "no-credential",
    });
    expect(serveDecision(state({ ...none, retryNotBefore: 500 }), 500).action).toBe("wait");
  });

  it("serves a credential that never expires", () => {
    expect(serveDecision(state({ held: { ...held, expiresAt: undefined } }), 10 * HOUR).action).toBe("serve");
  });
});

describe("windows, backoff and the refresh schedule", () => {
  it("clamps the windows to a half and a quarter of the credential's life", () => {
    expect(windowsFor(HOUR, 0, { advisoryMs: 15 * MIN, mandatoryMs: 10 * MIN })).toEqual({
      advisoryMs: 15 * MIN,
      mandatoryMs: 10 * MIN,
    });
    expect(windowsFor(20_000, 0, { advisoryMs: 15 * MIN, mandatoryMs: 10 * MIN })).toEqual({
      advisoryMs: 10_000,
      mandatoryMs: 5_000,
    });
  });

  it("backs off exponentially with full jitter, capped", () => {
    const o = { retryBaseMs: 1000, maxRetryMs: 60_000 };
    expect(backoffDelay(1, 1, o)).toBe(1000);
    expect(backoffDelay(3, 1, o)).toBe(4000);
    expect(backoffDelay(3, 0.5, o)).toBe(2000);
    expect(backoffDelay(20, 1, o)).toBe(60_000);
    expect(backoffDelay(5, 0, o)).toBe(0);
  });

  it("schedules a refresh at the advisory start plus jitter of the advisory-to-mandatory span", () => {
    expect(scheduledRefreshAt(held, 0, 0.5)).toBe(45 * MIN);
    expect(scheduledRefreshAt(held, 1, 0.5)).toBe(47.5 * MIN);
    expect(scheduledRefreshAt({ ...held, expiresAt: undefined }, 1, 0.5)).toBeUndefined();
  });

  it("spreads the refresh after an off-schedule fetch over the credential's life, and keeps an on-time one fixed", () => {
    const base = {
      held,
      now: 0,
      mode: "eager" as const,
      jitter: 0.5,
      spread: 1,
      unchanged: false,
      unchangedStreak: 0,
      retryBaseMs: 1000,
      maxRetryMs: 60_000,
    };
    expect(planAfterSuccess({ ...base, offSchedule: false, random: [0, 0.5, 0] }).nextRefreshAt).toBe(45 * MIN);
    expect(planAfterSuccess({ ...base, offSchedule: true, random: [0, 0.5, 0] }).nextRefreshAt).toBe(22.5 * MIN);
    expect(planAfterSuccess({ ...base, offSchedule: true, random: [0, 1, 0] }).nextRefreshAt).toBe(0);
    expect(planAfterSuccess({ ...base, mode: "deferred", offSchedule: true, random: [0, 1, 0] }).nextRefreshAt).toBe(
      undefined,
    );
    // The source handed back the same credential when it was due: asked again after a backoff, not in a loop.
    const again = planAfterSuccess({
      ...base,
      now: 46 * MIN,
      unchanged: true,
      unchangedStreak: 2,
      offSchedule: false,
      random: [0, 0, 1],
    });
    expect(again.nextRefreshAt).toBe(46 * MIN + 2000);
  });
});

describe("planAfterFailure", () => {
  const failure = (over: Partial<FailureInput>): FailureInput => ({
    held,
    now: 50 * MIN,
    consecutiveFailures: 1,
    retryable: true,
    firstFetchStartedAt: undefined,
    firstFetchTimeoutMs: 60_000,
    retryBaseMs: 1000,
    maxRetryMs: 60_000,
    failFastMs: 1000,
    random: 1,
    ...over,
  });

  it("with a valid credential: retries after the backoff, never later than half of what is left", () => {
    expect(planAfterFailure(failure({ consecutiveFailures: 3 }))).toEqual({
      nextRefreshAt: 50 * MIN + 4000,
      retryNotBefore: 50 * MIN + 4000,
      firstFetchRetrying: false,
    });
    const late = planAfterFailure(failure({ now: HOUR - 10_000, consecutiveFailures: 10 }));
    expect(late.nextRefreshAt).toBe(HOUR - 5000);
  });

  it("after expiry: callers follow the backoff through an outage, but may try again after 1 s when someone must act", () => {
    const outage = planAfterFailure(failure({ now: HOUR + 1000, consecutiveFailures: 6, retryable: true }));
    expect(outage.nextRefreshAt).toBe(HOUR + 1000 + 32_000);
    expect(outage.retryNotBefore).toBe(HOUR + 1000 + 32_000);
    const login = planAfterFailure(failure({ now: HOUR + 1000, consecutiveFailures: 6, retryable: false }));
    expect(login.nextRefreshAt).toBe(HOUR + 1000 + 32_000);
    expect(login.retryNotBefore).toBe(HOUR + 2000);
  });

  it("a first fetch that failed for a retryable reason is retried with callers waiting, up to its deadline", () => {
    const first = { held: undefined, now: 10_000, firstFetchStartedAt: 0 };
    expect(planAfterFailure(failure({ ...first, consecutiveFailures: 2 }))).toEqual({
      nextRefreshAt: 12_000,
      retryNotBefore: 12_000,
      firstFetchRetrying: true,
    });
    // Past the deadline, or not retryable: callers fail, fast for failFastMs.
    expect(planAfterFailure(failure({ ...first, now: 59_500, consecutiveFailures: 2 }))).toEqual({
      nextRefreshAt: undefined,
      retryNotBefore: 60_500,
      firstFetchRetrying: false,
    });
    expect(planAfterFailure(failure({ ...first, retryable: false }))).toEqual({
      nextRefreshAt: undefined,
      retryNotBefore: 11_000,
      firstFetchRetrying: false,
    });
  });
});
