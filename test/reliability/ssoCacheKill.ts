/**
 * The SSO token cache under `kill -9`: 8 worker processes share one cache and refresh a short-lived token through the
 * library (dist/), while, round after round, (a) a process holding the cache lock is killed half way through writing
 * the token file with the library's own atomic writer, and (b) a random worker is killed and replaced. A poller reads
 * the file all along. Never a corrupt file; no refresh token presented twice (one CreateToken per refresh).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build as esbuild } from "esbuild";
import { formatCacheTime } from "../../src/sso/cache.js";
import { loadSsoConfig } from "../../src/sso/config.js";
import { tokenPathFor } from "../../src/sso/login.js";
import { waitForOutput } from "../helpers/cli.js";
import { ssoWorld } from "../helpers/sso.js";
import { waitFor } from "../helpers/wait.js";

const ROOT = resolve(__dirname, "../..");

export interface SsoKillSizes {
  workers: number;
  /** Rounds of (a lock holder killed mid-write, a random worker killed and replaced). */
  rounds: number;
}

export interface SsoKillResult {
  workers: number;
  rounds: number;
  midWriteKills: number;
  workerKills: number;
  reads: number;
  invalidReads: number;
  refreshes: number;
  reusedRefreshTokens: number;
  /** Failed requests reported by the workers that were not killed. */
  workerFailures: string[];
  /** Workers (not killed) that exited with a non-zero code. */
  badExits: number;
  finalFileValid: boolean;
}

const WORKER = (dist: string): string => `import { RefreshableSession } from ${JSON.stringify(dist)};
const session = new RefreshableSession({ method: "sso", profile: "dev", lockStaleMs: 2000, loginTimeoutMs: 5000, autoLogin: false });
let requests = 0; const failures = [];
let stop = false;
process.stdin.on("end", () => (stop = true)).resume();
const deadline = Date.now() + Number(process.argv[2]);
while (!stop && Date.now() < deadline) {
  try {
    await session.whoami();
    if (++requests === 1) console.log("started");
  } catch (e) { failures.push(String(e && e.code || e && e.name)); }
  await new Promise((r) => setTimeout(r, 50));
}
session.close();
process.stdin.destroy();
console.log(JSON.stringify({ requests, failures }));
`;

/** The library's own writer, stopped half way through its temporary file, holding the cache lock, to be killed. */
const HAMMER = `import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { withCacheLock, writeJsonAtomic } from ${JSON.stringify(join(ROOT, "src/sso/cache.ts"))};
const file = process.argv[2] as string;
void (async () => {
  const probe = await open(file, "r");
  const proto = Object.getPrototypeOf(probe);
  await probe.close();
  const writeFile = proto.writeFile;
  proto.writeFile = async function (this: unknown, data: string, options: unknown) {
    await writeFile.call(this, data.slice(0, data.length >> 1), options);
    process.stdout.write("mid-write\\n");
    setInterval(() => {}, 60_000);
    await new Promise(() => {});
  };
  await withCacheLock(file, async () => {
    const token = JSON.parse(readFileSync(file, "utf8"));
    await writeJsonAtomic(file, { ...token, padding: "x".repeat(1 << 20) });
  }, { staleMs: 2000 });
})();
`;

export async function runSsoCacheKill(sizes: SsoKillSizes): Promise<SsoKillResult> {
  const w = await ssoWorld({ emulator: { credentialLifetimeSeconds: 4 }, sso: { accessTokenLifetimeSeconds: 2 } });
  const dir = mkdtempSync(join(tmpdir(), "ars-sso-kill-"));
  const result: SsoKillResult = {
    workers: sizes.workers,
    rounds: sizes.rounds,
    midWriteKills: 0,
    workerKills: 0,
    reads: 0,
    invalidReads: 0,
    refreshes: 0,
    reusedRefreshTokens: 0,
    workerFailures: [],
    badExits: 0,
    finalFileValid: false,
  };
  try {
    await w.login();
    const tokenFile = tokenPathFor(await loadSsoConfig({ profile: "dev" }));
    // A token about to expire, written long ago: every worker must refresh it before using it.
    const stale = JSON.parse(readFileSync(tokenFile, "utf8")) as Record<string, unknown>;
    writeFileSync(tokenFile, JSON.stringify({ ...stale, expiresAt: formatCacheTime(Date.now() + 1500) }));
    utimesSync(tokenFile, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const worker = join(dir, "worker.mjs");
    writeFileSync(worker, WORKER(pathToFileURL(join(ROOT, "dist/index.js")).href));
    writeFileSync(join(dir, "hammer.ts"), HAMMER);
    const hammer = join(dir, "hammer.cjs");
    await esbuild({
      entryPoints: [join(dir, "hammer.ts")],
      bundle: true,
      platform: "node",
      format: "cjs",
      outfile: hammer,
      logLevel: "error",
    });

    let polling = true;
    const poll = (async () => {
      while (polling) {
        try {
          const v = JSON.parse(readFileSync(tokenFile, "utf8")) as { accessToken?: unknown };
          if (typeof v.accessToken !== "string") result.invalidReads++;
        } catch {
          result.invalidReads++;
        }
        result.reads++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    interface Worker {
      child: ChildProcess;
      started: boolean;
      killed: boolean;
      done: Promise<{ code: number | null; out: string }>;
    }
    const live: Worker[] = [];
    const all: Worker[] = [];
    const startWorker = (): Worker => {
      const child = spawn(process.execPath, [worker, "300000"], { env: w.env, cwd: ROOT });
      const entry: Worker = { child, started: false, killed: false, done: undefined as never };
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("started\n")) entry.started = true;
      });
      child.stderr!.resume();
      entry.done = new Promise((r) => child.on("close", (code) => r({ code, out })));
      live.push(entry);
      all.push(entry);
      return entry;
    };
    for (let i = 0; i < sizes.workers; i++) startWorker();
    try {
      await waitFor(() => live.every((x) => x.started), { what: "every worker making requests", timeoutMs: 60_000 });
      for (let round = 0; round < sizes.rounds; round++) {
        // (a) A lock holder killed half way through writing the token file.
        const h = spawn(process.execPath, [hammer, tokenFile], {
          env: w.env,
          cwd: ROOT,
          stdio: ["ignore", "pipe", "inherit"],
        });
        await waitForOutput(h.stdout!, "mid-write", 60_000);
        const grants = w.oidc.grants("refresh_token");
        h.kill("SIGKILL");
        await new Promise((r) => h.once("close", r));
        result.midWriteKills++;
        // (b) A worker killed at a random moment (often inside a refresh: the token lives 2 s), and replaced.
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 1500)));
        const victim = live.splice(Math.floor(Math.random() * live.length), 1)[0] as Worker;
        victim.killed = true;
        victim.child.kill("SIGKILL");
        result.workerKills++;
        const replacement = startWorker();
        // The others carry on through a refresh made after the dead writer's lock went stale.
        await waitFor(() => w.oidc.grants("refresh_token") > grants && replacement.started, {
          what: "a refresh after the killed lock holder's lock went stale",
          timeoutMs: 60_000,
        });
      }
    } finally {
      for (const x of live) x.child.stdin!.end();
    }
    for (const x of all) {
      const { code, out } = await x.done;
      if (x.killed) continue;
      if (code !== 0) result.badExits++;
      const last = out.trim().split("\n").at(-1) ?? "";
      try {
        result.workerFailures.push(...(JSON.parse(last) as { failures: string[] }).failures);
      } catch {
        result.badExits++;
      }
    }
    polling = false;
    await poll;
    result.refreshes = w.oidc.grants("refresh_token");
    result.reusedRefreshTokens = w.oidc.reusedRefreshTokens();
    const final = JSON.parse(readFileSync(tokenFile, "utf8")) as Record<string, unknown>;
    result.finalFileValid = typeof final.accessToken === "string" && final.padding === undefined;
  } finally {
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}
