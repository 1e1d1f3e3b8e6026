// `npm run fleet` (builds first): how a fleet of sessions refreshes, starts against a quota and rides out STS outages.
//   1. real sessions (each its own STS and S3 clients) in this process against the emulator (in a child process);
//   2. this library's real engines on a fake clock, 10,000 and 100,000 of them, and the SDK's lazy refresh on the same
//      timeline and the same model of STS;
//   3. bench/fleet.svg: STS calls per second over time, ours against the SDK's.
// Figures are printed with their targets (PASS/MISS) and written to bench/results-fleet.json. `--quick`: a smaller run.
// What each figure means, and why a target is missed when one is: docs/fleet.md.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { getHeapStatistics } from "node:v8";
import { evenRefresh, throttledStart } from "./fleet/real.mjs";
import { busiestOverMean, randomFloor, simulate } from "./fleet/sim.mjs";
import { plotCallsPerSecond } from "./fleet/svg.mjs";

// 100,000 engines need more than Node's default heap on small machines: run again with 6 GB.
if (getHeapStatistics().heap_size_limit < 6000 * 2 ** 20) {
  const args = ["--max-old-space-size=6144", fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  process.exit(spawnSync(process.execPath, args, { stdio: "inherit" }).status ?? 1);
}
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const quick = process.argv.includes("--quick");
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7); // real | sim, for a partial run
const started = performance.now();
const results = { quick, node: process.version, startedAt: new Date().toISOString() };
const misses = [];

function verdict(name, value, target, ok) {
  if (!ok) misses.push(name);
  return `${ok ? "PASS" : "MISS"}  ${name}: ${value} (target ${target})`;
}
const line = (s = "") => console.log(s);
const r2 = (x) => (Number.isFinite(x) ? +x.toFixed(2) : x);
const MIN = 60_000;

// ---------------------------------------------------------------------------------------------------------------
// 1. Real sessions against the emulator.
if (only !== "sim") {
  const a = quick ? { sessions: 300, runS: 60 } : { sessions: 1000, runS: 120 };
  line(`\n== (a) ${a.sessions} sessions, one wave, 20-s credentials, no quota, ${a.runS} s ==`);
  const even = await evenRefresh({ ...a, lifetimeS: 20, askEveryMs: 1000, requestEveryMs: 20_000 });
  const span = even.runS - even.lifetimeS;
  const floor = randomFloor(Math.round((even.mean2s * span) / 2), span, 2);
  results.evenRefresh = { ...even, randomFloor2s: r2(floor) };
  line(
    verdict(
      "busiest 2-s window of refreshes ÷ mean (from the 2nd lifetime on)",
      even.busiestOverMean,
      "<= 1.2",
      even.busiestOverMean <= 1.2,
    ),
  );
  line(
    `      the engines' own schedule (nextRefreshAt): ${even.scheduledBusiestOverMean}; at the emulator: ${even.arrivalsBusiestOverMean}`,
  );
  line(`      independent uniform random times, same count (counting-noise floor): ${r2(floor)}`);
  line(
    verdict(
      "source calls per session per refresh period (steady state)",
      even.callsPerSessionPerPeriod,
      "<= 1.1",
      even.callsPerSessionPerPeriod <= 1.1,
    ),
  );
  line(
    `      refresh period ${even.refreshPeriodS} s; ${even.emulatorAssumeRoleCalls} AssumeRole calls, ${even.failedSourceCalls} failed ${JSON.stringify(even.failureNames)}`,
  );
  line(verdict("caller errors", even.callerErrors, "0", even.callerErrors === 0));
  line(
    `      ${even.requests} signed S3 requests, ${even.asks} credential asks; errors ${JSON.stringify(even.errorNames)}`,
  );
  line(
    `      host: event-loop delay p99 ${even.eventLoopDelayP99Ms} ms, max ${even.eventLoopDelayMaxMs} ms; CPU ${even.cpuShareOfOneCore} of a core; heap ${even.heapMB} MB; wall ${even.wallS} s`,
  );

  // The same fleet on the fake clock (the simulation below): what the engines do when the host never stalls.
  {
    const n = a.sessions;
    const r = await simulate({
      kind: "ours",
      sessions: n,
      waveMs: 0,
      durationMs: a.runS * 1000,
      outages: [],
      lifetimeMs: 20_000,
      callEveryMs: 1000,
    });
    const w = busiestOverMean(r.series, 20, a.runS, 2);
    const count = r.series.slice(20).reduce((x, y) => x + y, 0);
    const f = randomFloor(count, a.runS - 20, 2, 20);
    results.evenRefreshSimulated = { sessions: n, busiestOverMean: r2(w.ratio), randomFloor2s: r2(f) };
    line(
      `      the same ${n} sessions on a fake clock (no host stalls): ${r2(w.ratio)}; its counting-noise floor ${r2(f)}`,
    );
  }

  const b = { sessions: quick ? 100 : 200, rate: 25, burst: 25, retryEveryMs: 250 };
  results.throttledStart = [];
  for (const ownLimiter of [false, true]) {
    line(
      `\n== (b) ${b.sessions} sessions, one wave, AssumeRole quota ${b.rate}/s (burst ${b.burst}); rate limiter ${ownLimiter ? "of its own per session (as separate processes)" : "shared by the process (the library's default)"} ==`,
    );
    const t = await throttledStart({ ...b, ownLimiter });
    results.throttledStart.push(t);
    line(verdict("caller errors", t.callerErrors, "0", t.callerErrors === 0));
    const ratio = r2(t.allHealthyFromFirstCallS / t.minimumS);
    line(
      verdict(
        `time until all healthy ÷ the quota's minimum (${t.minimumS} s)`,
        `${t.allHealthyFromFirstCallS} s from the first AssumeRole = ${ratio}x`,
        "<= 1.2x",
        ratio <= 1.2,
      ),
    );
    line(
      `      from the wave's start ${t.allHealthyS} s (the first AssumeRole left ${t.firstCallS} s in: the clients' start-up); median session ${t.medianHealthyS} s; the bucket's own minimum (burst ${b.burst}) ${t.bucketMinimumS} s`,
    );
    line(
      verdict(
        "throttled calls per success",
        `${t.throttledPerSuccess} (${t.throttled} for ${t.successes})`,
        "<= 0.5",
        t.throttledPerSuccess <= 0.5,
      ),
    );
    line(`      host: event-loop delay p99 ${t.eventLoopDelayP99Ms} ms; CPU ${t.cpuShareOfOneCore} of a core`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Simulation: real engines on a fake clock.
if (only !== "real") {
  const calmN = quick ? 2_000 : 10_000;
  line(
    `\n== simulation: ${calmN.toLocaleString("en")} sessions, 1-hour credentials, a 60-s deployment wave, no quota, 4 h ==`,
  );
  const calm = {};
  for (const kind of ["ours", "sdk"]) {
    const t = performance.now();
    const r = await simulate({
      kind,
      sessions: calmN,
      waveMs: MIN,
      durationMs: 240 * MIN,
      outages: [],
      callEveryMs: 5000,
    });
    const w2 = busiestOverMean(r.series, 3600, 240 * 60, 2);
    const w6 = busiestOverMean(r.series, 3600, 240 * 60, 360);
    const count = r.series.slice(3600).reduce((x, y) => x + y, 0);
    calm[kind] = {
      busiest2sOverMean: r2(w2.ratio),
      busiest6minOverMean: r2(w6.ratio),
      floor2s: r2(randomFloor(count, 180 * 60, 2)),
      floor6min: r2(randomFloor(count, 180 * 60, 360)),
      callsPerSessionPerHour: r2(count / calmN / 3),
      callerErrors: r.callerErrors,
      wallS: r2((performance.now() - t) / 1000),
    };
  }
  results.simCalm = { sessions: calmN, ...calm };
  const c = calm.ours;
  line(
    verdict(
      "busiest 2-s window ÷ mean, from the 2nd hour on",
      c.busiest2sOverMean,
      "<= 1.2",
      c.busiest2sOverMean <= 1.2,
    ),
  );
  line(
    `      counting-noise floor (independent uniform random times, same count): ${c.floor2s}; the SDK's lazy refresh: ${calm.sdk.busiest2sOverMean}`,
  );
  line(
    verdict(
      "busiest 6-min window ÷ mean (a tenth of the lifetime, as 2 s is of 20 s)",
      c.busiest6minOverMean,
      "<= 1.2",
      c.busiest6minOverMean <= 1.2,
    ),
  );
  line(`      counting-noise floor ${c.floor6min}; the SDK's lazy refresh: ${calm.sdk.busiest6minOverMean}`);
  line(
    `      STS calls per session per hour: ours ${c.callsPerSessionPerHour}, the SDK's ${calm.sdk.callsPerSessionPerHour}`,
  );

  const storm = {
    waveMs: MIN,
    durationMs: 240 * MIN,
    quota: { rate: 600, burst: 600 },
    outages: [
      { from: 70 * MIN, to: 75 * MIN },
      { from: 150 * MIN, to: 170 * MIN },
    ],
    callEveryMs: 5000,
  };
  const phases = [
    { name: "deployment wave", from: 0, to: 70 * 60, end: 60 },
    { name: "5-min outage", from: 70 * 60, to: 150 * 60, end: 75 * 60 },
    { name: "20-min outage", from: 150 * 60, to: 240 * 60, end: 170 * 60 },
  ];
  const sizes = quick ? [2_000, 10_000] : [10_000, 100_000];
  results.simStorm = [];
  let plotted;
  for (const n of sizes) {
    line(
      `\n== simulation: ${n.toLocaleString("en")} sessions, 1-hour credentials, 60-s wave, STS quota 600/s, outages at 70-75 and 150-170 min, callers every 5 s ==`,
    );
    const runs = {};
    for (const kind of ["ours", "sdk"]) {
      const t = performance.now();
      const r = await simulate({ kind, sessions: n, ...storm });
      r.wallS = r2((performance.now() - t) / 1000);
      runs[kind] = r;
      line(
        `      ${kind === "ours" ? "ours" : "the SDK's lazy refresh"}: simulated in ${r.wallS} s, ${r.callerErrors} caller errors`,
      );
    }
    const rows = [];
    for (const p of phases) {
      for (const kind of ["ours", "sdk"]) {
        const r = runs[kind];
        const slice = r.series.slice(p.from, p.to);
        const errs = r.errorSeries.slice(p.from, p.to);
        const errors = errs.reduce((x, y) => x + y, 0);
        let lastErr = -1;
        errs.forEach((e, i) => e > 0 && (lastErr = p.from + i + 1));
        // Healthy: no caller error any more and every session holding a valid credential (sampled every 10 s).
        let lastInvalid = -1;
        for (let i = Math.floor(p.from / 10); i < Math.floor(p.to / 10); i++)
          if (r.invalid[i] > 0) lastInvalid = i * 10 + 10;
        // For the wave: the longest any session waited for its first credential, from its own start.
        const healthyAt =
          p.name === "deployment wave" ? p.end + r.firstWaitMaxMs / 1000 : Math.max(lastErr, lastInvalid);
        rows.push({
          phase: p.name,
          kind,
          peakPerS: Math.max(...slice),
          meanPerS: r2(slice.reduce((x, y) => x + y, 0) / slice.length),
          callerErrors: errors,
          maxSessionsWithoutCredential: Math.max(...r.invalid.slice(Math.floor(p.from / 10), Math.floor(p.to / 10))),
          healthyAfterS: healthyAt < 0 ? 0 : r2(healthyAt - p.end),
        });
      }
    }
    results.simStorm.push({
      sessions: n,
      rows,
      wallS: { ours: runs.ours.wallS, sdk: runs.sdk.wallS },
      sts: { ours: runs.ours.sts, sdk: runs.sdk.sts },
    });
    line(
      "phase            refresh  peak calls/s  mean calls/s  caller errors  max without credential  healthy after (s)",
    );
    for (const x of rows) {
      line(
        `${x.phase.padEnd(17)}${(x.kind === "ours" ? "ours" : "SDK lazy").padEnd(9)}${String(x.peakPerS).padStart(12)}` +
          `${String(x.meanPerS).padStart(14)}${String(x.callerErrors).padStart(15)}${String(x.maxSessionsWithoutCredential).padStart(24)}` +
          `${String(x.healthyAfterS).padStart(19)}`,
      );
    }
    line(
      `      "healthy after": for the wave, the longest a session waited for its first credential; for an outage, seconds from its end until the last caller error and the last session without a valid credential`,
    );
    line(
      `      STS attempts in all: ours ${runs.ours.sts.attempts} (${runs.ours.sts.throttled} throttled), SDK ${runs.sdk.sts.attempts} (${runs.sdk.sts.throttled} throttled); simulated in ${runs.ours.wallS} s and ${runs.sdk.wallS} s`,
    );
    if (n === 10_000 || !plotted) plotted = { n, ours: runs.ours.series, sdk: runs.sdk.series };
  }

  // -------------------------------------------------------------------------------------------------------------
  // 3. The plot.
  const svg = plotCallsPerSecond({
    title: `STS calls per second: ${plotted.n.toLocaleString("en")} sessions, 1-hour credentials (simulated, real engines)`,
    subtitle:
      "60-s deployment wave at 0; STS quota 600/s; region-wide STS outages of 5 and 20 minutes; callers every 5 s",
    series: [
      {
        label: "aws-refresh-session (background refresh, spread, static stability)",
        color: "#1565c0",
        perSecond: plotted.ours,
      },
      {
        label: "AWS SDK lazy refresh (a call within 5 min of expiry refreshes)",
        color: "#e65100",
        perSecond: plotted.sdk,
      },
    ],
    bucketS: 10,
    outages: storm.outages.map((o) => ({
      fromS: o.from / 1000,
      toS: o.to / 1000,
      label: `${(o.to - o.from) / MIN}-min outage`,
    })),
    quota: storm.quota.rate,
  });
  writeFileSync(new URL("./fleet.svg", import.meta.url), svg);
  line("\nwrote bench/fleet.svg");
}

results.wallS = r2((performance.now() - started) / 1000);
results.misses = misses;
const file = new URL("./results-fleet.json", import.meta.url);
// A partial run (--only=…) replaces its own part of the last results and keeps the rest.
const previous = only && existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
const kept = only ? Object.fromEntries(Object.entries(previous).filter(([k]) => !(k in results))) : {};
writeFileSync(file, JSON.stringify({ ...kept, ...results, ...(only ? { partial: only } : {}) }, null, 2) + "\n");
line(`\nwrote bench/results-fleet.json; wall time ${results.wallS} s`);
line(
  misses.length
    ? `MISSED ${misses.length} target(s): ${misses.join("; ")} — see docs/fleet.md for why`
    : "all targets met",
);
