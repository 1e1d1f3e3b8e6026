import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/testing.js";
import { awsConfigDir, cleanEnv, ROOT, ROOT_PROFILE, waitForOutput, type CliResult } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";

// The single executable `npm run build:binary` writes, run with a PATH that holds no `node`: it must need nothing
// but itself. Building takes a minute (most of it postject rewriting a 120 MB executable), so a binary newer than
// every input is reused.
const BINARY = join(ROOT, "dist/bin/aws-refresh");
const CHILD = join(ROOT, "test/helpers/boto3_child.py");
const run = promisify(execFile);
const boto3 = interopAvailable("boto3");
const awsCli = interopAvailable("aws-cli");

function newestInput(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestInput(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function binaryIsCurrent(): boolean {
  if (!existsSync(BINARY)) return false;
  const inputs = [join(ROOT, "package-lock.json"), join(ROOT, "scripts/build-binary.mjs")].map(
    (f) => statSync(f).mtimeMs,
  );
  return statSync(BINARY).mtimeMs > Math.max(newestInput(join(ROOT, "src")), ...inputs);
}

/**
 * A directory to use as the whole PATH: links to the real python3 (not pyenv's shims, which need bash and more from
 * /usr/bin, where node lives) and to the AWS CLI, and nothing else.
 */
function pathWithoutNode(): string {
  const dir = mkdtempSync(join(tmpdir(), "no-node-path-"));
  const [python, scripts] = execFileSync(
    "python3",
    ["-c", "import sys, sysconfig; print(sys.executable); print(sysconfig.get_path('scripts'))"],
    { encoding: "utf8" },
  )
    .trim()
    .split("\n") as [string, string];
  symlinkSync(python, join(dir, "python3"));
  // The AWS CLI v1 is a Python script whose shebang names its interpreter's absolute path.
  const aws = existsSync(join(scripts, "aws"))
    ? join(scripts, "aws")
    : spawnSync("/bin/sh", ["-c", "command -v aws"], { encoding: "utf8" }).stdout.trim();
  if (aws) symlinkSync(realpathSync(aws), join(dir, "aws"));
  return dir;
}

function runBinary(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(BINARY, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("error", reject);
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

let PATH: string;

beforeAll(async () => {
  if (!binaryIsCurrent()) {
    await run(process.execPath, [join(ROOT, "scripts/build-binary.mjs")], { cwd: ROOT, maxBuffer: 16 << 20 });
  }
  PATH = pathWithoutNode();
}, 600_000);

describe("the single executable", () => {
  it("runs with no node on the PATH, and every command answers --help", async () => {
    const env = cleanEnv({ PATH });
    // The PATH really holds no node (POSIX sh from its absolute path, looking it up there).
    expect(() => execFileSync("/bin/sh", ["-c", "command -v node"], { env, stdio: "pipe" })).toThrow();
    const help = await runBinary(["--help"], env);
    expect(help.code).toBe(0);
    const commands = [...help.stdout.matchAll(/^ {2}([a-z][a-z-]+)\b/gm)].map((m) => m[1] as string);
    expect(commands).toEqual(expect.arrayContaining(["exec", "serve", "credential-process", "status", "emulate"]));
    for (const command of commands.filter((c) => c !== "help")) {
      const r = await runBinary([command, "--help"], env);
      expect({ command, code: r.code, stderr: r.stderr }).toEqual({ command, code: 0, stderr: "" });
      expect(r.stdout).toContain(`Usage: aws-refresh ${command}`);
    }
    // The package's version, defined at build time as for dist/cli.js (not the sources' "0.0.0-dev").
    const version = await runBinary(["--version"], env);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect({ code: version.code, stdout: version.stdout.trim() }).toEqual({ code: 0, stdout: pkg.version });
  });

  it("serves `emulate`: an SDK client gets its STS answers", async () => {
    const p = spawn(BINARY, ["emulate", "--json"], { env: cleanEnv({ PATH }), stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      p.stdout.on("data", (d: Buffer) => (out += d.toString()));
      await waitForOutput(p.stdout, "\n");
      const info = JSON.parse(out.split("\n")[0] as string) as { url: string };
      const sts = new STSClient({
        region: "us-east-1",
        endpoint: info.url,
        credentials: {
          accessKeyId: "AKIAEMULATORROOT0001",
          secretAccessKey: "emulator-root-secret-key-not-for-aws-0001",
        },
      });
      const me = await sts.send(new GetCallerIdentityCommand({}));
      sts.destroy();
      expect(me.Account).toBe("123456789012");
    } finally {
      p.kill("SIGTERM");
    }
  });
});

describe.skipIf(!boto3.ok)("the single executable: exec with a boto3 child", () => {
  // As in exec-interop.test.ts: 5-second credentials, botocore's refresh window moved to a quarter of a lifetime.
  const LIFETIME = 5;
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ credentialLifetimeSeconds: LIFETIME });
  });
  afterAll(async () => {
    await emu.close();
  });

  it("keeps the child's S3 calls going across credential rotations with zero errors", async () => {
    const { env } = awsConfigDir(
      ROOT_PROFILE +
        "[profile ml]\nrole_arn = arn:aws:iam::123456789012:role/ml\nsource_profile = root\nregion = us-east-1\n",
    );
    const r = await runBinary(
      ["exec", "--profile", "ml", "--", "python3", CHILD],
      cleanEnv({
        ...env,
        PATH,
        AWS_ENDPOINT_URL: emu.url,
        CHILD_SECONDS: "16",
        CHILD_BUCKET: "binary",
        CHILD_CLOCK_SHIFT_SECONDS: String(-(900 - LIFETIME / 4)),
      }),
      90_000,
    );
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1) as string);
    const rotations = emu.calls("sts:AssumeRole") - 1;
    expect(out.errors).toBe(0);
    expect(out.calls).toBeGreaterThan(50);
    expect(rotations).toBeGreaterThanOrEqual(3);
    expect(out.keys).toBeGreaterThanOrEqual(3); // the child moved on to each new credential
    expect(out.served).toBeLessThanOrEqual(out.keys + 3); // about one server request per credential
  }, 120_000);
});

describe.skipIf(!awsCli.ok)("the single executable: credential-process for the AWS CLI", () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator();
  });
  afterAll(async () => {
    await emu.close();
  });

  it("is a profile's credential_process: the AWS CLI gets the role, from one cached STS call", async () => {
    const { dir, env } = awsConfigDir("");
    writeFileSync(
      env.AWS_CONFIG_FILE,
      ROOT_PROFILE +
        "[profile base]\nrole_arn = arn:aws:iam::123456789012:role/base\nsource_profile = root\nrole_session_name = bin\n" +
        `[profile app]\ncredential_process = ${BINARY} credential-process --profile base --cache-dir ${join(dir, "cache")}\n` +
        "region = us-east-1\n",
    );
    const awsEnv = cleanEnv({ ...env, PATH, AWS_ENDPOINT_URL: emu.url });
    const before = emu.calls("sts:AssumeRole");
    for (let i = 0; i < 2; i++) {
      const r = await run(join(PATH, "aws"), ["sts", "get-caller-identity", "--profile", "app"], { env: awsEnv });
      expect(JSON.parse(r.stdout).Arn).toBe("arn:aws:sts::123456789012:assumed-role/base/bin");
    }
    expect(emu.calls("sts:AssumeRole") - before).toBe(1);
  });
});
