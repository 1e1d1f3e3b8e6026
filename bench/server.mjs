// Credential server benchmarks: `npm run build && node bench/server.mjs [--quick]`.
// 1. Throughput and latency of /profiles/<name> on loopback with keep-alive (autocannon).
// 2. Server requests per rotation from real children (boto3, SDK for JavaScript v3), with the server's windows and,
//    for comparison, with the engine's default windows.
// Prints tables and writes bench/results-server.json. Nothing here is a pass/fail test.
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import {
  DEFAULT_SERVER_ADVISORY_MS,
  DEFAULT_SERVER_MANDATORY_MS,
  RefreshableSession,
  childEnvironment,
  startCredentialServer,
} from "../dist/index.js";
import { startEmulator } from "../dist/testing.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const quick = process.argv.includes("--quick");
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const results = { node: process.version };

function roleSession(emu, name, refresh) {
  return new RefreshableSession({
    method: "sts",
    assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/bench", RoleSessionName: name },
    sourceCredentials: async () => emu.rootCredentials,
    stsClientConfig: { endpoint: emu.url },
    region: "us-east-1",
    refresh,
  });
}

// 1. Throughput: every answer comes from the engine's memory; keep-alive connections, as SDKs that reuse them.
async function throughput() {
  const emu = await startEmulator();
  const session = roleSession(emu, "throughput", {
    advisoryMs: DEFAULT_SERVER_ADVISORY_MS,
    mandatoryMs: DEFAULT_SERVER_MANDATORY_MS,
  });
  const server = await startCredentialServer({ profiles: { bench: session } });
  const url = server.urlFor("bench");
  const duration = quick ? 2 : 4;
  const rounds = quick ? 1 : 3;
  const rows = {};
  const runOne = (connections, headers) =>
    new Promise((resolve, reject) =>
      // One worker thread: the load generator does not share the server's event loop.
      autocannon({ url, connections, duration, headers, workers: 1 }, (err, r) => (err ? reject(err) : resolve(r))),
    );
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  await runOne(8, { authorization: server.token }); // warm-up
  const configs = [
    ["1 connection", 1, { authorization: server.token }],
    ["10 connections", 10, { authorization: server.token }],
    ["64 connections", 64, { authorization: server.token }],
    ["64 connections, wrong token (403)", 64, { authorization: "0".repeat(64) }],
  ];
  const runs = Object.fromEntries(configs.map(([label]) => [label, []]));
  // Rounds alternate between the configurations so drift in machine load hits them alike; medians are reported.
  for (let i = 0; i < rounds; i++) {
    for (const [label, connections, headers] of configs) runs[label].push(await runOne(connections, headers));
  }
  for (const [label, rs] of Object.entries(runs)) {
    rows[label] = {
      requestsPerSecond: Math.round(median(rs.map((r) => r.requests.average))),
      p50ms: median(rs.map((r) => r.latency.p50)),
      p99ms: median(rs.map((r) => r.latency.p99)),
      maxMs: Math.max(...rs.map((r) => r.latency.max)),
      status2xx: rs.reduce((n, r) => n + r["2xx"], 0),
      non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
      errors: rs.reduce((n, r) => n + r.errors, 0),
    };
  }
  rows.sourceCalls = emu.calls("sts:AssumeRole");
  results.throughput = rows;
  await server.close();
  session.close();
  await emu.close();
}

// The children. Each moves the clock its SDK's credential code reads so that the SDK's fixed refresh window (botocore
// 15 min, JS v3 5 min) covers the same fraction of these short credentials as of a 1-hour one: lifetime/4 and
// lifetime/12 before expiry. boto3 signs with the real time; the JS SDK reads Date.now for both (5 min off, accepted).
const PY_CHILD = `
import datetime, os, sys, time, types, json
shift = float(os.environ["SHIFT"])
import botocore.credentials as bc
class D(datetime.datetime):
    @classmethod
    def now(cls, tz=None): return datetime.datetime.now(tz) + datetime.timedelta(seconds=shift)
m = types.ModuleType("datetime"); m.__dict__.update({k: getattr(datetime, k) for k in dir(datetime) if not k.startswith("__")}); m.datetime = D
bc.datetime = m
import boto3
s3 = boto3.client("s3")
calls = errors = 0
end = time.time() + float(os.environ["SECONDS"])
while time.time() < end:
    try:
        s3.get_object(Bucket="bench", Key="k")["Body"].read(); calls += 1
    except Exception as e:
        errors += 1
    time.sleep(0.005)
print(json.dumps({"calls": calls, "errors": errors}))
`;
const JS_CHILD = `
const real = Date.now; const shift = Number(process.env.SHIFT) * 1000; Date.now = () => real() + shift;
const { S3Client, GetObjectCommand } = await import("@aws-sdk/client-s3");
const s3 = new S3Client({ forcePathStyle: true });
let calls = 0, errors = 0; const end = real() + Number(process.env.SECONDS) * 1000;
while (real() < end) {
  try { const o = await s3.send(new GetObjectCommand({ Bucket: "bench", Key: "k" })); await o.Body.transformToString(); calls++; }
  catch { errors++; }
  await new Promise((r) => setTimeout(r, 5));
}
console.log(JSON.stringify({ calls, errors }));
`;

function runChild(kind, env) {
  const [cmd, args] =
    kind === "boto3" ? ["python3", ["-c", PY_CHILD]] : [process.execPath, ["--input-type=module", "-e", JS_CHILD]];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.on("error", reject);
    p.on("close", (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split("\n").at(-1))) : reject(new Error(`${kind} child exit ${code}`)),
    );
  });
}

// 2. Requests per rotation.
async function perRotation(kind, windows) {
  const lifetime = 8;
  const seconds = (quick ? 3 : 6) * lifetime;
  const emu = await startEmulator({ credentialLifetimeSeconds: lifetime });
  const admin = await import("@aws-sdk/client-s3");
  const s3 = new admin.S3Client({
    region: "us-east-1",
    endpoint: emu.url,
    forcePathStyle: true,
    credentials: emu.rootCredentials,
  });
  await s3.send(new admin.CreateBucketCommand({ Bucket: "bench" }));
  await s3.send(new admin.PutObjectCommand({ Bucket: "bench", Key: "k", Body: "x".repeat(64) }));
  s3.destroy();
  const refresh =
    windows === "server"
      ? { advisoryMs: DEFAULT_SERVER_ADVISORY_MS, mandatoryMs: DEFAULT_SERVER_MANDATORY_MS }
      : // The engine's defaults (15/10 min) as they fall on a 1-hour credential, scaled to this one.
        { advisoryMs: (lifetime * 1000) / 4, mandatoryMs: (lifetime * 1000) / 6 };
  const session = roleSession(emu, `${kind}-${windows}`, refresh);
  await session.credentials();
  const server = await startCredentialServer({ profiles: { p: session } });
  const windowSeconds = kind === "boto3" ? 900 : 300;
  const fraction = kind === "boto3" ? 4 : 12;
  const base = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("AWS_")) base[k] = v;
  const env = childEnvironment(
    {
      ...base,
      AWS_ENDPOINT_URL: emu.url,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      SECONDS: String(seconds),
      SHIFT: String(-(windowSeconds - lifetime / fraction)),
    },
    { url: server.urlFor("p"), token: server.token, region: "us-east-1" },
  );
  const before = emu.calls("sts:AssumeRole");
  const child = await runChild(kind, env);
  const rotations = emu.calls("sts:AssumeRole") - before;
  const served = server.stats().served.p;
  await server.close();
  session.close();
  await emu.close();
  return {
    childCalls: child.calls,
    childErrors: child.errors,
    rotations,
    serverRequests: served,
    requestsPerRotation: +(served / Math.max(1, rotations)).toFixed(2),
  };
}

const t0 = performance.now();
await throughput();
const hasBoto3 = spawnSync("python3", ["-c", "import boto3"]).status === 0;
const variants = [
  ["SDK v3 (JS)", "sdk", "server"],
  ["SDK v3 (JS)", "sdk", "default"],
  ...(hasBoto3
    ? [
        ["boto3", "boto3", "server"],
        ["boto3", "boto3", "default"],
      ]
    : []),
];
const rotationRows = await Promise.all(
  variants.map(async ([label, kind, windows]) => [
    `${label}, ${windows === "server" ? "server windows (30/20 min, 30/15 on 1 h)" : "engine defaults (15/10 min)"}`,
    await perRotation(kind, windows),
  ]),
);
results.requestsPerRotation = Object.fromEntries(rotationRows);
if (!hasBoto3) results.requestsPerRotation.note = "python3 with boto3 not found: boto3 rows skipped";
results.seconds = +((performance.now() - t0) / 1000).toFixed(1);
writeFileSync(new URL("./results-server.json", import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

console.log("\nCredential server on loopback, keep-alive (autocannon, median of rounds), GET /profiles/<name>:");
console.table(Object.fromEntries(Object.entries(results.throughput).filter(([k]) => k !== "sourceCalls")));
console.log(`  STS calls during all of it: ${results.throughput.sourceCalls}`);
console.log(
  "\nServer requests per rotation from real children (8 s credentials; each SDK's window scaled as on a 1-hour credential):",
);
console.table(results.requestsPerRotation);
console.log(`\n(${results.seconds}s; results in bench/results-server.json)`);
