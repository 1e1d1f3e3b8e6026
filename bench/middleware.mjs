// Cost of the session's middleware (ExpiredToken recovery + shared clock skew) per request, against the same client
// without it. `npm run build` first; run as `node --expose-gc bench/middleware.mjs [--quick]`.
// Figures are printed as a table and written to bench/results-middleware.json. Nothing here is a pass/fail test.
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  CreateBucketCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { HttpResponse } from "@smithy/protocol-http";
import {
  ClockSkew,
  clockSkewMiddleware,
  expiredTokenRecoveryMiddleware,
  getClockSkewPlugin,
  getExpiredTokenRecoveryPlugin,
  refreshable,
} from "../dist/index.js";
import { startEmulator } from "../dist/testing.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const quick = process.argv.includes("--quick");
const gc = globalThis.gc ?? (() => {});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One engine for every variant, so only the middleware differs. */
function engine() {
  return refreshable(
    async () => ({
      accessKeyId: "ASIABENCHMARK0000001",
      secretAccessKey: "bench-secret-not-a-real-one",
      sessionToken: "bench-token",
      expiration: new Date(Date.now() + 3600_000),
    }),
    { name: "bench" },
  );
}

/**
 * Clients on one config: bare (twice, as a control), with the recovery plugin, and with both plugins (what
 * session.client() adds).
 */
function variants(config, credentials) {
  const bare = new S3Client({ ...config, credentials });
  const recovery = new S3Client({ ...config, credentials });
  recovery.middlewareStack.use(getExpiredTokenRecoveryPlugin(credentials));
  const both = new S3Client({ ...config, credentials });
  both.middlewareStack.use(getExpiredTokenRecoveryPlugin(credentials));
  both.middlewareStack.use(getClockSkewPlugin(new ClockSkew()));
  // A second bare client: its ratio to the first is the noise floor of the comparison on this machine.
  const control = new S3Client({ ...config, credentials });
  return {
    "no middleware": bare,
    "no middleware (A/A control)": control,
    "+ recovery": recovery,
    "+ recovery + clock skew": both,
  };
}

/** CPU time of this process in µs: other processes on a shared machine do not count against either variant. */
function cpuNow() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * Runs `rounds` short rounds; in each, every variant sends `n` requests (`concurrency` at a time), in a rotating order
 * so drift (JIT, GC, other load) spreads evenly. Per variant: median CPU µs and wall µs per request, and the median of
 * its per-round CPU ratio to the first variant.
 */
async function compare(clients, op, { rounds, n, concurrency = 1 }) {
  const names = Object.keys(clients);
  const cpu = Object.fromEntries(names.map((k) => [k, []]));
  const wall = Object.fromEntries(names.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]);
    for (const name of order) {
      gc();
      const client = clients[name];
      const c0 = cpuNow();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let i = 0; i < n / concurrency; i++) await op(client);
        }),
      );
      wall[name].push(((performance.now() - t0) * 1000) / n);
      cpu[name].push((cpuNow() - c0) / n);
    }
  }
  const base = names[0];
  return Object.fromEntries(
    names.map((k) => [
      k,
      {
        cpuUsPerRequest: median(cpu[k]),
        wallUsPerRequest: median(wall[k]),
        ratio: median(cpu[k].map((v, i) => v / cpu[base][i])),
        rounds,
        requestsPerRound: n,
      },
    ]),
  );
}

const results = { node: process.version, quick, date: new Date().toISOString() };

// 1. The hot path in isolation: a request handler that answers at once, so serialization, signing, deserialization
//    and the middleware are all there is.
{
  const credentials = engine();
  const handler = {
    handle: async () => ({
      response: new HttpResponse({
        statusCode: 200,
        headers: { date: new Date().toUTCString(), "content-length": "5", etag: '"abc"', "content-type": "text/plain" },
        body: undefined,
      }),
    }),
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const clients = variants(
    {
      region: "us-east-1",
      endpoint: "http://127.0.0.1:9",
      forcePathStyle: true,
      requestHandler: handler,
      maxAttempts: 1,
    },
    credentials,
  );
  const head = (c) => c.send(new HeadObjectCommand({ Bucket: "bench", Key: "k" }));
  for (const c of Object.values(clients)) for (let i = 0; i < 2000; i++) await head(c); // warm-up
  results.inProcess = await compare(clients, head, { rounds: quick ? 31 : 201, n: 100 });
  credentials.close();
}

// 2. The middleware alone, without the SDK around it: what each adds to one request, in CPU µs. Precise where (1) is
//    at the mercy of other load on the machine: the estimated ratio is (SDK request + these) / SDK request.
{
  const credentials = engine();
  await credentials();
  const date = new Date().toUTCString();
  const output = { response: { statusCode: 200, headers: { date } }, output: { $metadata: {} } };
  const terminal = async () => output;
  const context = { commandName: "HeadObjectCommand", clientName: "S3Client", __smithy_context: {} };
  const args = { input: { Bucket: "bench", Key: "k" }, request: {} };
  const perCall = async (handler, n) => {
    for (let i = 0; i < 20_000; i++) await handler(args);
    gc();
    const samples = [];
    for (let r = 0; r < (quick ? 5 : 15); r++) {
      const c0 = cpuNow();
      for (let i = 0; i < n; i++) await handler(args);
      samples.push((cpuNow() - c0) / n);
    }
    return median(samples);
  };
  const n = quick ? 100_000 : 300_000;
  const bare = await perCall(terminal, n);
  const recovery = await perCall(expiredTokenRecoveryMiddleware(credentials)(terminal, context), n);
  const skew = await perCall(clockSkewMiddleware(new ClockSkew())(terminal, context), n);
  // Each send resolves the middleware stack: two more entries cost a little there too.
  const clients = variants({ region: "us-east-1", endpoint: "http://127.0.0.1:9", forcePathStyle: true }, credentials);
  // Interleaved, paired per round: the median difference is steadier than two medians taken apart.
  const resolveOnce = (client) => {
    const c0 = cpuNow();
    for (let i = 0; i < 2_000; i++) {
      new HeadObjectCommand({ Bucket: "bench", Key: "k" }).resolveMiddleware(client.middlewareStack, client.config, {});
    }
    return (cpuNow() - c0) / 2_000;
  };
  const diffs = [];
  for (let r = 0; r < (quick ? 15 : 61); r++) {
    const a = resolveOnce(clients["no middleware"]);
    const b = resolveOnce(clients["+ recovery + clock skew"]);
    const a2 = resolveOnce(clients["no middleware"]);
    diffs.push(b - (a + a2) / 2);
  }
  const resolveDelta = median(diffs);
  const sdkRequest = results.inProcess["no middleware"].cpuUsPerRequest;
  const overhead = recovery - bare + (skew - bare) + resolveDelta;
  results.components = {
    recoveryMiddlewareUs: recovery - bare,
    clockSkewMiddlewareUs: skew - bare,
    stackResolutionUs: resolveDelta,
    totalOverheadUs: overhead,
    sdkRequestCpuUs: sdkRequest,
    estimatedRatio: (sdkRequest + overhead) / sdkRequest,
  };
  for (const c of Object.values(clients)) c.destroy();
  credentials.close();
}

// 3. End to end against the emulator: real HTTP, SigV4 verified by the server.
{
  const emu = await startEmulator();
  const credentials = refreshable(async () => ({
    ...emu.rootCredentials,
    expiration: new Date(Date.now() + 3600_000),
  }));
  const setup = new S3Client({
    region: "us-east-1",
    endpoint: emu.url,
    forcePathStyle: true,
    credentials: emu.rootCredentials,
  });
  await setup.send(new CreateBucketCommand({ Bucket: "bench" }));
  await setup.send(new PutObjectCommand({ Bucket: "bench", Key: "k", Body: "x".repeat(128) }));
  const clients = variants({ region: "us-east-1", endpoint: emu.url, forcePathStyle: true }, credentials);
  const get = async (c) => {
    const out = await c.send(new GetObjectCommand({ Bucket: "bench", Key: "k" }));
    await out.Body.transformToString();
  };
  for (const c of Object.values(clients)) for (let i = 0; i < 300; i++) await get(c);
  results.emulator = await compare(clients, get, { rounds: quick ? 9 : 31, n: quick ? 200 : 400, concurrency: 8 });
  credentials.close();
  for (const c of [setup, ...Object.values(clients)]) c.destroy();
  await emu.close();
}

const table = [];
for (const [where, rows] of [
  ["in-process (stub handler)", results.inProcess],
  ["emulator (HTTP, 8 concurrent)", results.emulator],
]) {
  for (const [variant, r] of Object.entries(rows)) {
    table.push({
      where,
      variant,
      "CPU µs/request": r.cpuUsPerRequest.toFixed(1),
      "wall µs/request": r.wallUsPerRequest.toFixed(1),
      "CPU ratio to no middleware": r.ratio.toFixed(4),
    });
  }
}
console.table(table);
const k = results.components;
console.table([
  { part: "recovery middleware (success path)", "CPU µs/request": k.recoveryMiddlewareUs.toFixed(3) },
  { part: "clock-skew middleware (Date header read)", "CPU µs/request": k.clockSkewMiddlewareUs.toFixed(3) },
  { part: "stack resolution, 2 more entries", "CPU µs/request": k.stackResolutionUs.toFixed(3) },
  { part: "total added", "CPU µs/request": k.totalOverheadUs.toFixed(3) },
  { part: "SDK request without them (in-process)", "CPU µs/request": k.sdkRequestCpuUs.toFixed(1) },
  { part: "estimated ratio", "CPU µs/request": k.estimatedRatio.toFixed(4) },
]);
writeFileSync(new URL("./results-middleware.json", import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log("written to bench/results-middleware.json");
