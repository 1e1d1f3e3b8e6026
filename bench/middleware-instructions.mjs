// What the session's middleware (ExpiredToken recovery + shared clock skew) costs per request, counted in machine
// instructions with `valgrind --tool=callgrind`, where timing is at the mercy of other load (an A/A timing control
// moves 1.5-1.8% between runs on a busy 2-core machine). `npm run build` first; run as
// `node bench/middleware-instructions.mjs [--quick]`. Skipped, saying so, when valgrind is not installed.
//
// Each variant runs in its own `node` under callgrind: an STSClient whose requestHandler is a stub answering
// GetCallerIdentity at once (no network; serializing, signing, the middleware stack and parsing are all there is)
// sends warm-up requests, then N more, one after another. Counting the whole process twice, with N1 and N2 counted
// requests, and dividing the difference by N2 - N1 cancels Node's start-up, the SDK's loading and the warm-up alike:
// what is left is the cost of one more request. V8's compilers are taken out of the verdict's figure (each function
// is compiled once; in a short run it happens at random inside or before the counted requests) and shown with them.
// Variants: the client as `session.client()` builds it (both plugins), the same client without them, and a second
// bare client (the A/A control: the noise floor of the method itself). Target (issue 8): with / without <= 1.01.
// `--keep` keeps the callgrind files for callgrind_annotate. Written to bench/results-middleware-instructions.json.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const SELF = fileURLToPath(import.meta.url);
const TARGET = 1.01;

/** Worker mode: `--worker VARIANT WARMUP N` sends WARMUP + N requests through that variant's client and exits. */
async function worker(variant, n) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  const { GetCallerIdentityCommand, STSClient } = await import("@aws-sdk/client-sts");
  const { HttpResponse } = await import("@smithy/protocol-http");
  const { RefreshableSession } = await import("../dist/index.js");
  const session = new RefreshableSession({
    method: "custom",
    region: "us-east-1",
    source: async () => ({
      accessKeyId: "ASIABENCHMARK0000001",
      secretAccessKey: "bench-secret-not-a-real-one",
      sessionToken: "bench-token",
      expiration: new Date(Date.now() + 3600_000),
    }),
  });
  const body = Buffer.from(
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
      "<Arn>arn:aws:sts::123456789012:assumed-role/bench/s</Arn><UserId>AROABENCH:s</UserId>" +
      "<Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>" +
      "00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
  );
  const requestHandler = {
    handle: async () => ({
      response: new HttpResponse({
        statusCode: 200,
        headers: { date: new Date().toUTCString(), "content-type": "text/xml", "content-length": String(body.length) },
        body,
      }),
    }),
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const config = { endpoint: "http://127.0.0.1:9", requestHandler, maxAttempts: 1 };
  // What session.client() builds (with the session's plugins), and the same config without them.
  const client =
    variant === "session" ? session.client(STSClient, config) : new STSClient(session.clientConfig(config));
  if (process.env.BENCH_SHOW_STACK)
    console.log(client.middlewareStack.identify().filter((m) => /recovery|[Ss]kew/i.test(m)));
  await session.credentials(); // the first fetch is start-up, not a request's cost
  for (let i = 0; i < n; i++) {
    const out = await client.send(new GetCallerIdentityCommand({}));
    if (out.Account !== "123456789012") throw new Error("the stub's answer was not parsed");
  }
  client.destroy();
  session.close();
}

if (process.argv[2] === "--worker") {
  await worker(process.argv[3], Number(process.argv[4]) + Number(process.argv[5]));
  process.exit(0);
}

const quick = process.argv.includes("--quick");
// Warm-up requests in every run (most of V8's compiling happens there), then N1 or N2 counted ones.
const WARMUP = quick ? 200 : 500;
const N1 = quick ? 50 : 100;
const N2 = quick ? 250 : 600;

if (spawnSync("valgrind", ["--version"], { encoding: "utf8" }).status !== 0) {
  console.log("bench/middleware-instructions.mjs: skipped, valgrind is not installed (apt-get install valgrind).");
  process.exit(0);
}
if (!existsSync(join(ROOT, "dist/index.js"))) {
  console.error(
    "bench/middleware-instructions.mjs: dist/ is missing; run `npm run build` first (`npm run bench` does).",
  );
  process.exit(1);
}

/**
 * V8's compilers, entered from JavaScript: optimizing (TurboFan, also on-stack), lazy (bytecode) and baseline
 * (Sparkplug) compilation. Each function is compiled once per process; in a run this short, when that happens (inside
 * the counted requests or before) is chance, and it would swamp a middleware's cost. Their inclusive counts are
 * taken out of the "less compiling" figures.
 */
const COMPILERS = [
  "v8::internal::Runtime_CompileOptimized(",
  "v8::internal::Runtime_CompileOptimizedOSR(",
  "v8::internal::Runtime_CompileLazy(",
  "v8::internal::baseline::BaselineBatchCompiler::EnqueueFunction(",
];

const dir = mkdtempSync(join(tmpdir(), "bench-callgrind-"));

/** Runs `variant` with `n` counted requests under callgrind; resolves its instruction counts. */
function instructions(variant, n) {
  const out = join(dir, `${variant}-${n}.out`);
  const args = [
    "--tool=callgrind",
    `--callgrind-out-file=${out}`,
    // V8 writes machine code at run time: tell valgrind to look for it everywhere but in files.
    "--smc-check=all-non-file",
    process.execPath,
    // One thread (compiling and GC included, so nothing escapes the count) and fixed seeds: runs repeat closely.
    "--single-threaded",
    "--predictable",
    "--random-seed=1",
    "--hash-seed=1",
    SELF,
    "--worker",
    variant,
    String(WARMUP),
    String(n),
  ];
  return new Promise((resolveRun, reject) => {
    const p = spawn("valgrind", args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.setEncoding("utf8").on("data", (d) => (stderr = (stderr + d).slice(-4000)));
    p.on("error", reject);
    p.on("close", (code, signal) => {
      if (code !== 0) return reject(new Error(`callgrind on ${variant} x${n} exited ${code ?? signal}: ${stderr}`));
      const total = Number(/^(?:summary|totals):\s*(\d+)/m.exec(readFileSync(out, "utf8"))?.[1]);
      if (!Number.isFinite(total)) return reject(new Error(`no instruction total in ${out}`));
      // Inclusive counts per function, to take the compilers out.
      const annotated = spawnSync("callgrind_annotate", ["--inclusive=yes", "--threshold=100", out], {
        encoding: "utf8",
        maxBuffer: 1 << 28,
      }).stdout;
      let compiling = 0;
      for (const line of annotated.split("\n")) {
        const m = /^\s*([\d,]+)\s+\([^)]*\)\s+\S*?:(.*)$/.exec(line);
        if (m && COMPILERS.some((c) => (m[2] ?? "").startsWith(c))) compiling += Number(m[1].replaceAll(",", ""));
      }
      resolveRun({ total, compiling, file: out });
    });
  });
}

/** Runs the jobs two at a time (the counts do not depend on the machine's load; the wait does). */
async function inPairs(jobs) {
  const results = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

const variants = { bare: "bare", "bare (A/A control)": "bare2", "session.client() (recovery + clock skew)": "session" };
const results = { node: process.version, warmup: WARMUP, N1, N2, date: new Date().toISOString(), variants: {} };
const fmt = (n) => Math.round(n).toLocaleString("en-US");
try {
  const names = Object.keys(variants);
  const runs = await inPairs(names.flatMap((name) => [N1, N2].map((n) => () => instructions(variants[name], n))));
  names.forEach((name, i) => {
    const [a, b] = [runs[2 * i], runs[2 * i + 1]];
    results.variants[name] = {
      [`Ir(${N1})`]: a.total,
      [`Ir(${N2})`]: b.total,
      [`compiling(${N1})`]: a.compiling,
      [`compiling(${N2})`]: b.compiling,
      perRequest: (b.total - a.total) / (N2 - N1),
      perRequestLessCompiling: (b.total - b.compiling - (a.total - a.compiling)) / (N2 - N1),
    };
  });
  const base = results.variants.bare;
  const rows = Object.entries(results.variants).map(([name, r]) => {
    r.ratio = r.perRequest / base.perRequest;
    r.ratioLessCompiling = r.perRequestLessCompiling / base.perRequestLessCompiling;
    return {
      variant: name,
      "Ir per request": fmt(r.perRequest),
      "x bare": r.ratio.toFixed(4),
      "Ir per request, less compiling": fmt(r.perRequestLessCompiling),
      "x bare, less compiling": r.ratioLessCompiling.toFixed(4),
    };
  });
  const session = results.variants["session.client() (recovery + clock skew)"];
  const control = results.variants["bare (A/A control)"];
  results.target = TARGET;
  results.verdict = session.ratioLessCompiling <= TARGET ? "PASS" : "MISS";
  console.log(
    `\nInstructions per request (callgrind; ${WARMUP} warm-up requests, then (Ir(${N2}) - Ir(${N1})) / ${N2 - N1}; ` +
      `Node ${process.version}):`,
  );
  console.table(rows);
  console.log(
    `middleware: ${session.ratioLessCompiling.toFixed(4)}x bare less compiling (target <= ${TARGET}x): ` +
      `${results.verdict}; A/A control ${control.ratioLessCompiling.toFixed(4)}x ` +
      `(all instructions: ${session.ratio.toFixed(4)}x, A/A ${control.ratio.toFixed(4)}x)`,
  );
  writeFileSync(
    new URL("./results-middleware-instructions.json", import.meta.url),
    `${JSON.stringify(results, null, 2)}\n`,
  );
  console.log("(results in bench/results-middleware-instructions.json)");
  if (process.argv.includes("--keep")) console.log(`callgrind files kept in ${dir} (callgrind_annotate FILE)`);
} finally {
  if (!process.argv.includes("--keep")) rmSync(dir, { recursive: true, force: true });
}
