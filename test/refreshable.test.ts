import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AwsCredentialIdentity } from "@smithy/types";
import { RefreshSessionError } from "../src/errors.js";
import { refreshable } from "../src/refresh/refreshable.js";
import type { RefreshableOptions } from "../src/refresh/types.js";
import { ensureBuilt, ROOT } from "./helpers/cli.js";

const MIN = 60_000;
const HOUR = 60 * MIN;

/** A source under test: counts calls, issues credentials of `lifetimeMs`, fails while `failing` is set. */
function makeSource(lifetimeMs: number) {
  const state = { calls: 0, failing: false as boolean | Error, delayMs: 0, lifetimeMs };
  const source = async (): Promise<AwsCredentialIdentity> => {
    state.calls++;
    if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
    if (state.failing) throw state.failing instanceof Error ? state.failing : new Error("source is down");
    return {
      accessKeyId: `ASIA${String(state.calls).padStart(12, "0")}`,
      secretAccessKey: `secret-${state.calls}-SECRETVALUE`,
      sessionToken: `token-${state.calls}-TOKENVALUE`,
      expiration: new Date(Date.now() + state.lifetimeMs),
    };
  };
  return { state, source };
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-01-01T00:00:00Z") });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("windows", () => {
  const cases: [string, number, number, number][] = [
    // lifetime, expected advisory, expected mandatory (clamped to lifetime/2 and /4)
    ["1 s", 1000, 500, 250],
    ["60 s", MIN, 30_000, 15_000],
    ["15 min", 15 * MIN, 7.5 * MIN, 3.75 * MIN],
    ["1 h", HOUR, 15 * MIN, 10 * MIN],
    ["12 h", 12 * HOUR, 15 * MIN, 10 * MIN],
  ];
  for (const [label, lifetime, advisory, mandatory] of cases) {
    it(`${label}: clamps windows; the first refresh is spread before the advisory window, later ones start it`, async () => {
      const { state, source } = makeSource(lifetime);
      const creds = refreshable(source, { jitter: 0 });
      const first = await creds();
      const m = creds.metrics();
      expect(m.advisoryMs).toBe(advisory);
      expect(m.mandatoryMs).toBe(mandatory);
      const exp = first.expiration!.getTime();
      // The first credential's refresh is spread (default `spread: 1`) between its arrival and its advisory start.
      const firstAt = m.nextRefreshAt!.getTime();
      expect(firstAt).toBeGreaterThanOrEqual(Date.now());
      expect(firstAt).toBeLessThanOrEqual(exp - advisory);
      await vi.advanceTimersByTimeAsync(firstAt - Date.now() - 1);
      expect((await creds()).accessKeyId).toBe(first.accessKeyId);
      expect(state.calls).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(state.calls).toBe(2);
      // Every later credential is refreshed at a fixed point of its own life: its advisory start (jitter 0).
      const second = await creds();
      expect(second.accessKeyId).not.toBe(first.accessKeyId);
      const exp2 = second.expiration!.getTime();
      expect(creds.metrics().nextRefreshAt!.getTime()).toBe(exp2 - advisory);
      await vi.advanceTimersByTimeAsync(lifetime - advisory - 1);
      expect((await creds()).accessKeyId).toBe(second.accessKeyId);
      expect(state.calls).toBe(2);
      await vi.advanceTimersByTimeAsync(1);
      expect(state.calls).toBe(3);
      expect((await creds()).accessKeyId).not.toBe(second.accessKeyId);
      creds.close();
    });
  }

  it("a 1 s credential is fetched about once per half-lifetime under constant load, never once per call", async () => {
    const { state, source } = makeSource(1000);
    const creds = refreshable(source);
    let handedOut = 0;
    for (let t = 0; t < 10_000; t += 10) {
      const c = await creds();
      expect(c.expiration!.getTime()).toBeGreaterThan(Date.now());
      handedOut++;
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(handedOut).toBe(1000);
    // Refreshed between half and three-eighths of the lifetime before expiry: 16 to 21 calls over 10 s.
    expect(state.calls).toBeGreaterThanOrEqual(16);
    expect(state.calls).toBeLessThanOrEqual(21);
    creds.close();
  });

  it("deferred: a caller inside the advisory window gets the current credential at once and starts one refresh", async () => {
    const { state, source } = makeSource(HOUR);
    const creds = refreshable(source, { mode: "deferred" });
    const first = await creds();
    expect(creds.metrics().nextRefreshAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(50 * MIN); // 10 min left... inside advisory (15), at mandatory edge
    state.delayMs = 5_000;
    expect(state.calls).toBe(1); // no timer in deferred mode
    vi.setSystemTime(Date.now() - 2 * MIN); // 12 min left: advisory, not mandatory
    const got = await creds();
    expect(got.accessKeyId).toBe(first.accessKeyId);
    expect(state.calls).toBe(2); // background refresh started
    await creds();
    expect(state.calls).toBe(2); // joined, not repeated
    await vi.advanceTimersByTimeAsync(5_000);
    expect((await creds()).accessKeyId).not.toBe(first.accessKeyId);
    creds.close();
  });

  it("eager: callers inside the mandatory window wait for the one refresh in flight", async () => {
    const { state, source } = makeSource(HOUR);
    const creds = refreshable(source, { jitter: 0 });
    const first = await creds();
    state.failing = true;
    await vi.advanceTimersByTimeAsync(45 * MIN); // background refresh fails; retries back off
    state.failing = false;
    state.delayMs = 2_000;
    vi.setSystemTime(first.expiration!.getTime() - 5 * MIN); // inside mandatory window
    // Let the scheduled retry pass the backoff gate for callers.
    await vi.advanceTimersByTimeAsync(61_000);
    const waits = creds.metrics().waits;
    const pending = Promise.all(Array.from({ length: 50 }, () => creds()));
    await vi.advanceTimersByTimeAsync(2_000);
    const all = await pending;
    expect(new Set(all.map((c) => c.accessKeyId)).size).toBe(1);
    expect(all[0]!.accessKeyId).not.toBe(first.accessKeyId);
    expect(creds.metrics().waits).toBeGreaterThanOrEqual(waits);
    creds.close();
  });

  it("eager: a caller in the advisory window does not pre-empt the jittered timer", async () => {
    const { state, source } = makeSource(HOUR);
    const creds = refreshable(source, { jitter: 1 });
    await creds();
    // Past the spread first refresh: the second credential's timer is inside its advisory window.
    await vi.advanceTimersByTimeAsync(creds.metrics().nextRefreshAt!.getTime() - Date.now());
    expect(state.calls).toBe(2);
    const at = creds.metrics().nextRefreshAt!.getTime();
    const advisoryStart = Date.now() + 45 * MIN;
    expect(at).toBeGreaterThan(advisoryStart + 1);
    vi.setSystemTime(at - 1); // inside the advisory window, before this engine's jittered time
    await creds();
    expect(state.calls).toBe(2);
    vi.setSystemTime(at + 1); // the timer's time has passed (as if it fired late): a caller may start it
    await creds();
    expect(state.calls).toBe(3);
    creds.close();
  });
});

describe("jitter", () => {
  /** An engine past its (spread) first refresh: where its second credential's refresh is scheduled, from its arrival. */
  async function secondRefreshOffset(options: RefreshableOptions): Promise<number> {
    const { source } = makeSource(HOUR);
    const creds = refreshable(source, options);
    await creds();
    await vi.advanceTimersByTimeAsync(creds.metrics().nextRefreshAt!.getTime() - Date.now());
    const m = creds.metrics();
    expect(m.refreshes).toBe(2);
    creds.close();
    return m.nextRefreshAt!.getTime() - m.lastRefreshAt!.getTime();
  }

  it("spreads each later refresh over jitter × (advisory − mandatory) after the advisory start", async () => {
    const times: number[] = [];
    for (let i = 0; i < 200; i++) times.push(await secondRefreshOffset({ jitter: 1 }));
    const lo = HOUR - 15 * MIN;
    const hi = HOUR - 10 * MIN;
    expect(Math.min(...times)).toBeGreaterThanOrEqual(lo);
    expect(Math.max(...times)).toBeLessThanOrEqual(hi);
    // Spread, not clumped: every fifth of the span is used.
    const buckets = new Set(times.map((t) => Math.min(4, Math.floor(((t - lo) / (hi - lo)) * 5))));
    expect(buckets.size).toBe(5);
  });

  it("jitter 0 schedules every later refresh at the advisory start; 0.5 uses the first half of the span", async () => {
    const zero: number[] = [];
    const half: number[] = [];
    for (let i = 0; i < 50; i++) {
      zero.push(await secondRefreshOffset({ jitter: 0 }));
      half.push(await secondRefreshOffset({ jitter: 0.5 }));
    }
    expect(new Set(zero)).toEqual(new Set([45 * MIN]));
    expect(Math.min(...half)).toBeGreaterThanOrEqual(45 * MIN);
    expect(Math.max(...half)).toBeLessThanOrEqual(45 * MIN + 2.5 * MIN);
    expect(new Set(half).size).toBeGreaterThan(40);
  });

  it("spreads the first refresh uniformly over the first credential's life before its scheduled point", async () => {
    const times: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const { source } = makeSource(HOUR);
      const creds = refreshable(source, { jitter: 0 });
      await creds();
      times.push(creds.metrics().nextRefreshAt!.getTime() - Date.now());
      creds.close();
    }
    expect(Math.min(...times)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...times)).toBeLessThanOrEqual(45 * MIN);
    // Uniform: each tenth of [0, 45 min] holds 200 ± 70 of the 2000 (over 5 standard deviations, so a uniform draw
    // fails about once in ten million runs, and a clump of a few tenths does not pass).
    const counts = Array.from({ length: 10 }, () => 0);
    for (const t of times) counts[Math.min(9, Math.floor((t / (45 * MIN)) * 10))]!++;
    for (const c of counts) expect(c).toBeGreaterThan(130);
    for (const c of counts) expect(c).toBeLessThan(270);
  });

  it("spread 0 keeps the first refresh at the advisory start too", async () => {
    const { source } = makeSource(HOUR);
    const creds = refreshable(source, { jitter: 0, spread: 0 });
    const first = await creds();
    expect(creds.metrics().nextRefreshAt!.getTime()).toBe(first.expiration!.getTime() - 15 * MIN);
    creds.close();
  });
});

describe("single flight", () => {
  it("1,000 concurrent callers make one source call, on the first fetch and on a forced refresh", async () => {
    const { state, source } = makeSource(HOUR);
    state.delayMs = 100;
    const creds = refreshable(source);
    const p = Promise.all(Array.from({ length: 1000 }, () => creds()));
    await vi.advanceTimersByTimeAsync(100);
    const all = await p;
    expect(state.calls).toBe(1);
    expect(new Set(all.map((c) => c.accessKeyId)).size).toBe(1);
    const forced = Promise.all([creds.refresh(), creds.refresh(), creds({ forceRefresh: true })]);
    await vi.advanceTimersByTimeAsync(100);
    const [a, b, c] = await forced;
    expect(state.calls).toBe(2);
    expect(a.accessKeyId).toBe(b.accessKeyId);
    expect(b.accessKeyId).toBe(c.accessKeyId);
    creds.close();
  });
});

describe("static stability", () => {
  for (const [window, at] of [
    ["advisory", 46 * MIN],
    ["mandatory", 55 * MIN],
  ] as const) {
    it(`a source failing from the ${window} window keeps serving the valid credential, retries before expiry, recovers`, async () => {
      const { state, source } = makeSource(HOUR);
      const creds = refreshable(source, { jitter: 0 });
      const events: string[] = [];
      const retryTimes: number[] = [];
      creds.on("refresh", (e) => events.push(`refresh:${e.accessKeyId}`));
      creds.on("refresh-failed", (e) => {
        events.push(`failed:${e.stillValid}`);
        if (e.nextRetryAt) retryTimes.push(e.nextRetryAt.getTime());
      });
      const first = await creds();
      const exp = first.expiration!.getTime();
      vi.setSystemTime(Date.now() + at - 1);
      state.failing = true;
      await vi.advanceTimersByTimeAsync(1);
      // Walk to one second before expiry, calling all the way: always the first credential.
      while (Date.now() < exp - 1000) {
        expect((await creds()).accessKeyId).toBe(first.accessKeyId);
        await vi.advanceTimersByTimeAsync(Math.min(7_000, exp - 1000 - Date.now()));
      }
      const m = creds.metrics();
      expect(m.refreshFailures).toBeGreaterThan(3);
      expect(m.lastError).toBeInstanceOf(RefreshSessionError);
      expect(m.lastError!.message).toContain("source is down");
      expect(retryTimes.every((t) => t < exp)).toBe(true);
      expect(events.filter((e) => e === "failed:true").length).toBe(m.refreshFailures);
      state.failing = false;
      await vi.advanceTimersByTimeAsync(1000);
      const recovered = await creds();
      expect(recovered.accessKeyId).not.toBe(first.accessKeyId);
      expect(recovered.expiration!.getTime()).toBeGreaterThan(Date.now());
      expect(events.at(-1)).toMatch(/^refresh:\*\*\*\*/);
      expect(creds.metrics().consecutiveFailures).toBe(0);
      creds.close();
    });
  }

  it("logs a source failing the same way again and again at the 1st, 2nd, 4th, 8th… failure, and a new failure at once", async () => {
    const { state, source } = makeSource(HOUR);
    const lines: { level: string; text: string }[] = [];
    const log = (level: string) => (text: string) => lines.push({ level, text });
    const creds = refreshable(source, {
      jitter: 0,
      spread: 0, // the first refresh at the advisory start: the failures are counted from there
      retryBaseMs: 1000,
      maxRetryMs: 1000,
      logger: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    });
    await creds();
    state.failing = new Error("login not approved yet.");
    await vi.advanceTimersByTimeAsync(45 * MIN); // the background refresh fires, and fails
    for (let i = 0; i < 100 && creds.metrics().consecutiveFailures < 10; i++) await vi.advanceTimersByTimeAsync(1000);
    expect(creds.metrics().consecutiveFailures).toBeGreaterThanOrEqual(10);
    const failed = lines.filter((l) => l.text.includes("failed ("));
    const loud = failed.filter((l) => l.level === "warn").map((l) => Number(/\((\d+) in a row\)/.exec(l.text)?.[1]));
    expect(loud).toEqual([1, 2, 4, 8]);
    expect(failed.filter((l) => l.level === "debug").length).toBe(failed.length - 4);
    expect(failed[0]!.text).toContain("login not approved yet; still serving"); // no doubled punctuation
    state.failing = new Error("something else broke");
    const before = creds.metrics().consecutiveFailures;
    for (let i = 0; i < 100 && creds.metrics().consecutiveFailures === before; i++) {
      await vi.advanceTimersByTimeAsync(1000);
    }
    // The first failure with the new message (later ones, and the engine's debug lines, may follow it).
    const changed = lines.find((l) => l.text.includes(`(${before + 1} in a row)`));
    expect(changed).toMatchObject({ level: "warn" });
    expect(changed!.text).toContain("something else broke");
    creds.close();
  });

  it("after expiry callers get CREDENTIALS_EXPIRED naming the source and expiry, with the last failure as cause", async () => {
    const { state, source } = makeSource(HOUR);
    const creds = refreshable(source, { name: "sts:arn:aws:iam::123456789012:role/etl" });
    const expired: unknown[] = [];
    creds.on("expired", (e) => expired.push(e));
    const first = await creds();
    state.failing = new Error("STS is unreachable");
    await vi.advanceTimersByTimeAsync(HOUR + 1000);
    const err = await creds().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RefreshSessionError);
    const e = err as RefreshSessionError;
    expect(e.code).toBe("CREDENTIALS_EXPIRED");
    expect(e.source).toBe("sts:arn:aws:iam::123456789012:role/etl");
    expect(e.expiration).toEqual(first.expiration);
    expect(e.message).toContain(first.expiration!.toISOString());
    expect(e.message).toContain("sts:arn:aws:iam::123456789012:role/etl");
    expect((e.cause as Error).message).toContain("STS is unreachable");
    expect(expired).toHaveLength(1);
    // The background keeps retrying; when the source is back, callers get a credential again.
    state.failing = false;
    await vi.advanceTimersByTimeAsync(61_000);
    expect((await creds()).expiration!.getTime()).toBeGreaterThan(Date.now());
    creds.close();
  });

  it("never hands out an expired credential, whatever the timing of failures", async () => {
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const { state, source } = makeSource(10_000);
    const creds = refreshable(source, { retryBaseMs: 200, maxRetryMs: 2000 });
    let served = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      state.failing = rand() < 0.6;
      state.lifetimeMs = rand() < 0.1 ? 300 : 10_000;
      try {
        const c = await creds();
        expect(c.expiration!.getTime()).toBeGreaterThan(Date.now());
        served++;
      } catch (err) {
        expect((err as RefreshSessionError).code).toMatch(/CREDENTIALS_EXPIRED|SOURCE_FAILED/);
        refused++;
      }
      await vi.advanceTimersByTimeAsync(Math.floor(rand() * 400));
    }
    expect(served).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(0);
    creds.close();
  });

  it("a source returning an already-expired credential counts as a failed refresh", async () => {
    const creds = refreshable(async () => ({
      accessKeyId: "ASIAOLD",
      secretAccessKey: "s",
      expiration: new Date(Date.now() - 1000),
    }));
    await expect(creds()).rejects.toMatchObject({ code: "SOURCE_FAILED" });
    expect(creds.metrics().refreshFailures).toBe(1);
    expect((creds.metrics().lastError as RefreshSessionError).code).toBe("INVALID_CREDENTIALS");
    creds.close();
  });

  it("a credential without expiration is static and never refreshed", async () => {
    let calls = 0;
    const creds = refreshable(async () => {
      calls++;
      return { accessKeyId: "AKIASTATIC", secretAccessKey: "s" };
    });
    await creds();
    await vi.advanceTimersByTimeAsync(48 * HOUR);
    await creds();
    expect(calls).toBe(1);
    expect(creds.metrics().nextRefreshAt).toBeUndefined();
    creds.close();
  });

  it("a source that hands back the same credential (a cache) is asked again later, not in a loop", async () => {
    let calls = 0;
    const exp = new Date(Date.now() + HOUR);
    const creds = refreshable(async () => {
      calls++;
      return { accessKeyId: "ASIACACHED", secretAccessKey: "s", expiration: exp };
    });
    await creds();
    await vi.advanceTimersByTimeAsync(50 * MIN);
    const inWindow = calls;
    expect(inWindow).toBeGreaterThan(1);
    expect(inWindow).toBeLessThan(30);
    expect(creds.metrics().advisoryMs).toBe(15 * MIN); // lifetime not shrunk by the repeats
    creds.close();
  });
});

describe("controls, events and options", () => {
  it("metrics() has the documented fields and events hold no secret", async () => {
    const { state, source } = makeSource(HOUR);
    const creds = refreshable(source, { name: "test-source" });
    const payloads: unknown[] = [];
    creds.on("refresh", (e) => payloads.push(e));
    creds.on("refresh-failed", (e) => payloads.push(e));
    const first = await creds();
    state.failing = true;
    await creds.refresh().catch(() => undefined);
    const m = creds.metrics();
    expect(m).toMatchObject({
      source: "test-source",
      refreshes: 1,
      refreshFailures: 1,
      consecutiveFailures: 1,
      expiration: first.expiration,
    });
    expect(m.lastRefreshAt).toBeInstanceOf(Date);
    expect(m.nextRefreshAt).toBeInstanceOf(Date);
    expect(m.lastError).toBeInstanceOf(Error);
    const text = JSON.stringify(payloads) + JSON.stringify(m);
    expect(text).not.toContain("SECRETVALUE");
    expect(text).not.toContain("TOKENVALUE");
    expect(text).not.toContain(first.accessKeyId);
    expect(text).toContain(`****${first.accessKeyId.slice(-4)}`);
    creds.close();
  });

  it("a listener that throws does not break the engine", async () => {
    const { source } = makeSource(HOUR);
    const errors: string[] = [];
    const creds = refreshable(source, {
      logger: { debug: () => {}, info: () => {}, warn: () => {}, error: (m: string) => errors.push(m) },
    });
    creds.on("refresh", () => {
      throw new Error("listener bug");
    });
    await expect(creds()).resolves.toBeDefined();
    expect(errors.join()).toContain("listener bug");
    creds.close();
  });

  it("close() stops every timer and later calls reject with CLOSED", async () => {
    const { state, source } = makeSource(HOUR);
    const creds = refreshable(source);
    await creds();
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    creds.close();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(state.calls).toBe(1);
    await expect(creds()).rejects.toMatchObject({ code: "CLOSED" });
  });

  it("bad options throw TypeError/RangeError naming the option", () => {
    const src = async () => ({ accessKeyId: "a", secretAccessKey: "b" });
    const bad: [RefreshableOptions, RegExp][] = [
      [{ mode: "lazy" as never }, /`mode`/],
      [{ advisoryMs: -1 }, /`advisoryMs`/],
      [{ mandatoryMs: Number.NaN }, /`mandatoryMs`/],
      [{ advisoryMs: 1000, mandatoryMs: 2000 }, /`mandatoryMs`.*`advisoryMs`/],
      [{ jitter: 1.5 }, /`jitter`/],
      [{ clock: {} as never }, /`clock`/],
      [{ retryBaseMs: -5 }, /`retryBaseMs`/],
    ];
    for (const [options, message] of bad) expect(() => refreshable(src, options)).toThrow(message);
    expect(() => refreshable("not a function" as never)).toThrow(TypeError);
    expect(() => refreshable(src, { jitter: 2 })).toThrow(RangeError);
  });

  it("a source returning the wrong shape gets an error naming the missing field", async () => {
    const creds = refreshable(async () => ({ accessKeyId: "AKIA" }) as never, { name: "vault" });
    await expect(creds()).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: expect.stringContaining("`secretAccessKey`"),
    });
    creds.close();
  });

  it("the injected clock drives every expiry decision", async () => {
    const { state, source } = makeSource(HOUR);
    let offset = 0;
    const creds = refreshable(source, { clock: { now: () => Date.now() + offset } });
    await creds();
    offset = 58 * MIN; // the corrected clock says 2 minutes are left: mandatory window
    await creds();
    expect(state.calls).toBe(2);
    creds.close();
  });
});

describe("deadlines: nothing hangs", () => {
  const never = (): Promise<AwsCredentialIdentity> => new Promise<AwsCredentialIdentity>(() => {});

  it("a first fetch whose source never answers fails after sourceTimeoutMs, counted as a failure and a timeout", async () => {
    const creds = refreshable(Object.assign(never, { sourceName: "hung" }), { sourceTimeoutMs: 5_000 });
    const got = creds().then(
      () => undefined,
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(4_999);
    expect(creds.metrics().refreshFailures).toBe(0);
    // A timeout is retryable: callers wait for the retries, up to firstFetchTimeoutMs (60 s), then get the error.
    await vi.advanceTimersByTimeAsync(61_000);
    const err = (await got) as RefreshSessionError;
    expect(err).toBeInstanceOf(RefreshSessionError);
    expect(err.code).toBe("SOURCE_FAILED");
    expect(err.message).toContain('"hung"');
    expect(err.message).toContain("did not answer within 5000 ms");
    const m = creds.metrics();
    expect(m.timeouts).toBeGreaterThanOrEqual(1);
    expect(m.refreshFailures).toBe(m.timeouts);
    expect(m.lastError!.message).toContain("`sourceTimeoutMs`");
    creds.close();
  });

  it("a refresh that never answers: the valid credential is served, retried with backoff, then CREDENTIALS_EXPIRED", async () => {
    const { state, source } = makeSource(HOUR);
    let hang = false;
    const sometimesHung = Object.assign(async () => (hang ? never() : source()), { sourceName: "sts:hung-role" });
    const creds = refreshable(sometimesHung, { jitter: 0, spread: 0 });
    const failures: { timedOut: boolean; retryable: boolean; stillValid: boolean }[] = [];
    creds.on("refresh-failed", (e) => failures.push(e));
    const first = await creds();
    hang = true;
    await vi.advanceTimersByTimeAsync(45 * MIN + 60_000); // the background refresh starts and hits its 60 s deadline
    expect(failures[0]).toMatchObject({ timedOut: true, retryable: true, stillValid: true });
    // Inside the mandatory window, callers wait for the refresh in flight, at most its deadline, then get the still
    // valid credential (the engine retries on its own).
    vi.setSystemTime(first.expiration!.getTime() - 5 * MIN);
    const inMandatory = creds();
    await vi.advanceTimersByTimeAsync(60_000);
    expect((await inMandatory).accessKeyId).toBe(first.accessKeyId);
    await vi.advanceTimersByTimeAsync(4 * MIN + 1_000);
    // Expired: callers get CREDENTIALS_EXPIRED (at once, or when a retry in flight reaches its deadline).
    const late = creds().then(
      () => undefined,
      (e: unknown) => e as RefreshSessionError,
    );
    await vi.advanceTimersByTimeAsync(60_000);
    const err = await late;
    expect(err?.code).toBe("CREDENTIALS_EXPIRED");
    expect(err?.source).toBe("sts:hung-role");
    expect(err?.message).toContain("did not answer within 60000 ms");
    const m = creds.metrics();
    expect(m.timeouts).toBeGreaterThan(1);
    expect(m.refreshFailures).toBe(m.timeouts);
    // The source answers again: the engine recovers without a restart.
    // (An attempt in flight ends at its deadline; the next retry follows within the 60 s backoff cap.)
    hang = false;
    await vi.advanceTimersByTimeAsync(121_000);
    expect((await creds()).expiration!.getTime()).toBeGreaterThan(Date.now());
    expect(state.calls).toBe(2);
    creds.close();
  });

  it("a source states how long it may take; the option wins over it", async () => {
    const slow = Object.assign(never, { sourceName: "sso:dev", sourceTimeoutMs: 600_000 });
    const own = refreshable(slow, { firstFetchTimeoutMs: 0 });
    const a = own().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(599_000);
    expect(own.metrics().refreshFailures).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(((await a) as Error).message).toContain("600000 ms");
    own.close();
    const opt = refreshable(slow, { sourceTimeoutMs: 1_000, firstFetchTimeoutMs: 0 });
    const b = opt().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(((await b) as Error).message).toContain("1000 ms");
    opt.close();
  });

  it("close() releases callers waiting on a source that never answers, with CLOSED", async () => {
    const creds = refreshable(never);
    const waiting = creds().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    creds.close();
    expect(await waiting).toMatchObject({ code: "CLOSED" });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("first fetch: retryable failures make callers wait", () => {
  const throttling = (): Error =>
    Object.assign(new Error("Rate exceeded"), { name: "Throttling", $metadata: { httpStatusCode: 400 } });

  it("throttling at start-up: callers wait while the engine retries with backoff, and all get the credential", async () => {
    const { state, source } = makeSource(HOUR);
    let throttleLeft = 4;
    const flaky = async (): Promise<AwsCredentialIdentity> => {
      if (throttleLeft-- > 0) {
        state.calls++;
        throw throttling();
      }
      return source();
    };
    const creds = refreshable(flaky);
    const retries: number[] = [];
    creds.on("refresh-failed", (e) => {
      expect(e.retryable).toBe(true);
      retries.push(e.nextRetryAt!.getTime() - Date.now());
    });
    const callers = Array.from({ length: 20 }, () => creds());
    // More callers arrive during the retries; they wait too.
    await vi.advanceTimersByTimeAsync(500);
    callers.push(creds());
    await vi.advanceTimersByTimeAsync(30_000);
    const all = await Promise.all(callers);
    expect(new Set(all.map((c) => c.accessKeyId)).size).toBe(1);
    expect(state.calls).toBe(5);
    // Capped exponential backoff with full jitter: the n-th retry within [0, 1 s × 2^(n-1)].
    retries.forEach((d, i) => expect(d).toBeLessThanOrEqual(1000 * 2 ** i));
    creds.close();
  });

  it("gives up at firstFetchTimeoutMs with the typed error and the last cause", async () => {
    let calls = 0;
    const creds = refreshable(
      Object.assign(
        async () => {
          calls++;
          throw throttling();
        },
        { sourceName: "sts:busy" },
      ),
      { firstFetchTimeoutMs: 20_000 },
    );
    let settled = false;
    const got = creds()
      .catch((e: unknown) => e as RefreshSessionError)
      .finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(900);
    expect(settled).toBe(false); // the first retries are within 1 s, 2 s…: callers still wait
    // Released by the deadline at the latest (earlier when the next retry would fall after it).
    await vi.advanceTimersByTimeAsync(19_101);
    expect(settled).toBe(true);
    const err = (await got) as RefreshSessionError;
    expect(err).toMatchObject({ code: "SOURCE_FAILED", source: "sts:busy" });
    expect(err!.message).toContain("Rate exceeded");
    expect(err!.message).toMatch(/\(\d+ attempts\)/);
    expect((err!.cause as RefreshSessionError).cause).toMatchObject({ name: "Throttling" });
    expect(calls).toBeGreaterThan(2);
    creds.close();
  });

  it("non-retryable errors (AccessDenied, an actionable login error) still fail at once", async () => {
    for (const error of [
      Object.assign(new Error("not authorized to perform sts:AssumeRole"), {
        name: "AccessDenied",
        $metadata: { httpStatusCode: 403 },
      }),
      new RefreshSessionError("SSO_LOGIN_REQUIRED", "Run aws sso login --profile dev"),
    ]) {
      let calls = 0;
      const creds = refreshable(async () => {
        calls++;
        throw error;
      });
      await expect(creds()).rejects.toMatchObject({ message: expect.stringContaining(error.message) });
      expect(calls).toBe(1);
      expect(creds.metrics().nextRefreshAt).toBeUndefined();
      creds.close();
    }
  });

  it("5xx, connection resets and timeouts are retryable; the SDK's classification decides", async () => {
    const { isRetryableSourceError } = await import("../src/refresh/retryable.js");
    const e = (props: Record<string, unknown>): Error => Object.assign(new Error("x"), props);
    expect(isRetryableSourceError(e({ name: "InternalFailure", $metadata: { httpStatusCode: 500 } }))).toBe(true);
    expect(isRetryableSourceError(e({ name: "ServiceUnavailable", $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isRetryableSourceError(e({ code: "ECONNRESET" }))).toBe(true);
    expect(isRetryableSourceError(e({ name: "TimeoutError" }))).toBe(true);
    expect(isRetryableSourceError(e({ name: "TooManyRequestsException", $metadata: { httpStatusCode: 429 } }))).toBe(
      true,
    );
    expect(
      isRetryableSourceError(new RefreshSessionError("SOURCE_FAILED", "wrapped", { cause: e({ name: "SlowDown" }) })),
    ).toBe(true);
    expect(isRetryableSourceError(e({ name: "AccessDenied", $metadata: { httpStatusCode: 403 } }))).toBe(false);
    expect(isRetryableSourceError(e({ name: "ValidationError", $metadata: { httpStatusCode: 400 } }))).toBe(false);
    expect(isRetryableSourceError(new Error("source is down"))).toBe(false);
  });
});

describe("refreshable: a caller awaiting an answer keeps the process alive until it has one", () => {
  // The engine's timers are unref'ed, but a caller whose answer only a timer can deliver (the retry of a failing
  // first fetch, the deadline of a source that never answers) must get it: Node must not exit mid-await with
  // status 0 and no error, as a script (or `aws-refresh status`) did when STS refused connections.
  const cases: [string, string][] = [
    [
      "a first fetch retried after connection refusals",
      `async () => { throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }); }, { retryBaseMs: 50, firstFetchTimeoutMs: 400 }`,
    ],
    ["a source that never answers", `() => new Promise(() => {}), { sourceTimeoutMs: 300, firstFetchTimeoutMs: 0 }`],
  ];
  it.each(cases)("%s: the caller gets SOURCE_FAILED before the process exits", async (_name, args) => {
    await ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), "ars-keepalive-"));
    const script = join(dir, "wait.mjs");
    writeFileSync(
      script,
      `import { refreshable } from ${JSON.stringify(pathToFileURL(join(ROOT, "dist/index.js")).href)};
       const engine = refreshable(${args});
       engine().then(() => console.log("credential"), (e) => console.log("error " + e.code));`,
    );
    const out = await promisify(execFile)(process.execPath, [script], { timeout: 30_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(out.stdout.trim()).toBe("error SOURCE_FAILED");
  });
});

describe("refresh durations", () => {
  it("are measured on the uncorrected clock when the corrected one moves during the call", async () => {
    // A session's clock follows AWS's: the source's own answer refines the offset, here by −800 ms during a 20-ms call.
    let t = 1_000_000;
    let offset = 0;
    const local = { now: () => t };
    const clock = { now: () => t + offset, local };
    const engine = refreshable(
      async () => {
        t += 20;
        offset -= 800;
        return { accessKeyId: "AKIDDURATION", secretAccessKey: "s", expiration: new Date(t + HOUR) };
      },
      { clock },
    );
    const durations: number[] = [];
    engine.on("refresh", (e) => durations.push(e.durationMs));
    try {
      await engine();
      expect(durations).toEqual([20]);
    } finally {
      engine.close();
    }
  });
});
