// How fast the CLI starts and the library imports, as ratios to a bare `node -e 0` measured in the same run.
// `npm run build` first; run as `node bench/startup.mjs [--quick] [--runs N] [--strict]`.
//
// Every case is a fresh process, timed from spawn to exit (wall clock). The cases run interleaved, in a rotating
// order, N times each, so the machine's load falls on all of them alike; each gets its median and p90, and its
// ratio of medians to `node -e 0` (and, on Linux, the mean CPU time and its ratio, steadier on a busy machine; the
// verdict is on the wall-clock ratio). Targets (issue 8): `--version` and `--help` <= 1.3x, a `credential-process` cache
// hit <= 1.6x; the rest is reported. An emulator (`aws-refresh emulate`, in a process of its own so that timing a
// child never blocks it) serves `status`, `exec` and the credential-process cache's first fill.
// Written to bench/results-startup.json. Exit status 0 (with --strict: 1 when a target is missed).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
const CLI = join(ROOT, "dist/cli.js");
/** What `aws-refresh` runs once installed (package.json's bin): a CommonJS launcher that imports dist/cli.js. */
const BIN = join(ROOT, "dist/cli.cjs");
const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const strict = argv.includes("--strict");
const runsAt = argv.indexOf("--runs");
const RUNS = runsAt >= 0 ? Number(argv[runsAt + 1]) : quick ? 9 : 31;
if (!(Number.isInteger(RUNS) && RUNS > 0)) throw new RangeError("--runs must be a positive integer");

if (!existsSync(CLI) || !existsSync(BIN) || !existsSync(join(ROOT, "dist/index.cjs"))) {
  console.error("bench/startup.mjs: dist/ is missing; run `npm run build` first (`npm run bench` does).");
  process.exit(1);
}

const home = mkdtempSync(join(tmpdir(), "bench-startup-"));
const cacheDir = join(home, "cache");
writeFileSync(
  join(home, "config"),
  // The emulator's root keys open only the local emulator.
  "[profile root]\naws_access_key_id = AKIAEMULATORROOT0001\n" +
    "aws_secret_access_key = emulator-root-secret-key-not-for-aws-0001\n" +
    "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = root\nregion = us-east-1\n",
);
writeFileSync(join(home, "credentials"), "");
/** A user's environment, without the AWS_* variables of whoever runs the benchmark. */
const baseEnv = {
  PATH: process.env.PATH,
  HOME: home,
  AWS_CONFIG_FILE: join(home, "config"),
  AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
  AWS_EC2_METADATA_DISABLED: "true",
};

/** Starts `aws-refresh emulate` and resolves with its URL once it listens. */
function startEmulatorProcess() {
  const p = spawn(process.execPath, ["--", CLI, "emulate", "--json"], {
    env: baseEnv,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolveUrl, reject) => {
    p.on("error", reject);
    p.on("exit", (code) => reject(new Error(`aws-refresh emulate exited ${code} before it listened`)));
    createInterface({ input: p.stdout }).once("line", (line) => resolveUrl({ url: JSON.parse(line).url, process: p }));
  });
}

const emulator = await startEmulatorProcess();
const env = { ...baseEnv, AWS_ENDPOINT_URL: emulator.url };

const node = (args) => [process.execPath, args];
const cli = (...args) => [process.execPath, ["--", BIN, ...args]];
const esmCli = (...args) => [process.execPath, ["--", CLI, ...args]];
const cpArgs = ["credential-process", "--profile", "app", "--cache-dir", cacheDir];
// The child of `exec` says when it started: performance.timeOrigin is its process's start, on the same clock as ours.
const childSaysStart = ["-e", "process.stdout.write(String(performance.timeOrigin))"];

/**
 * The cases. `check` looks at a finished run (and throws when the case did not do what it says); `startedAt`, when
 * given, reads the moment the case's child process started from its output.
 */
const cases = {
  "node -e 0": { cmd: node(["-e", "0"]) },
  "--version": { cmd: cli("--version"), target: 1.3 },
  "--help": { cmd: cli("--help"), target: 1.3 },
  "node dist/cli.js --version": { cmd: esmCli("--version") },
  "credential-process (cache hit)": {
    cmd: cli(...cpArgs),
    target: 1.6,
    // A hit answers with the cached credential; a miss would fetch a new one from the emulator (a new key id).
    check: (r) => {
      if (JSON.parse(r.stdout).AccessKeyId !== warmKeyId) throw new Error("credential-process missed its cache");
    },
  },
  "exec -- node (until the child starts)": {
    cmd: cli("exec", "--profile", "app", "--quiet", "--", process.execPath, ...childSaysStart),
    startedAt: (r) => Number(r.stdout),
  },
  "exec -- node -e 0 (whole run)": {
    cmd: cli("exec", "--profile", "app", "--quiet", "--", process.execPath, "-e", "0"),
  },
  "status (against the emulator)": { cmd: cli("status", "--profile", "app") },
  'import("aws-refresh-session") (ESM)': {
    cmd: node(["--input-type=module", "-e", 'await import("aws-refresh-session")']),
  },
  'require("aws-refresh-session") (CJS)': { cmd: node(["-e", 'require("aws-refresh-session")']) },
  'import("@aws-sdk/client-sts") (ESM)': {
    cmd: node(["--input-type=module", "-e", 'await import("@aws-sdk/client-sts")']),
  },
  'require("@aws-sdk/client-sts") (CJS)': { cmd: node(["-e", 'require("@aws-sdk/client-sts")']) },
};

/**
 * CPU time (user + system, ms) of the children this process has waited for, where Linux tells it (/proc/self/stat,
 * in clock ticks of 10 ms: only sums over many runs mean something). Less at the mercy of other load than wall time.
 */
function childCpuMs() {
  try {
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return NaN;
  }
}
const cpu = {};

/** Runs a case once; resolves its time in ms (to its child's start for `startedAt` cases). */
function runOnce(name) {
  const c = cases[name];
  const [file, args] = c.cmd;
  const c0 = childCpuMs();
  const t0 = performance.timeOrigin + performance.now();
  // From the repository root, so `aws-refresh-session` resolves to this package (self-reference through `exports`).
  const r = spawnSync(file, args, { env, cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 24 });
  const t1 = performance.timeOrigin + performance.now();
  cpu[name] = (cpu[name] ?? 0) + (childCpuMs() - c0);
  if (r.status !== 0) throw new Error(`${name} exited ${r.status ?? r.signal}: ${r.stderr.slice(0, 2000)}`);
  c.check?.(r);
  return c.startedAt ? c.startedAt(r) - t0 : t1 - t0;
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

let warmKeyId;
try {
  // Warm the cache: the first run fetches from the emulator and writes it; the others must hit it.
  const warm = spawnSync(process.execPath, ["--", CLI, ...cpArgs], { env, encoding: "utf8" });
  if (warm.status !== 0) throw new Error(`credential-process could not fill its cache: ${warm.stderr}`);
  warmKeyId = JSON.parse(warm.stdout).AccessKeyId;
  if (readdirSync(cacheDir).filter((f) => f.endsWith(".json")).length !== 1) throw new Error("no cache file written");

  const names = Object.keys(cases);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) runOnce(n); // warm the page cache and the emulator
  for (const n of names) cpu[n] = 0;
  for (let i = 0; i < RUNS; i++) {
    for (let j = 0; j < names.length; j++) {
      const n = names[(i + j) % names.length];
      times[n].push(runOnce(n));
    }
  }

  const base = quantile(times["node -e 0"], 0.5);
  const results = {};
  const table = [];
  let missed = 0;
  for (const n of names) {
    const med = quantile(times[n], 0.5);
    const ratio = med / base;
    const target = cases[n].target;
    const verdict = target === undefined ? "reported" : ratio <= target ? "PASS" : "MISS";
    if (verdict === "MISS") missed++;
    const cpuMs = cpu[n] / RUNS;
    const cpuRatio = cpuMs / (cpu["node -e 0"] / RUNS);
    results[n] = {
      medianMs: med,
      p90Ms: quantile(times[n], 0.9),
      ratio,
      cpuMs,
      cpuRatio,
      target: target ?? null,
      verdict,
    };
    table.push({
      case: n,
      "median ms": med.toFixed(1),
      "p90 ms": quantile(times[n], 0.9).toFixed(1),
      "x node -e 0": ratio.toFixed(2),
      "CPU ms (mean)": Number.isFinite(cpuMs) ? cpuMs.toFixed(1) : "",
      "CPU x node -e 0": Number.isFinite(cpuRatio) ? cpuRatio.toFixed(2) : "",
      target: target === undefined ? "" : `<= ${target}x`,
      verdict,
    });
  }
  // The library's own import time, less Node's start: ours against the SDK client every user already loads.
  const importCost = {};
  for (const kind of ["ESM", "CJS"]) {
    const ours =
      results[`${kind === "ESM" ? 'import("aws-refresh-session")' : 'require("aws-refresh-session")'} (${kind})`];
    const sts =
      results[`${kind === "ESM" ? 'import("@aws-sdk/client-sts")' : 'require("@aws-sdk/client-sts")'} (${kind})`];
    importCost[kind] = {
      oursMs: ours.medianMs - base,
      clientStsMs: sts.medianMs - base,
      ratio: (ours.medianMs - base) / (sts.medianMs - base),
    };
  }
  console.log(`\nStart-up, ${RUNS} interleaved runs of each case (Node ${process.version}, ${process.platform}):`);
  console.table(table);
  console.table(
    Object.entries(importCost).map(([kind, v]) => ({
      "import time (less node -e 0)": kind,
      "aws-refresh-session ms": v.oursMs.toFixed(1),
      "@aws-sdk/client-sts ms": v.clientStsMs.toFixed(1),
      "ours / client-sts": v.ratio.toFixed(2),
    })),
  );
  writeFileSync(
    new URL("./results-startup.json", import.meta.url),
    `${JSON.stringify({ node: process.version, runs: RUNS, date: new Date().toISOString(), results, importCost }, null, 2)}\n`,
  );
  console.log(`${missed ? `${missed} target(s) missed` : "every target met"} (results in bench/results-startup.json)`);
  if (strict && missed) process.exitCode = 1;
} finally {
  emulator.process.removeAllListeners("exit");
  emulator.process.kill("SIGTERM");
  rmSync(home, { recursive: true, force: true });
}
