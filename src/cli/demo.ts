import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { formatDuration, parseDuration } from "../util/duration.js";
import { redactKeyId } from "../refresh/redact.js";
import { startEmulator } from "../emulator/emulator.js";
import { RefreshableSession } from "../session/RefreshableSession.js";
import { parseInteger } from "./numbers.js";
import { runParsed, type CliCommand } from "./runner.js";

/** Input of {@link runDemo}. */
export interface DemoInput {
  /** How long the job runs, in seconds. Default 30. */
  durationSeconds?: number;
  /** Request loops running at once. Default 16. */
  concurrency?: number;
  /** Lifetime of the credentials the emulator issues, in seconds. Default 5. */
  lifetimeSeconds?: number;
}

/** Where the demo writes; the CLI passes the process streams. */
export interface DemoDeps {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

/** Counters of one demo run. */
export interface DemoSummary {
  requests: number;
  failures: number;
  refreshes: number;
  refreshFailures: number;
  distinctKeys: number;
  emulatorAssumeRoleCalls: number;
  seconds: number;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0)
    throw new RangeError(`\`${name}\` must be a positive number, got ${String(value)}`);
  return v;
}

/**
 * Runs the demo job: an embedded emulator issuing short-lived credentials and a steady S3 write/read load through a
 * RefreshableSession, with a live status line. Resolves to the exit code (0 when no request failed).
 *
 * @example
 * ```ts
 * const code = await runDemo({ durationSeconds: 10 }, { stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export async function runDemo(input: DemoInput, deps: DemoDeps): Promise<number> {
  const summary = await demoJob(input, deps);
  return summary.failures === 0 && summary.requests > 0 ? 0 : 1;
}

/** The demo job itself, returning its counters (used by tests and the bench). */
export async function demoJob(input: DemoInput, deps: DemoDeps): Promise<DemoSummary> {
  const durationMs = positive("durationSeconds", input.durationSeconds, 30) * 1000;
  const concurrency = Math.floor(positive("concurrency", input.concurrency, 16));
  const lifetime = positive("lifetimeSeconds", input.lifetimeSeconds, 5);
  const out = deps.stdout;
  const tty = out.isTTY === true;

  const emu = await startEmulator({ credentialLifetimeSeconds: lifetime });
  const session = new RefreshableSession({
    method: "sts",
    assumeRole: { RoleArn: `arn:aws:iam::${emu.accountId}:role/demo`, RoleSessionName: "demo" },
    sourceCredentials: async () => emu.rootCredentials,
    stsClientConfig: { endpoint: emu.url },
    region: emu.region,
  });
  const s3 = session.client(S3Client, { endpoint: emu.url, forcePathStyle: true });
  const keys = new Set<string>();
  session.on("refresh", (e) => keys.add(e.accessKeyId));
  let requests = 0;
  let failures = 0;
  let lastFailure = "";
  const started = Date.now();
  const bucket = "aws-refresh-demo";

  out.write(
    `aws-refresh demo: emulator at ${emu.url}, credentials live ${lifetime}s, ` +
      `${concurrency} request loops for ${formatDuration(durationMs)}\n`,
  );
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    requests++;
    const status = (): string => {
      const m = session.metrics();
      const left = m.expiration ? ((m.expiration.getTime() - Date.now()) / 1000).toFixed(1) : "-";
      const key = session.credentials.peek()?.accessKeyId;
      return (
        `t=${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s requests=${requests} refreshes=${m.refreshes} ` +
        `key=${redactKeyId(key)} expires-in=${left}s failures=${failures}`
      );
    };
    const ticker = setInterval(() => out.write(tty ? `\r${status()}\x1b[K` : `${status()}\n`), tty ? 200 : 5000);
    ticker.unref();
    const deadline = started + durationMs;
    const body = "x".repeat(256);
    const loop = async (id: number): Promise<void> => {
      for (let i = 0; Date.now() < deadline; i++) {
        const Key = `loop-${id}/object-${i % 32}`;
        try {
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body }));
          const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
          const text = await got.Body?.transformToString();
          requests += 2;
          if (text !== body) {
            failures++;
            lastFailure = `object ${Key} came back with other content`;
          }
        } catch (err) {
          failures++;
          lastFailure = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
    clearInterval(ticker);
    if (tty) out.write(`\r${status()}\x1b[K\n`);
  } finally {
    session.close();
    await emu.close();
  }
  const m = session.metrics();
  const summary: DemoSummary = {
    requests,
    failures,
    refreshes: m.refreshes,
    refreshFailures: m.refreshFailures,
    distinctKeys: keys.size,
    emulatorAssumeRoleCalls: emu.calls("sts:AssumeRole"),
    seconds: (Date.now() - started) / 1000,
  };
  out.write(
    `done: ${summary.requests} signed requests in ${summary.seconds.toFixed(1)}s, ` +
      `${summary.refreshes} refreshes (${summary.distinctKeys} distinct keys, ${summary.emulatorAssumeRoleCalls} AssumeRole calls), ` +
      `${summary.failures} failed requests\n`,
  );
  if (failures > 0) deps.stderr.write(`last failure: ${lastFailure}\n`);
  return summary;
}

/** `aws-refresh demo`'s flags to its input; throws naming a bad flag. */
export function demoInput(flags: { duration?: string; concurrency?: string; lifetime?: string }): DemoInput {
  const seconds = (text: string, flag: string): number => {
    const ms = parseDuration(text, flag);
    if (ms < 1000) throw new RangeError(`\`${flag}\` must be at least 1s, got ${JSON.stringify(text)}`);
    return ms / 1000;
  };
  return {
    ...(flags.duration !== undefined ? { durationSeconds: seconds(flags.duration, "--duration") } : {}),
    ...(flags.concurrency !== undefined
      ? { concurrency: parseInteger(flags.concurrency, "--concurrency", { min: 1, max: 1024 }) }
      : {}),
    ...(flags.lifetime !== undefined ? { lifetimeSeconds: seconds(flags.lifetime, "--lifetime") } : {}),
  };
}

/** The CLI's entry point for `aws-refresh demo`. */
export const demoCommand: CliCommand = (flags, _args, io) =>
  runParsed(
    "demo",
    io,
    () => demoInput(flags),
    (input) => runDemo(input, io),
  );
