// Benchmarks, side by side with the SDK's own providers in one run. `npm run bench` builds first.
// Figures are printed as a table and written to bench/results-core.json. Nothing here is a pass/fail test.
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { SMITHY_CONTEXT_KEY } from "@smithy/types";
import { RefreshableSession } from "../dist/index.js";
import { startEmulator } from "../dist/testing.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const quick = process.argv.includes("--quick");
const results = {};
const ROLE = "arn:aws:iam::123456789012:role/bench";

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

/** Runs `concurrency` loops of `op` for `ms`; returns requests/s and latencies. */
async function load(op, { concurrency, ms }) {
  const lat = [];
  let errors = 0;
  const errorNames = {};
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await op(i);
        } catch (err) {
          errors++;
          const name = err?.name ?? "Error";
          errorNames[name] = (errorNames[name] ?? 0) + 1;
        }
        lat.push(performance.now() - t);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return {
    rps: lat.length / (ms / 1000),
    count: lat.length,
    errors,
    errorNames,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    max: lat.at(-1) ?? 0,
    lat,
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// 1. Hot path: signed-request throughput, session vs the SDK's fromTemporaryCredentials vs static credentials.
async function hotPath() {
  const emu = await startEmulator();
  const endpoint = emu.url;
  const base = { region: "us-east-1", endpoint, forcePathStyle: true };
  const session = new RefreshableSession({
    method: "sts",
    assumeRole: { RoleArn: ROLE, RoleSessionName: "bench-ours" },
    sourceCredentials: async () => emu.rootCredentials,
    stsClientConfig: { endpoint },
    region: "us-east-1",
  });
  const clients = {
    static: new S3Client({ ...base, credentials: emu.rootCredentials }),
    session: session.client(S3Client, { endpoint, forcePathStyle: true }),
    "sdk fromTemporaryCredentials": new S3Client({
      ...base,
      credentials: fromTemporaryCredentials({
        params: { RoleArn: ROLE, RoleSessionName: "bench-sdk" },
        masterCredentials: emu.rootCredentials,
        clientConfig: { region: "us-east-1", endpoint },
      }),
    }),
  };
  await clients.static.send(new CreateBucketCommand({ Bucket: "bench" }));
  await clients.static.send(new PutObjectCommand({ Bucket: "bench", Key: "k", Body: "x".repeat(128) }));
  const get = (c) => async () => {
    const r = await c.send(new GetObjectCommand({ Bucket: "bench", Key: "k" }));
    await r.Body.transformToString();
  };
  // Warm up every client, then alternate rounds so drift in machine load hits all variants alike.
  for (const c of Object.values(clients)) await load(get(c), { concurrency: 16, ms: 300 });
  const rounds = quick ? 2 : 5;
  const rps = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, c] of Object.entries(clients))
      rps[name].push((await load(get(c), { concurrency: 16, ms: 1500 })).rps);
  }
  const out = Object.fromEntries(Object.entries(rps).map(([k, v]) => [k, Math.round(median(v))]));
  results.hotPath = {
    requestsPerSecond: out,
    sessionVsStatic: +(out.session / out.static).toFixed(3),
    sdkVsStatic: +(out["sdk fromTemporaryCredentials"] / out.static).toFixed(3),
  };
  session.close();
  for (const c of Object.values(clients)) c.destroy();
  await emu.close();
}

// 2. Rotation: 64 loops over >= 20 rotations, STS answering after 200 ms.
// The emulator's clock runs 5 minutes ahead and issues 3 s credentials: to the SDK they look like 5 min 3 s
// credentials, so its memoizer (refresh when < 5 min left) refreshes lazily exactly when each one really ends, as it
// does at the end of every real hour-long credential. Our engine is handed the emulator's clock (what a session learns
// from response Date headers), so for it they are 3 s credentials refreshed in the background.
async function rotation() {
  const lifetime = 3;
  const offset = 300_000;
  const ms = (quick ? 4 : 21) * lifetime * 1000;
  const run = async (kind) => {
    const emu = await startEmulator({ credentialLifetimeSeconds: lifetime, clockOffsetMs: offset });
    emu.fault("sts:AssumeRole", { latencyMs: 200 });
    const endpoint = emu.url;
    const admin = new S3Client({
      region: "us-east-1",
      endpoint,
      forcePathStyle: true,
      credentials: emu.rootCredentials,
    });
    await admin.send(new CreateBucketCommand({ Bucket: "rot" }));
    await admin.send(new PutObjectCommand({ Bucket: "rot", Key: "k", Body: "x" }));
    let client;
    let session;
    if (kind === "ours") {
      session = new RefreshableSession({
        method: "sts",
        assumeRole: { RoleArn: ROLE, RoleSessionName: "rot-ours" },
        sourceCredentials: async () => emu.rootCredentials,
        stsClientConfig: { endpoint },
        region: "us-east-1",
        refresh: { clock: { now: () => Date.now() + offset } },
      });
      client = session.client(S3Client, { endpoint, forcePathStyle: true, systemClockOffset: offset });
    } else {
      client = new S3Client({
        region: "us-east-1",
        endpoint,
        forcePathStyle: true,
        systemClockOffset: offset,
        credentials: fromTemporaryCredentials({
          params: { RoleArn: ROLE, RoleSessionName: "rot-sdk" },
          masterCredentials: emu.rootCredentials,
          clientConfig: { region: "us-east-1", endpoint },
        }),
      });
    }
    // Time from the start of a request to the build step: identity resolution (where a refresh makes callers wait)
    // plus microseconds of serialisation.
    const credentialWaits = [];
    // Distinct credentials that signed a request: the rotations the loops really went through.
    const signingKeys = new Set();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        context.benchStart = performance.now();
        return next(args);
      },
      { step: "initialize", name: "benchStart" },
    );
    client.middlewareStack.add(
      (next, context) => async (args) => {
        credentialWaits.push(performance.now() - context.benchStart);
        const id = context[SMITHY_CONTEXT_KEY]?.selectedHttpAuthScheme?.identity?.accessKeyId;
        if (id) signingKeys.add(id);
        return next(args);
      },
      { step: "build", name: "benchCredentialWait" },
    );
    await client.send(new GetObjectCommand({ Bucket: "rot", Key: "k" }));
    credentialWaits.length = 0;
    signingKeys.clear();
    const before = emu.calls("sts:AssumeRole");
    const r = await load(
      async () => {
        const o = await client.send(new GetObjectCommand({ Bucket: "rot", Key: "k" }));
        await o.Body.transformToString();
      },
      { concurrency: 64, ms },
    );
    const sourceCalls = emu.calls("sts:AssumeRole") - before;
    const rotations = ms / 1000 / lifetime; // credential lifetimes elapsed
    session?.close();
    client.destroy();
    admin.destroy();
    await emu.close();
    return {
      requests: r.count,
      errors: r.errors,
      waitedForRefresh: credentialWaits.filter((x) => x >= 50).length,
      credentialWaitMaxMs: +Math.max(...credentialWaits).toFixed(1),
      p50ms: +r.p50.toFixed(2),
      p99ms: +r.p99.toFixed(2),
      maxMs: +r.max.toFixed(1),
      sourceCalls,
      rotations: signingKeys.size,
      lifetimes: +rotations.toFixed(1),
      expiredTokenErrors: r.errorNames.ExpiredToken ?? 0,
    };
  };
  results.rotation = { ours: await run("ours"), "sdk fromTemporaryCredentials": await run("sdk") };
}

// 3. session.client() cache hit vs new S3Client().
async function clientCache() {
  const session = new RefreshableSession({
    method: "custom",
    source: async () => ({ accessKeyId: "AKIA", secretAccessKey: "s" }),
    region: "us-east-1",
  });
  const n = quick ? 20_000 : 100_000;
  const cfg = { forcePathStyle: true };
  session.client(S3Client, cfg);
  let t = performance.now();
  for (let i = 0; i < n; i++) session.client(S3Client, { forcePathStyle: true });
  const hit = (performance.now() - t) / n;
  const m = quick ? 500 : 2000;
  t = performance.now();
  for (let i = 0; i < m; i++) new S3Client({ region: "us-east-1", forcePathStyle: true }).destroy();
  const fresh = (performance.now() - t) / m;
  results.clientCache = {
    cacheHitMicros: +(hit * 1000).toFixed(2),
    newS3ClientMicros: +(fresh * 1000).toFixed(1),
    speedup: Math.round(fresh / hit),
  };
  session.close();
}

const t0 = performance.now();
await hotPath();
await rotation();
await clientCache();
results.seconds = +((performance.now() - t0) / 1000).toFixed(1);
results.node = process.version;
writeFileSync(new URL("./results-core.json", import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

const h = results.hotPath;
console.log("\nHot path (S3 GetObject, 16 loops, median of rounds):");
console.table(h.requestsPerSecond);
console.log(`  session / static = ${h.sessionVsStatic}x   sdk fromTemporaryCredentials / static = ${h.sdkVsStatic}x`);
console.log(
  "\nRotation (64 loops, 3 s credentials, STS answering after 200 ms; waited = credential resolution >= 50 ms):",
);
console.table(results.rotation);
console.log("\nClient cache:");
console.table(results.clientCache);
console.log(`\n(${results.seconds}s; results in bench/results-core.json)`);
