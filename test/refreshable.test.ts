import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AwsCredentialIdentity } from "@smithy/types";
import { RefreshSessionError } from "../src/errors.js";
import { refreshable, type RefreshableOptions } from "../src/refresh/refreshable.js";

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
    it(`${label}: clamps windows and refreshes once in the background, inside the advisory window`, async () => {
      const { state, source } = makeSource(lifetime);
      const creds = refreshable(source, { jitter: 0 });
      const first = await creds();
      const m = creds.metrics();
      expect(m.advisoryMs).toBe(advisory);
      expect(m.mandatoryMs).toBe(mandatory);
      const exp = first.expiration!.getTime();
      expect(m.nextRefreshAt!.getTime()).toBe(exp - advisory);
      // Just before the advisory window: still the first credential, no source call.
      await vi.advanceTimersByTimeAsync(lifetime - advisory - 1);
      expect((await creds()).accessKeyId).toBe(first.accessKeyId);
      expect(state.calls).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(state.calls).toBe(2);
      expect((await creds()).accessKeyId).not.toBe(first.accessKeyId);
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
    const at = creds.metrics().nextRefreshAt!.getTime();
    const advisoryStart = Date.now() + 45 * MIN;
    expect(at).toBeGreaterThan(advisoryStart + 1);
    vi.setSystemTime(at - 1); // inside the advisory window, before this engine's jittered time
    await creds();
    expect(state.calls).toBe(1);
    vi.setSystemTime(at + 1); // the timer's time has passed (as if it fired late): a caller may start it
    await creds();
    expect(state.calls).toBe(2);
    creds.close();
  });
});

describe("jitter", () => {
  it("spreads the refresh time over jitter × (advisory − mandatory) after the advisory start", async () => {
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const { source } = makeSource(HOUR);
      const creds = refreshable(source, { jitter: 1 });
      await creds();
      times.push(creds.metrics().nextRefreshAt!.getTime() - Date.now());
      creds.close();
    }
    const lo = HOUR - 15 * MIN;
    const hi = HOUR - 10 * MIN;
    expect(Math.min(...times)).toBeGreaterThanOrEqual(lo);
    expect(Math.max(...times)).toBeLessThanOrEqual(hi);
    // Spread, not clumped: every fifth of the span is used.
    const buckets = new Set(times.map((t) => Math.min(4, Math.floor(((t - lo) / (hi - lo)) * 5))));
    expect(buckets.size).toBe(5);
  });

  it("jitter 0 schedules every engine at the advisory start; 0.5 uses the first half of the span", async () => {
    const zero: number[] = [];
    const half: number[] = [];
    for (let i = 0; i < 50; i++) {
      for (const [jitter, out] of [
        [0, zero],
        [0.5, half],
      ] as const) {
        const { source } = makeSource(HOUR);
        const creds = refreshable(source, { jitter });
        await creds();
        out.push(creds.metrics().nextRefreshAt!.getTime() - Date.now());
        creds.close();
      }
    }
    expect(new Set(zero)).toEqual(new Set([45 * MIN]));
    expect(Math.max(...half)).toBeLessThanOrEqual(45 * MIN + 2.5 * MIN);
    expect(new Set(half).size).toBeGreaterThan(40);
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
