import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

/** The repository root and the built CLI. Tests that spawn it need `npm run build` (which `npm test` runs). */
export const ROOT = resolve(__dirname, "../..");
export const CLI = join(ROOT, "dist/cli.js");

/** Builds dist/ when a lone `vitest run` finds it missing. */
export async function ensureBuilt(): Promise<void> {
  if (!existsSync(CLI)) await promisify(execFile)("npx", ["tsup"], { cwd: ROOT });
}

/** A `[profile root]` section with the emulator's root keys (they open only the local emulator). */
export const ROOT_PROFILE =
  "[profile root]\naws_access_key_id = AKIAEMULATORROOT0001\n" +
  "aws_secret_access_key = emulator-root-secret-key-not-for-aws-0001\n";
/** A web identity token of the JWT shape STS asks for. */
export const TEST_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl";

/** The test process's environment without any AWS_* variable, plus `overrides`. */
export function cleanEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("AWS_")) env[k] = v;
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  env.AWS_EC2_METADATA_DISABLED = "true";
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** A temporary directory holding an AWS config file with `config` and an empty credentials file. */
export function awsConfigDir(config: string): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), "aws-refresh-cli-"));
  writeFileSync(join(dir, "config"), config);
  writeFileSync(join(dir, "credentials"), "");
  return {
    dir,
    env: { HOME: dir, AWS_CONFIG_FILE: join(dir, "config"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials") },
  };
}

/** What a finished CLI run left. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli.js ...args`; `onStart` gets the process (to signal it). */
export function runCli(
  args: string[],
  options: {
    env: NodeJS.ProcessEnv;
    timeoutMs?: number;
    onStart?: (p: ChildProcess) => void;
    cwd?: string;
    /** Run in a new session, without a controlling terminal. */
    detached?: boolean;
  },
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    // `--` as the installed bin's shebang does, so Node.js 20 leaves `serve --env-file` to us.
    const p = spawn(process.execPath, ["--", CLI, ...args], {
      env: options.env,
      cwd: options.cwd ?? ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      detached: options.detached ?? false,
    });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    p.on("error", reject);
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    options.onStart?.(p);
  });
}

/** Resolves once `text` has appeared in what `stream` wrote. */
export function waitForOutput(stream: NodeJS.ReadableStream, text: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(text)}`)), timeoutMs);
    const onData = (d: Buffer | string): void => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        stream.removeListener("data", onData);
        resolvePromise();
      }
    };
    stream.on("data", onData);
  });
}

/**
 * Starts `aws-refresh serve … --json`, hands its printed JSON (the URLs, token file and environment) to `body`, then
 * stops it with SIGTERM and returns what it left. A failure in `body` is thrown after the daemon has stopped.
 */
export async function withServe(
  args: string[],
  env: NodeJS.ProcessEnv,
  body: (info: any, p: ChildProcess) => Promise<void>,
): Promise<CliResult> {
  let failure: unknown;
  const result = await runCli(["serve", ...args, "--json"], {
    env,
    onStart: (p) => {
      let out = "";
      p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      void waitForOutput(p.stdout!, "\n")
        .then(() => body(JSON.parse(out.split("\n")[0] as string), p))
        .catch((err: unknown) => (failure = err))
        .finally(() => p.kill("SIGTERM"));
    },
  });
  if (failure) throw failure;
  return result;
}
