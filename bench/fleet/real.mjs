// The real-session half of `npm run fleet`: sessions of this library (each its own STS and S3 clients) against the
// emulator, in this one process, on the real clock. See docs/fleet.md for what each figure means.
import { fork } from "node:child_process";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { AdaptiveRetryStrategy, DefaultRateLimiter } from "@smithy/core/retry";
import { RefreshableSession } from "../../dist/index.js";

const ROLE = "arn:aws:iam::123456789012:role/fleet";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The busiest `windowMs` window (sliding, over event times) of `times` inside [from, to), and the mean per window. */
export function busiestWindow(times, from, to, windowMs) {
  const t = times.filter((x) => x >= from && x < to).sort((a, b) => a - b);
  let max = 0;
  let j = 0;
  for (let i = 0; i < t.length; i++) {
    while (t[i] - t[j] >= windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  // Windows wholly inside [from, to): the busiest must start at or after `from` and end by `to`.
  const mean = (t.length * windowMs) / (to - from);
  return { max, mean, ratio: mean > 0 ? max / mean : 0, count: t.length };
}

/** Calls per second in `binMs` bins, for the plot. */
export function perSecond(times, from, to, binMs) {
  const bins = new Array(Math.ceil((to - from) / binMs)).fill(0);
  for (const x of times) {
    const i = Math.floor((x - from) / binMs);
    if (i >= 0 && i < bins.length) bins[i]++;
  }
  return bins.map((n) => (n * 1000) / binMs);
}

/** The emulator in a child process (bench/fleet/emulator-child.mjs), driven over IPC. */
async function startRemoteEmulator(options) {
  const child = fork(fileURLToPath(new URL("./emulator-child.mjs", import.meta.url)), [JSON.stringify(options)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ready = await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`the emulator process exited with ${code}`)));
  });
  let next = 0;
  const ask = (cmd) =>
    new Promise((resolve) => {
      const id = ++next;
      const on = (m) => {
        if (m.id !== id) return;
        child.off("message", on);
        resolve(m);
      };
      child.on("message", on);
      child.send({ cmd, id });
    });
  return {
    url: ready.url,
    rootCredentials: ready.rootCredentials,
    mark: () => ask("mark"),
    stats: () => ask("stats"),
    close: async () => {
      await ask("close");
      await new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve()));
    },
  };
}

function newSession(emu, i, opts) {
  const stsClientConfig = { endpoint: emu.url };
  if (opts.ownLimiter) {
    // What separate processes would have: a client-side rate limiter of their own, learning the quota alone.
    stsClientConfig.retryStrategy = new AdaptiveRetryStrategy(3, { rateLimiter: new DefaultRateLimiter() });
  }
  const session = new RefreshableSession({
    method: "sts",
    assumeRole: { RoleArn: ROLE, RoleSessionName: `fleet-${i}` },
    sourceCredentials: async () => emu.rootCredentials,
    stsClientConfig,
    region: "us-east-1",
  });
  const s3 = session.client(S3Client, { endpoint: emu.url, forcePathStyle: true });
  return { session, s3 };
}

async function get(s3) {
  const o = await s3.send(new GetObjectCommand({ Bucket: "fleet", Key: "k" }));
  await o.Body.transformToString();
}

/** Event-loop delay and CPU share of this process over a scenario: how much of the host the sessions really had. */
function hostMonitor() {
  const h = monitorEventLoopDelay({ resolution: 20 });
  h.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    h.disable();
    const c = process.cpuUsage(cpu0);
    return {
      eventLoopDelayP99Ms: +(h.percentile(99) / 1e6).toFixed(1),
      eventLoopDelayMaxMs: +(h.max / 1e6).toFixed(1),
      cpuShareOfOneCore: +((c.user + c.system) / 1000 / (performance.now() - t0)).toFixed(2),
      heapMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    };
  };
}

/**
 * Scenario (a): `sessions` sessions started in one wave, `lifetimeS`-second credentials, no quota, for `runS` seconds.
 * Every session's first call (the wave) asks its engine for credentials, which fetches them with the session's own
 * STS client; after it, each session asks again every `askEveryMs` and sends a signed S3 request (its own S3 client)
 * every `requestEveryMs`, both at a random phase. Source
 * calls are timed when they end (each session's `refresh` and `refresh-failed` events), and the times the engines
 * scheduled them for are kept too (`metrics().nextRefreshAt`), to tell the engine's spread from the host's lateness.
 */
export async function evenRefresh({ sessions, lifetimeS, runS, askEveryMs, requestEveryMs }) {
  const emu = await startRemoteEmulator({ credentialLifetimeSeconds: lifetimeS });
  const calls = []; // ms since t0 of every source call's end
  const scheduled = []; // ms since t0 the engines set their next refresh for
  let failedCalls = 0;
  let callerErrors = 0;
  const errorNames = {};
  const failureNames = {};
  let requests = 0;
  let asks = 0;
  const fleet = Array.from({ length: sessions }, (_, i) => newSession(emu, i, {}));
  const wallT0 = Date.now();
  const t0 = performance.now();
  const toT0 = (d) => d.getTime() - wallT0;
  for (const { session } of fleet) {
    // The engine sets its next timer after emitting `refresh`: read it once the handler's turn is over.
    const noteSchedule = () =>
      queueMicrotask(() => {
        const at = session.credentials.metrics().nextRefreshAt;
        if (at) scheduled.push(toT0(at));
      });
    session.on("refresh", () => {
      calls.push(performance.now() - t0);
      noteSchedule();
    });
    session.on("refresh-failed", (e) => {
      calls.push(performance.now() - t0);
      failedCalls++;
      const k = e.timedOut ? "timeout" : (e.error.cause?.name ?? e.error.name);
      failureNames[k] = (failureNames[k] ?? 0) + 1;
    });
  }
  const fail = (err) => {
    callerErrors++;
    const k = err?.code ?? err?.name ?? "Error";
    errorNames[k] = (errorNames[k] ?? 0) + 1;
  };
  await emu.mark();
  const host = hostMonitor();
  const end = t0 + runS * 1000;
  await Promise.all(
    fleet.map(async ({ session, s3 }) => {
      // The wave: every session's first call at once, through its engine and its own STS client.
      try {
        await session.getCredentials();
        asks++;
      } catch (err) {
        fail(err);
      }
      const start = performance.now();
      let nextAsk = start + Math.random() * askEveryMs;
      let nextRequest = start + Math.random() * requestEveryMs;
      for (;;) {
        const next = Math.min(nextAsk, nextRequest);
        if (next >= end) break;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        try {
          if (next === nextRequest) {
            nextRequest += requestEveryMs;
            await get(s3);
            requests++;
          } else {
            nextAsk += askEveryMs;
            const c = await session.getCredentials();
            asks++;
            if (c.expiration && c.expiration.getTime() <= Date.now()) throw new Error("expired credential served");
          }
        } catch (err) {
          fail(err);
        }
      }
    }),
  );
  const hostFigures = host();
  const wallMs = performance.now() - t0;
  const stats = await emu.stats();
  const from = lifetimeS * 1000; // from the second credential lifetime on: the first fetch's wave is behind
  const to = runS * 1000;
  const window = busiestWindow(calls, from, to, 2000);
  const planned = busiestWindow(scheduled, from, to, 2000);
  // The emulator's own count of AssumeRole arrivals, in 100-ms bins: the busiest 20 bins against the mean.
  const arrivals = stats.bins.slice(from / 100, to / 100);
  let busiestArrivals = 0;
  for (let i = 0, sum = 0; i < arrivals.length; i++) {
    sum += arrivals[i] - (i >= 20 ? arrivals[i - 20] : 0);
    if (i >= 19) busiestArrivals = Math.max(busiestArrivals, sum);
  }
  const meanArrivals = (arrivals.reduce((x, y) => x + y, 0) * 20) / Math.max(1, arrivals.length);
  // The refresh period the engine aims at: the advisory point (half the life, clamped) plus half the jitter span.
  const advisory = Math.min(15 * 60, lifetimeS / 2);
  const mandatory = Math.min(10 * 60, lifetimeS / 4);
  const periodS = lifetimeS - advisory + (0.5 * (advisory - mandatory)) / 2;
  const steadyArrivals = arrivals.reduce((x, y) => x + y, 0);
  const perPeriod = steadyArrivals / sessions / ((to - from) / 1000 / periodS);
  const out = {
    sessions,
    lifetimeS,
    runS,
    wallS: +(wallMs / 1000).toFixed(1),
    sourceCalls: calls.length,
    emulatorAssumeRoleCalls: stats.calls,
    failedSourceCalls: failedCalls,
    failureNames,
    requests,
    asks,
    callerErrors,
    errorNames,
    busiest2s: window.max,
    mean2s: +window.mean.toFixed(1),
    busiestOverMean: +window.ratio.toFixed(3),
    arrivalsBusiestOverMean: +(busiestArrivals / meanArrivals).toFixed(3),
    scheduledBusiestOverMean: +planned.ratio.toFixed(3),
    refreshPeriodS: periodS,
    callsPerSessionPerPeriod: +perPeriod.toFixed(3),
    ...hostFigures,
    series: perSecond(calls, 0, to, 1000),
  };
  for (const { session, s3 } of fleet) {
    session.close();
    s3.destroy();
  }
  await emu.close();
  return out;
}

/**
 * Scenario (b): `sessions` sessions started in one wave against an AssumeRole quota of `rate`/s (burst `burst`), each
 * caller sending a signed S3 request, and again `retryEveryMs` after a failure, until every session has been served;
 * 1-hour credentials. `ownLimiter`: each session's STS client gets a rate limiter of its own, as separate processes
 * would have, instead of the one this library shares between the clients of a process.
 */
export async function throttledStart({ sessions, rate, burst, retryEveryMs, ownLimiter, giveUpS = 120 }) {
  const emu = await startRemoteEmulator({ quotas: { "sts:AssumeRole": { rate, burst } } });
  const fleet = Array.from({ length: sessions }, (_, i) => newSession(emu, i, { ownLimiter }));
  const healthyAt = new Array(sessions).fill(undefined);
  let callerErrors = 0;
  const errorNames = {};
  let refreshes = 0;
  for (const { session } of fleet) session.on("refresh", () => refreshes++);
  await emu.mark();
  const host = hostMonitor();
  const t0 = performance.now();
  await Promise.all(
    fleet.map(async ({ s3 }, i) => {
      while (healthyAt[i] === undefined && performance.now() - t0 < giveUpS * 1000) {
        try {
          await get(s3);
          healthyAt[i] = performance.now() - t0;
        } catch (err) {
          callerErrors++;
          const name = err?.code ?? err?.name ?? "Error";
          errorNames[name] = (errorNames[name] ?? 0) + 1;
          await sleep(retryEveryMs);
        }
      }
    }),
  );
  const hostFigures = host();
  const stats = await emu.stats();
  const firstBin = stats.bins.findIndex((n) => n > 0);
  const firstCallS = firstBin < 0 ? 0 : firstBin / 10;
  const served = healthyAt.filter((x) => x !== undefined).sort((a, b) => a - b);
  const allHealthyS = served.length === sessions ? served[served.length - 1] / 1000 : Infinity;
  const successes = stats.calls - stats.throttled;
  const out = {
    sessions,
    quota: { rate, burst },
    limiter: ownLimiter ? "one per session (as separate processes)" : "one per endpoint, shared in the process",
    callerErrors,
    errorNames,
    firstCallS,
    allHealthyS: +allHealthyS.toFixed(2),
    allHealthyFromFirstCallS: +(allHealthyS - firstCallS).toFixed(2),
    medianHealthyS: +((served[Math.floor(served.length / 2)] ?? 0) / 1000).toFixed(2),
    minimumS: sessions / rate,
    bucketMinimumS: Math.max(0, (sessions - burst) / rate),
    assumeRoleCalls: stats.calls,
    throttled: stats.throttled,
    successes,
    engineRefreshes: refreshes,
    throttledPerSuccess: +(stats.throttled / successes).toFixed(3),
    ...hostFigures,
    okPerSecond: stats.bins.slice(firstBin, firstBin + 200).map((n, i) => n - stats.throttledBins[firstBin + i]),
    throttledPerSecond: stats.throttledBins.slice(firstBin, firstBin + 200),
  };
  for (const { session, s3 } of fleet) {
    session.close();
    s3.destroy();
  }
  await emu.close();
  return out;
}
