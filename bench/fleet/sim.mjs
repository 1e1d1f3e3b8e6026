// The simulated half of `npm run fleet`: thousands of this library's real engines (`refreshable()` from dist/) on a
// fake clock and fake timers (the engine's `clock` and `timers` options), against a model of STS with a quota and
// outages; and, on the same timeline and the same STS model, the SDK's lazy refresh as @smithy/core implements it.
// What is modelled and how is in docs/fleet.md ("The simulation").
import { refreshable } from "../../dist/index.js";

/** A seeded PRNG (mulberry32), installed as Math.random so a run (the engines' jitter included) is reproducible. */
export function seedRandom(seed) {
  let a = seed >>> 0;
  Math.random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fake clock with timers on a binary heap; `run(until)` fires them in order, letting promises settle between. */
export class FakeTime {
  now = 0;
  #heap = [];
  #seq = 0;
  clock = { now: () => this.now };
  timers = {
    setTimeout: (fn, ms) => this.at(this.now + Math.max(0, ms), fn),
    clearTimeout: (t) => {
      if (t) t.cancelled = true;
    },
  };

  /** Timers fire on a `gridMs` grid (rounded up), so that promises settle once per slot, not once per timer. */
  /** `settle`: let promises settle between slots (the engines need it; the callback-only SDK model does not). */
  constructor({ gridMs = 10, settle = true } = {}) {
    this.gridMs = gridMs;
    this.settle = settle;
  }

  at(when, fn) {
    when = Math.ceil(when / this.gridMs) * this.gridMs;
    const t = { when, seq: this.#seq++, fn, cancelled: false, unref() {} };
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p], t)) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = t;
    return t;
  }

  #pop() {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && less(h[r], h[l]) ? r : l;
        if (less(last, h[c])) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }

  async run(until) {
    const h = this.#heap;
    while (h.length > 0 && h[0].when <= until) {
      const when = h[0].when;
      this.now = when;
      while (h.length > 0 && h[0].when === when) {
        const t = this.#pop();
        if (!t.cancelled) t.fn();
      }
      if (this.settle) await new Promise((resolve) => setImmediate(resolve)); // promises settle before time moves on
    }
    this.now = until;
  }
}

function less(a, b) {
  return a.when < b.when || (a.when === b.when && a.seq < b.seq);
}

const MINUTE = 60_000;

/**
 * STS as the fleet sees it: answers after `latencyMs` (+ up to as much again), 503 `ServiceUnavailable` during an
 * outage, `Throttling` beyond the quota (a token bucket). Each call is what an SDK STS client makes of one request:
 * up to 3 attempts with the SDK's standard backoff (full jitter on 1 s for throttling, 50 ms otherwise, doubling).
 * Every attempt is counted in `bins` (per second).
 */
export function stsModel(time, { outages, quota, latencyMs = 30, lifetimeMs = 60 * MINUTE, bins }) {
  const bucket = quota ? { tokens: quota.burst, last: 0 } : undefined;
  let issued = 0;
  const counters = { attempts: 0, throttled: 0, unavailable: 0, ok: 0 };
  function attempt() {
    const now = time.now;
    counters.attempts++;
    const b = Math.floor(now / 1000);
    bins[b] = (bins[b] ?? 0) + 1;
    if (outages.some((o) => now >= o.from && now < o.to)) {
      counters.unavailable++;
      return Object.assign(new Error("Service Unavailable"), {
        name: "ServiceUnavailable",
        $metadata: { httpStatusCode: 503 },
      });
    }
    if (bucket) {
      bucket.tokens = Math.min(quota.burst, bucket.tokens + ((now - bucket.last) * quota.rate) / 1000);
      bucket.last = now;
      if (bucket.tokens < 1) {
        counters.throttled++;
        return Object.assign(new Error("Rate exceeded"), { name: "Throttling", $metadata: { httpStatusCode: 400 } });
      }
      bucket.tokens -= 1;
    }
    counters.ok++;
    issued++;
    return {
      accessKeyId: `ASIASIM${issued}`,
      secretAccessKey: "simulated",
      sessionToken: "simulated",
      expiration: new Date(now + lifetimeMs),
    };
  }
  /** One SDK request with its retries; `done(error, credential)`. Callbacks, not promises: the SDK model is hot. */
  function callback(done) {
    const go = (n) => {
      time.timers.setTimeout(
        () => {
          const r = attempt();
          if (!(r instanceof Error)) return done(undefined, r);
          if (n >= 3) return done(r);
          const base = r.name === "Throttling" ? 1000 : 50;
          time.timers.setTimeout(() => go(n + 1), Math.random() * Math.min(base * 2 ** (n - 1), 20_000));
        },
        latencyMs * (1 + Math.random()),
      );
    };
    go(1);
  }
  const call = () => new Promise((resolve, reject) => callback((err, c) => (err ? reject(err) : resolve(c))));
  return { call, callback, counters };
}

/**
 * The SDK's lazy refresh, as `memoizeIdentityProvider` with `isIdentityExpired` in @smithy/core does it: a call that
 * finds no credential, or one with less than 5 minutes left (`EXPIRATION_MS` = 300000), calls the provider and waits
 * (concurrent calls share one provider call); if the provider fails, the call fails, valid credential or not.
 */
function lazySdkSession(sts) {
  let cred;
  let waiting; // callbacks of the calls sharing the provider call in flight
  return {
    valid: (now) => cred !== undefined && cred.expiration.getTime() > now,
    getCallback(now, done) {
      if (cred !== undefined && cred.expiration.getTime() - now >= 300_000) return done();
      if (waiting) return void waiting.push(done);
      waiting = [done];
      sts.callback((err, c) => {
        const w = waiting;
        waiting = undefined;
        if (!err) cred = c;
        for (const fn of w) fn(err);
      });
    },
    /** When a call could next do anything but return the held credential. */
    riskAt: () => (cred === undefined ? 0 : cred.expiration.getTime() - 300_000),
  };
}

/** This library's engine over the same STS model, on the fake clock. */
function engineSession(sts, time, onChange) {
  const engine = refreshable(() => sts.call(), { clock: time.clock, timers: time.timers, name: "sts:sim" });
  let expiresAt;
  let mandatoryMs = 0;
  const s = {
    valid: (now) => expiresAt !== undefined && expiresAt > now,
    get: () => engine(),
    // Outside its mandatory window an eager engine answers every caller from what it holds (decision.ts), so the
    // caller need not be simulated there: the answer and the engine's state are the same either way.
    riskAt: () => (expiresAt === undefined ? 0 : expiresAt - mandatoryMs),
    close: () => engine.close(),
  };
  engine.on("refresh", (e) => {
    expiresAt = e.expiration.getTime();
    mandatoryMs = Math.min(10 * MINUTE, (expiresAt - time.now) / 4);
    onChange();
  });
  return s;
}

/**
 * One simulated timeline for `kind` ("ours" or "sdk"): `sessions` sessions start uniformly over `waveMs` (a
 * deployment); each has a worker that calls for credentials once a second (and waits for an answer before its next
 * call); STS has `quota` and `outages`. Returns per-second STS attempts, caller errors, and time to healthy.
 */
export async function simulate({
  kind,
  sessions,
  waveMs,
  durationMs,
  quota,
  outages,
  seed = 1,
  callEveryMs = 1000,
  lifetimeMs = 60 * MINUTE,
}) {
  seedRandom(seed);
  const time = new FakeTime({ settle: kind === "ours" });
  const bins = [];
  const sts = stsModel(time, { outages, quota, bins, lifetimeMs });
  const fleet = [];
  const firstServedAt = new Float64Array(sessions).fill(NaN);
  const startedAt = new Float64Array(sessions);
  const errorBins = [];
  let callerErrors = 0;
  let calls = 0;
  let lastErrorAt = -1;
  // Sessions whose worker may get anything but the held credential now: they are the ones whose calls are simulated.
  // Each worker calls at its own phase: session i in slot i mod `slots`, one slot every 100 ms.
  const slots = Math.max(1, Math.round(callEveryMs / 100));
  const activeBySlot = Array.from({ length: slots }, () => new Set());
  const active = {
    add: (i) => activeBySlot[i % slots].add(i),
    delete: (i) => activeBySlot[i % slots].delete(i),
  };
  const pending = new Uint8Array(sessions);
  const riskTimers = new Array(sessions);
  function watch(i) {
    const s = fleet[i];
    time.timers.clearTimeout(riskTimers[i]);
    const at = s.riskAt();
    if (at <= time.now) active.add(i);
    else {
      active.delete(i);
      riskTimers[i] = time.at(at, () => active.add(i));
    }
  }
  for (let i = 0; i < sessions; i++) {
    const s = kind === "ours" ? engineSession(sts, time, () => watch(i)) : lazySdkSession(sts);
    fleet.push(s);
    startedAt[i] = (i / sessions) * waveMs;
    time.at(startedAt[i], () => {
      active.add(i);
      callOne(i); // a worker's first call comes as it starts
    });
  }
  const callOne = (i) => {
    const now = time.now;
    {
      if (pending[i]) return;
      pending[i] = 1;
      calls++;
      const s = fleet[i];
      const ok = () => {
        pending[i] = 0;
        if (Number.isNaN(firstServedAt[i])) firstServedAt[i] = time.now;
        if (kind === "sdk") watch(i);
      };
      const failed = () => {
        pending[i] = 0;
        callerErrors++;
        lastErrorAt = time.now;
        const b = Math.floor(time.now / 1000);
        errorBins[b] = (errorBins[b] ?? 0) + 1;
      };
      if (kind === "sdk") s.getCallback(now, (err) => (err ? failed() : ok()));
      else s.get().then(ok, failed);
    }
  };
  const tick = (slot) => {
    for (const i of activeBySlot[slot]) callOne(i);
    time.at(time.now + callEveryMs, () => tick(slot));
  };
  for (let k = 0; k < slots; k++) time.at(k * 100, () => tick(k));
  // Sessions without a valid credential, sampled every 10 s.
  const invalid = [];
  const sample = () => {
    let n = 0;
    for (let i = 0; i < sessions; i++) if (!Number.isNaN(firstServedAt[i]) && !fleet[i].valid(time.now)) n++;
    invalid.push(n);
    time.at(time.now + 10_000, sample);
  };
  time.at(0, sample);
  await time.run(durationMs);
  for (const s of fleet) s.close?.();
  const served = Array.from(firstServedAt).filter((x) => !Number.isNaN(x));
  let firstWaitMax = 0;
  for (let i = 0; i < sessions; i++) firstWaitMax = Math.max(firstWaitMax, firstServedAt[i] - startedAt[i]);
  const series = Array.from({ length: Math.ceil(durationMs / 1000) }, (_, b) => bins[b] ?? 0);
  return {
    kind,
    sessions,
    series,
    errorSeries: Array.from({ length: series.length }, (_, b) => errorBins[b] ?? 0),
    invalid,
    callerCalls: calls,
    callerErrors,
    lastErrorAt,
    allServedAt: served.length === sessions ? Math.max(...served) : Infinity,
    /** Longest wait of a session for its first credential, from its start (NaN: one was never served). */
    firstWaitMaxMs: firstWaitMax,
    sts: sts.counters,
  };
}

/** Busiest `windowS`-second window (sliding, over per-second bins) of `series` in [fromS, toS) ÷ the mean window. */
export function busiestOverMean(series, fromS, toS, windowS) {
  const xs = series.slice(fromS, toS);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < xs.length; i++) {
    sum += xs[i] - (i >= windowS ? xs[i - windowS] : 0);
    if (i >= windowS - 1) max = Math.max(max, sum);
  }
  const mean = (xs.reduce((a, b) => a + b, 0) * windowS) / xs.length;
  return { max, mean, ratio: mean > 0 ? max / mean : 0 };
}

/**
 * The same ratio for `count` refreshes at independent uniform random times in a span of `spanS` seconds: the floor
 * that counting noise alone sets for a window of `windowS` seconds (the mean of `trials` draws).
 */
export function randomFloor(count, spanS, windowS, trials = 5) {
  let total = 0;
  for (let t = 0; t < trials; t++) {
    const bins = new Array(spanS).fill(0);
    for (let i = 0; i < count; i++) bins[Math.floor(Math.random() * spanS)]++;
    total += busiestOverMean(bins, 0, spanS, windowS).ratio;
  }
  return total / trials;
}
