/**
 * The reliability suite (docs/reliability.md). In `npm test` it runs its short form: the same checks with small
 * sizes. `npm run reliability` runs the long form (RELIABILITY_LONG=1) and writes docs/reliability.md
 * (RELIABILITY_REPORT=path); see vitest.reliability.config.ts.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBadInput } from "./reliability/badInput.js";
import { runFaultMatrix, type MatrixSizes } from "./reliability/faultMatrix.js";
import { writeReliabilityReport, type ReliabilityFigures, type SoakFigures } from "./reliability/report.js";
import { runServerAttack, type AttackSizes } from "./reliability/serverAttack.js";
import { runSsoCacheKill, type SsoKillSizes } from "./reliability/ssoCacheKill.js";
import { ensureBuilt, ROOT } from "./helpers/cli.js";

const LONG = process.env.RELIABILITY_LONG === "1";
const REPORT = process.env.RELIABILITY_REPORT;

const SIZES: {
  matrix: MatrixSizes;
  soak: { rotations: number; loops: number; faultRate: number };
  attack: AttackSizes;
  sso: SsoKillSizes;
  badInputConcurrency: number;
} = LONG
  ? {
      // A slow answer is a tenth of the deadline: 13 lanes of 32 callers load 2 cores, and a slow answer must not
      // turn into a timeout because the machine is busy.
      matrix: { callers: 32, repeats: 3, sourceTimeoutMs: 5_000, slowMs: 500, recoveryTimeoutMs: 20_000 },
      soak: { rotations: 1_000, loops: 64, faultRate: 0.1 },
      attack: {
        slowClients: 100,
        idleConnections: 500,
        floodRequests: 1_000,
        goodRequests: 300,
        checkSlowClientsCut: true,
      },
      sso: { workers: 8, rounds: 10 },
      badInputConcurrency: 4,
    }
  : {
      matrix: { callers: 4, repeats: 1, sourceTimeoutMs: 1_500, slowMs: 200, recoveryTimeoutMs: 15_000 },
      soak: { rotations: 25, loops: 16, faultRate: 0.1 },
      attack: {
        slowClients: 20,
        idleConnections: 100,
        floodRequests: 200,
        goodRequests: 50,
        checkSlowClientsCut: false,
      },
      sso: { workers: 8, rounds: 1 },
      badInputConcurrency: 4,
    };

const figures: ReliabilityFigures = {
  form: LONG ? "long" : "short",
  command: LONG ? "npm run reliability" : "npx vitest run test/reliability.test.ts",
  startedAt: new Date(),
  wallMs: {},
};

afterAll(async () => {
  if (REPORT) await writeReliabilityReport(REPORT, figures);
});

async function timed<T>(part: keyof ReliabilityFigures["wallMs"], fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    figures.wallMs[part] = Date.now() - t0;
  }
}

/** Runs the soak in its own `node --expose-gc` process; resolves with its figures and how it exited. */
function soak(): Promise<SoakFigures> {
  const s = SIZES.soak;
  const args = ["--expose-gc", join(ROOT, "bench/reliability/soak.mjs")];
  args.push("--rotations", String(s.rotations), "--loops", String(s.loops), "--fault-rate", String(s.faultRate));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let printedAt: number | undefined;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (printedAt === undefined && out.includes("\n")) printedAt = Date.now();
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    // A soak that does not exit by itself after close() is a failure: kill it after 30 s and say so.
    let killer: NodeJS.Timeout | undefined;
    const watch = setInterval(() => {
      if (printedAt !== undefined && killer === undefined) killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    }, 100);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearInterval(watch);
      if (killer) clearTimeout(killer);
      const line = out.split("\n")[0] ?? "";
      try {
        const parsed = JSON.parse(line) as Omit<SoakFigures, "exitAfterCloseMs" | "exitCode">;
        resolve({
          ...parsed,
          exitAfterCloseMs: Date.now() - (printedAt ?? Date.now()),
          exitCode: signal ? null : code,
        });
      } catch {
        reject(new Error(`the soak printed no figures (exit ${code ?? signal}): ${err.slice(-500)}`));
      }
    });
  });
}

describe(`reliability (${LONG ? "long" : "short"} form)`, () => {
  it(
    "fault matrix: every source × every fault × every window: no failure while valid, the typed error once not, recovery",
    async () => {
      const cells = await timed("matrix", () => runFaultMatrix(SIZES.matrix));
      figures.matrix = { sizes: SIZES.matrix, cells };
      expect(cells).toHaveLength(7 * 7 * 4 * SIZES.matrix.repeats);
      const problems = cells
        .filter((c) => c.problems.length > 0)
        .map((c) => `${c.kind} × ${c.fault} × ${c.window}: ${[...new Set(c.problems)].join("; ")}`);
      expect(problems).toEqual([]);
      expect(cells.reduce((a, c) => a + c.failedWhileValid, 0)).toBe(0);
      const typed = cells.reduce((a, c) => a + c.typedErrors, 0);
      expect(typed).toBe(
        cells.filter((c) => c.window === "expired" && c.fault !== "slow").length * SIZES.matrix.callers,
      );
    },
    LONG ? 1_800_000 : 240_000,
  );

  it(
    "soak: rotations under 64 loops and 10% refresh faults: no ExpiredToken, heap and descriptors flat, exits on close()",
    async () => {
      await ensureBuilt();
      const s = await timed("soak", soak);
      figures.soak = s;
      expect(s.rotations).toBe(SIZES.soak.rotations);
      expect(s.expiredToken).toBe(0);
      expect(s.errors).toEqual({});
      expect(s.failedRefreshes).toBeGreaterThan(0); // the faults did fire
      expect(s.heapEndBytes - s.heapStartBytes).toBeLessThan(Math.max(2 * 1_048_576, s.heapStartBytes * 0.1));
      expect(s.fdEnd - s.fdStart).toBeLessThanOrEqual(4);
      expect(s.exitCode).toBe(0);
      expect(s.exitAfterCloseMs).toBeLessThan(30_000);
    },
    LONG ? 3_600_000 : 240_000,
  );

  it(
    "bad input: >= 100 cases, each a typed, clear error without stack trace or secret, nothing on disk changed",
    async () => {
      await ensureBuilt();
      const results = await timed("badInput", () => runBadInput(SIZES.badInputConcurrency));
      figures.badInput = results;
      expect(results.length).toBeGreaterThanOrEqual(100);
      expect(results.filter((r) => !r.ok).map((r) => `[${r.area}] ${r.name}: ${r.problems.join(" | ")}`)).toEqual([]);
    },
    LONG ? 600_000 : 240_000,
  );

  it(
    "credential server under attack: nothing served but the exact request, good clients served throughout",
    async () => {
      const r = await timed("attack", () => runServerAttack(SIZES.attack));
      figures.attack = r;
      expect(r.cases.filter((c) => !c.ok).map((c) => `${c.name}: ${c.statuses.join(",")}`)).toEqual([]);
      expect(r.cases.reduce((a, c) => a + c.leaked, 0)).toBe(0);
      expect(r.goodFailed).toBe(0);
      if (SIZES.attack.checkSlowClientsCut) expect(r.slowCut).toBe(SIZES.attack.slowClients);
    },
    LONG ? 600_000 : 120_000,
  );

  it(
    "SSO cache: 8 processes, kill -9 mid-write, repeated: never a corrupt file, one CreateToken per refresh",
    async () => {
      await ensureBuilt();
      const r = await timed("sso", () => runSsoCacheKill(SIZES.sso));
      figures.sso = { sizes: SIZES.sso, result: r };
      expect(r.midWriteKills).toBe(SIZES.sso.rounds);
      expect(r.reads).toBeGreaterThan(100);
      expect(r.invalidReads).toBe(0);
      expect(r.reusedRefreshTokens).toBe(0);
      expect(r.refreshes).toBeGreaterThanOrEqual(SIZES.sso.rounds + 1);
      expect(r.workerFailures).toEqual([]);
      expect(r.badExits).toBe(0);
      expect(r.finalFileValid).toBe(true);
    },
    LONG ? 1_200_000 : 180_000,
  );
});
