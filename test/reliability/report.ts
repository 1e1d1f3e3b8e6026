/**
 * Writes docs/reliability.md from one run's figures: what each part checks, the command, the date, the machine, and
 * the generated tables. Only `npm run reliability` (the long form) writes it; the short form in `npm test` does not.
 */
import { cpus, totalmem, type } from "node:os";
import { writeFileSync } from "node:fs";
import { format, resolveConfig } from "prettier";
import type { AttackResult } from "./serverAttack.js";
import type { BadInputResult } from "./badInput.js";
import { FAULTS, WINDOWS, type CellResult, type MatrixSizes } from "./faultMatrix.js";
import { PROCESS_DEADLINE_FACTOR, SOURCE_KINDS } from "./sources.js";
import type { SsoKillResult, SsoKillSizes } from "./ssoCacheKill.js";

/** What the soak child printed, plus what the parent saw. */
export interface SoakFigures {
  rotations: number;
  mandatoryRotations: number;
  loops: number;
  faultRate: number;
  requests: number;
  errors: Record<string, number>;
  expiredToken: number;
  refreshes: number;
  failedRefreshes: number;
  sourceCalls: number;
  callerWaits: number;
  heapStartBytes: number;
  heapEndBytes: number;
  fdStart: number;
  fdEnd: number;
  durationMs: number;
  /** From the figures line to the process's exit, after close(). */
  exitAfterCloseMs: number;
  exitCode: number | null;
}

export interface ReliabilityFigures {
  form: "short" | "long";
  command: string;
  startedAt: Date;
  wallMs: Partial<Record<"matrix" | "soak" | "badInput" | "attack" | "sso", number>>;
  matrix?: { sizes: MatrixSizes; cells: CellResult[] };
  soak?: SoakFigures;
  badInput?: BadInputResult[];
  attack?: AttackResult;
  sso?: { sizes: SsoKillSizes; result: SsoKillResult };
}

const mib = (b: number): string => `${(b / 1_048_576).toFixed(1)} MiB`;
const secs = (ms: number | undefined): string => (ms === undefined ? "–" : `${(ms / 1000).toFixed(1)} s`);
const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

function matrixSection(m: NonNullable<ReliabilityFigures["matrix"]>): string {
  const { cells, sizes } = m;
  const rows = SOURCE_KINDS.map((kind) => {
    const cols = FAULTS.map((fault) => {
      const mine = cells.filter((c) => c.kind === kind && c.fault === fault);
      const ok = mine.filter((c) => c.problems.length === 0).length;
      return ok === mine.length ? `${ok}/${mine.length} ✓` : `**${ok}/${mine.length}**`;
    });
    return `| ${kind} | ${cols.join(" | ")} |`;
  });
  const requests = cells.reduce((a, c) => a + c.requests, 0);
  const failed = cells.reduce((a, c) => a + c.failedWhileValid, 0);
  const typed = cells.reduce((a, c) => a + c.typedErrors, 0);
  const expectedTyped = cells.filter((c) => c.window === "expired" && c.fault !== "slow").length * sizes.callers;
  const rec = cells.map((c) => c.recoveryMs ?? Infinity).sort((a, b) => a - b);
  const problems = cells.filter((c) => c.problems.length > 0);
  return [
    `Each cell is one source kind × one fault, run in each of the ${WINDOWS.length} windows (${WINDOWS.join(", ")}), ` +
      `${sizes.repeats} time(s): "4/4 ✓" means all four windows passed every check.`,
    "",
    `| source | ${FAULTS.join(" | ")} |`,
    `| --- | ${FAULTS.map(() => "---").join(" | ")} |`,
    ...rows,
    "",
    "| figure | value |",
    "| --- | --- |",
    `| cells run | ${cells.length} |`,
    `| requests answered (callers + signed GetCallerIdentity) | ${requests} |`,
    `| failed while a valid credential existed | **${failed}** |`,
    `| callers given \`CREDENTIALS_EXPIRED\` once none was valid | ${typed} of ${expectedTyped} expected |`,
    `| recovery after the fault was lifted (median / p95 / max) | ${secs(pct(rec, 0.5))} / ${secs(pct(rec, 0.95))} / ${secs(rec.at(-1))} |`,
    `| cells with a problem | **${problems.length}** |`,
    "",
    `Sizes: ${sizes.callers} concurrent callers per cell, \`sourceTimeoutMs\` ${sizes.sourceTimeoutMs} ms (the ` +
      `\`timeout\` fault holds the answer ${sizes.sourceTimeoutMs * 2} ms), \`slow\` answers after ${sizes.slowMs} ms; ` +
      `credential_process, which starts a process per call, ${PROCESS_DEADLINE_FACTOR} times that deadline; ` +
      `recovery allowed ${sizes.recoveryTimeoutMs} ms.`,
    ...(problems.length
      ? [
          "",
          "Problems:",
          ...problems.map((c) => `- ${c.kind} × ${c.fault} × ${c.window}: ${[...new Set(c.problems)].join("; ")}`),
        ]
      : []),
  ].join("\n");
}

function soakSection(s: SoakFigures): string {
  const growth = s.heapEndBytes - s.heapStartBytes;
  const errors = Object.entries(s.errors);
  return [
    "| figure | value |",
    "| --- | --- |",
    `| rotations (of them in the mandatory window, callers waiting) | ${s.rotations} (${s.mandatoryRotations}) |`,
    `| request loops | ${s.loops} |`,
    `| requests (signed GetCallerIdentity) | ${s.requests} |`,
    `| \`ExpiredToken\` reaching callers | **${s.expiredToken}** |`,
    `| other errors reaching callers | ${errors.length ? errors.map(([k, v]) => `${k}: ${v}`).join(", ") : "0"} |`,
    `| source calls / successful / failed (injected faults ≈ ${Math.round(s.faultRate * 100)} %) | ${s.sourceCalls} / ${s.refreshes} / ${s.failedRefreshes} |`,
    `| callers that waited for a refresh | ${s.callerWaits} |`,
    `| heap after full GC, after warm-up → end | ${mib(s.heapStartBytes)} → ${mib(s.heapEndBytes)} (${growth >= 0 ? "+" : ""}${(growth / 1024).toFixed(0)} KiB) |`,
    `| open file descriptors, after warm-up → end | ${s.fdStart} → ${s.fdEnd} |`,
    `| exit after \`close()\` (no \`process.exit\`) | ${s.exitCode === 0 ? "yes" : `no (${s.exitCode})`}, ${s.exitAfterCloseMs} ms after the figures |`,
    `| duration | ${secs(s.durationMs)} |`,
  ].join("\n");
}

function badInputSection(results: BadInputResult[]): string {
  const areas = [...new Set(results.map((r) => r.area))];
  const summary = areas.map((a) => {
    const mine = results.filter((r) => r.area === a);
    return `| ${a} | ${mine.length} | ${mine.filter((r) => r.ok).length} |`;
  });
  const esc = (t: string): string => t.replace(/\|/g, "\\|").replace(/\/tmp\/ars-bad-[A-Za-z0-9]+/g, "$DIR");
  return [
    "| area | cases | passed |",
    "| --- | --- | --- |",
    ...summary,
    `| **all** | **${results.length}** | **${results.filter((r) => r.ok).length}** |`,
    "",
    "<details><summary>Every case, with what the user is told (first line, temporary directory shown as $DIR)</summary>",
    "",
    "| area | case | outcome | message |",
    "| --- | --- | --- | --- |",
    ...results.map(
      (r) =>
        `| ${r.area} | ${esc(r.name)} | ${r.ok ? "" : "**FAILED** "}${esc(r.got)} | ${esc(r.said.split("\n")[0]?.slice(0, 160) ?? "")} |`,
    ),
    "",
    "</details>",
  ].join("\n");
}

function attackSection(a: AttackResult): string {
  return [
    "| attack | requests | answers | secret in an answer |",
    "| --- | --- | --- | --- |",
    ...a.cases.map((c) => {
      const counts = new Map<number, number>();
      for (const s of c.statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
      const answers = [...counts].map(([s, n]) => `${s === 0 ? "closed" : s}${n > 1 ? ` ×${n}` : ""}`).join(", ");
      return `| ${c.ok ? "" : "**FAILED** "}${c.name} | ${c.statuses.length} | ${answers} | ${c.leaked} |`;
    }),
    "",
    `Good clients served during the load: **${a.goodServed}** of ${a.goodServed + a.goodFailed}.` +
      (a.slowCut !== undefined
        ? ` Slow clients cut by the server: ${a.slowCut}, the last ${secs(a.slowCutAfterMs)} after they connected ` +
          "(Node's `headersTimeout` of 10 s, checked every 30 s)."
        : " (The short form does not wait for the server to cut the slow clients.)"),
  ].join("\n");
}

function ssoSection(s: NonNullable<ReliabilityFigures["sso"]>): string {
  const r = s.result;
  return [
    "| figure | value |",
    "| --- | --- |",
    `| worker processes sharing the cache | ${r.workers} |`,
    `| rounds | ${r.rounds} |`,
    `| lock holders killed (\`kill -9\`) half way through writing the token file | ${r.midWriteKills} |`,
    `| workers killed (\`kill -9\`) at a random moment and replaced | ${r.workerKills} |`,
    `| reads of the token file by a poller / corrupt or partial reads | ${r.reads} / **${r.invalidReads}** |`,
    `| token refreshes (CreateToken) / refresh tokens presented twice | ${r.refreshes} / **${r.reusedRefreshTokens}** |`,
    `| failed requests in the surviving workers | ${r.workerFailures.length} |`,
    `| token file valid at the end | ${r.finalFileValid ? "yes" : "**no**"} |`,
  ].join("\n");
}

function machine(): string {
  const c = cpus();
  return `${type()} ${process.arch}, ${c.length} × ${c[0]?.model.trim() ?? "unknown CPU"}, ${mib(totalmem())} RAM, Node.js ${process.version}`;
}

/** Writes the page, formatted as `npm run check` wants it. */
export async function writeReliabilityReport(path: string, f: ReliabilityFigures): Promise<void> {
  const when = f.startedAt.toISOString().replace(/\.\d{3}Z$/, "Z");
  const total = Object.values(f.wallMs).reduce((a, b) => a + (b ?? 0), 0);
  const parts: string[] = [
    "# Reliability",
    "",
    "<!-- Generated by `npm run reliability` (test/reliability/report.ts); edit the generator, not this file. -->",
    "",
    "What the library promises (never an expired credential handed out while a valid one can be had, the typed error " +
      "once none can, recovery without a restart, a credential server that serves nobody else, an SSO cache no crash " +
      "can corrupt) measured against the project's emulator with the real engine, the real sources, real SDK clients " +
      "and real processes. Only the clock is moved: the emulator's clock offset is the engine's clock, so a credential " +
      "reaches its advisory, mandatory or expired window at once instead of after a sleep.",
    "",
    `- **Run:** \`${f.command}\` (${f.form} form), ${when}, ${secs(total)} in all ` +
      `(fault matrix ${secs(f.wallMs.matrix)}, soak ${secs(f.wallMs.soak)}, bad input ${secs(f.wallMs.badInput)}, ` +
      `server attack ${secs(f.wallMs.attack)}, SSO cache ${secs(f.wallMs.sso)}).`,
    `- **Machine:** ${machine()}.`,
    "- **Short form:** the same suite with small sizes runs in `npm test` (`test/reliability.test.ts`); it checks the " +
      "same things but does not write this page. `npm run reliability` runs the long form and rewrites it.",
    "",
    "## Fault matrix",
    "",
    "Every source kind (STS AssumeRole, web identity, IAM Identity Center, `credential_process` — a helper that asks " +
      "the emulator's STS —, IoT Core X.509, IAM Roles Anywhere, a custom function) × every fault the emulator injects " +
      "on the source's own operation (503, the service's own throttling error, an answer held past the engine's " +
      "`sourceTimeoutMs`, a connection reset, a malformed 200, a credential that expired before it was issued, a slow " +
      "but good answer) × every window of the held credential. In each cell a new engine gets its first credential, " +
      "the clock moves into the window, the fault is injected, a forced refresh and the concurrent callers run, then " +
      "the fault is lifted. Checks: while a valid credential exists no caller fails and every credential served is one " +
      "the emulator accepts (a signed GetCallerIdentity); once none is valid every caller gets `CREDENTIALS_EXPIRED` " +
      "naming the source, without a stack trace; a slow answer is waited for; after the fault the engine gets a new " +
      "credential on its own.",
    "",
  ];
  if (f.matrix) parts.push(matrixSection(f.matrix), "");
  parts.push(
    "## Soak",
    "",
    "One engine over the STS source, 64 request loops signing GetCallerIdentity with it (the SDK's own clients, " +
      "default retries), the clock driven through every rotation — to the engine's own refresh time in the advisory " +
      "window, or into the mandatory window where callers wait — while about 10 % of the source's calls fail (503, " +
      "throttling, reset, malformed, already expired; one attempt per call, so each is a failed refresh). The emulator " +
      "runs in a separate process, so the heap (after `global.gc()`, `--expose-gc`) and the file descriptors " +
      "(`/proc/self/fd`) are the engine's and its clients'. After the last rotation the engine is closed, the clients " +
      "destroyed, and the process must exit by itself. Script: `bench/reliability/soak.mjs`.",
    "",
  );
  if (f.soak) parts.push(soakSection(f.soak), "");
  parts.push(
    "## Bad input",
    "",
    "Table-driven (`test/reliability/badInput.ts`): AWS config and credentials files, SSO cache files, " +
      "`credential_process` output and behaviour, CLI flags (through `dist/cli.js`), library options and credential " +
      "server requests. A canary secret is planted wherever a secret would be (keys, tokens, a helper's stderr); every " +
      "file is hashed before and after. Each case must end in a typed error (a `RefreshSessionError` with the expected " +
      "code, a `TypeError`/`RangeError` naming the option, a CLI exit status from 1 to 125 with the reason on stderr — " +
      "or in `status`'s report —, a 4xx answer) whose message says what is wrong, with no stack trace, no canary " +
      "anywhere in the output (nor in `util.inspect` of the error, causes included), and every file unchanged.",
    "",
  );
  if (f.badInput) parts.push(badInputSection(f.badInput), "");
  parts.push(
    "## Credential server under attack",
    "",
    "Raw sockets against `startCredentialServer` (what `aws-refresh serve` runs), serving a credential whose secret is " +
      "a canary: missing, wrong, truncated and re-cased tokens, CR/LF/NUL in the header, a DNS-rebinding `Host`, no " +
      "`Host`, every other method, traversal and look-alike paths, oversized heads, bodies and request smuggling, " +
      "non-HTTP bytes; then idle connections, slow clients dripping their head a byte every 500 ms and a flood of " +
      "guessed tokens, while good clients keep asking. Checks: only the exact authorised request is answered with the " +
      "credential, and every good client is served throughout.",
    "",
  );
  if (f.attack) parts.push(attackSection(f.attack), "");
  parts.push(
    "## SSO token cache under `kill -9`",
    "",
    'Eight worker processes (the built library, `RefreshableSession` with `method: "sso"`) share one cache and a ' +
      "token that lives 2 s, so they refresh it all the time. Each round, a process takes the cache lock and is killed " +
      "half way through writing the token file with the library's own atomic writer, and a random worker is killed " +
      "and replaced; a poller reads the file every 5 ms. Checks: no read ever sees a corrupt or partial file, no " +
      "refresh token is presented twice (one CreateToken per refresh across the processes), the surviving workers " +
      "never fail a request, and refreshing resumes once a dead holder's lock goes stale.",
    "",
  );
  if (f.sso) parts.push(ssoSection(f.sso), "");
  const text = `${parts.join("\n").trimEnd()}\n`;
  writeFileSync(path, await format(text, { ...(await resolveConfig(path)), parser: "markdown" }));
}
