import { EventEmitter } from "node:events";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runExec, EXIT_EXEC_FAILED, EXIT_NOT_FOUND } from "../src/cli/exec.js";
import { DEFAULT_SERVER_ADVISORY_MS } from "../src/server/credentialServer.js";
import { startEmulator, type Emulator } from "../src/testing.js";
import { awsConfigDir, cleanEnv, ensureBuilt, runCli, waitForOutput, ROOT_PROFILE, TEST_JWT } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";
import { waitForFile } from "./helpers/wait.js";

const awsCli = interopAvailable("aws-cli");
const boto3 = interopAvailable("boto3");

let emu: Emulator;
let dir: string;
let baseEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  await ensureBuilt();
  emu = await startEmulator();
  const cfg = awsConfigDir("");
  dir = cfg.dir;
  writeFileSync(join(dir, "web-token"), TEST_JWT);
  writeFileSync(
    join(dir, "print-creds.mjs"),
    `console.log(JSON.stringify({ Version: 1, AccessKeyId: "AKIAEMULATORROOT0001", SecretAccessKey: "emulator-root-secret-key-not-for-aws-0001" }));`,
  );
  writeFileSync(
    cfg.env.AWS_CONFIG_FILE,
    `${ROOT_PROFILE}region = us-east-1\n` +
      "[profile ml]\nrole_arn = arn:aws:iam::123456789012:role/ml\nsource_profile = root\nrole_session_name = ml-run\nregion = us-east-1\n" +
      "[profile chained]\nrole_arn = arn:aws:iam::123456789012:role/second\nsource_profile = ml\nregion = eu-west-1\n" +
      `[profile web]\nrole_arn = arn:aws:iam::123456789012:role/web\nweb_identity_token_file = ${join(dir, "web-token")}\nrole_session_name = web-run\n` +
      `[profile proc]\ncredential_process = ${process.execPath} ${join(dir, "print-creds.mjs")}\n` +
      "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/mfa\nsource_profile = root\nmfa_serial = arn:aws:iam::123456789012:mfa/me\n",
  );
  baseEnv = cleanEnv({ ...cfg.env, AWS_ENDPOINT_URL: emu.url });
  const admin = new S3Client({
    region: "us-east-1",
    endpoint: emu.url,
    forcePathStyle: true,
    credentials: emu.rootCredentials,
  });
  await admin.send(new CreateBucketCommand({ Bucket: "exec-listing" }));
  admin.destroy();
}, 120_000);

afterAll(async () => {
  await emu.close();
});

/** A Node child that prints what it sees and, through the SDK's default chain (the container provider), who it is. */
const NODE_CHILD = `
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { S3Client, ListBucketsCommand } from "@aws-sdk/client-s3";
import { writeFileSync } from "node:fs";
const e = process.env;
if (e.TOKEN_OUT) writeFileSync(e.TOKEN_OUT, e.AWS_CONTAINER_AUTHORIZATION_TOKEN ?? "");
const sts = new STSClient({});
const me = await sts.send(new GetCallerIdentityCommand({}));
const buckets = await new S3Client({ forcePathStyle: true }).send(new ListBucketsCommand({}));
const seen = {};
for (const k of ["AWS_ACCESS_KEY_ID","AWS_SECRET_ACCESS_KEY","AWS_SESSION_TOKEN","AWS_PROFILE","AWS_DEFAULT_PROFILE","AWS_REGION","AWS_DEFAULT_REGION","AWS_REFRESH_EXEC","AWS_CONTAINER_CREDENTIALS_FULL_URI"]) seen[k] = e[k] ?? null;
console.log(JSON.stringify({ arn: me.Arn, buckets: buckets.Buckets.map((b) => b.Name), env: seen, tokenShape: /^[0-9a-f]{64}$/.test(e.AWS_CONTAINER_AUTHORIZATION_TOKEN ?? "") }));
`;

function lastJson(stdout: string): any {
  return JSON.parse(stdout.trim().split("\n").at(-1) as string);
}

describe("exec: real children get fresh credentials", () => {
  it("a Node child using the SDK's own container provider, without the variables that would shadow it", async () => {
    const tokenOut = join(dir, "token-seen");
    const r = await runCli(
      ["exec", "--profile", "ml", "--", process.execPath, "--input-type=module", "-e", NODE_CHILD],
      {
        env: {
          ...baseEnv,
          AWS_ACCESS_KEY_ID: "AKIASHOULDBEREMOVED1",
          AWS_SECRET_ACCESS_KEY: "x",
          AWS_SESSION_TOKEN: "y",
          AWS_PROFILE: "root",
          AWS_DEFAULT_PROFILE: "root",
          TOKEN_OUT: tokenOut,
        },
      },
    );
    expect(r.code).toBe(0);
    const out = lastJson(r.stdout);
    expect(out.arn).toBe("arn:aws:sts::123456789012:assumed-role/ml/ml-run");
    expect(out.buckets).toContain("exec-listing");
    expect(out.tokenShape).toBe(true);
    expect(out.env).toMatchObject({
      AWS_ACCESS_KEY_ID: null,
      AWS_SECRET_ACCESS_KEY: null,
      AWS_SESSION_TOKEN: null,
      AWS_PROFILE: null,
      AWS_DEFAULT_PROFILE: null,
      AWS_REGION: "us-east-1",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_REFRESH_EXEC: "ml",
    });
    expect(out.env.AWS_CONTAINER_CREDENTIALS_FULL_URI).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/profiles\/ml$/);
    // One line on stderr: identity, source, expiry. The token never appears in anything exec printed.
    expect(r.stderr).toMatch(/assumed-role\/ml\/ml-run via profile ml: assume .* credentials expire .*running /);
    const token = readFileSync(tokenOut, "utf8");
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(r.stderr).not.toContain(token);
    expect(r.stdout).not.toContain(token);
  });

  it.skipIf(!awsCli.ok)(
    "a [default] profile with static keys does not shadow the server: the child acts as --profile's role",
    async () => {
      const cfg = awsConfigDir(
        "[default]\nregion = us-east-1\n" +
          "[profile ml]\nrole_arn = arn:aws:iam::123456789012:role/ml\nsource_profile = root\nrole_session_name = shadow\n" +
          `${ROOT_PROFILE}`,
      );
      // The user's keys in [default] of the credentials file (the emulator's root keys: a user, not the role).
      writeFileSync(
        cfg.env.AWS_SHARED_CREDENTIALS_FILE,
        "[default]\naws_access_key_id = AKIAEMULATORROOT0001\naws_secret_access_key = emulator-root-secret-key-not-for-aws-0001\n",
      );
      const env = cleanEnv({ ...cfg.env, AWS_ENDPOINT_URL: emu.url });
      const r = await runCli(
        ["exec", "--profile", "ml", "--", "aws", "sts", "get-caller-identity", "--output", "json"],
        {
          env,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).Arn).toBe("arn:aws:sts::123456789012:assumed-role/ml/shadow");
      expect(r.stderr).toContain("gets copies of your config files without them");
      // The copies are gone, and the user's files are as they were.
      const dirs = existsSync(join(cfg.dir, ".aws", "aws-refresh"))
        ? readdirSync(join(cfg.dir, ".aws", "aws-refresh")).filter((d) => d.startsWith("exec-"))
        : [];
      expect(dirs).toEqual([]);
      expect(readFileSync(cfg.env.AWS_SHARED_CREDENTIALS_FILE, "utf8")).toContain("aws_secret_access_key");
    },
  );

  it.skipIf(!awsCli.ok)("the AWS CLI as a child: sts get-caller-identity and s3 ls", async () => {
    const who = await runCli(["exec", "--profile", "chained", "--quiet", "--", "aws", "sts", "get-caller-identity"], {
      env: baseEnv,
    });
    expect(who.code).toBe(0);
    expect(who.stderr).toBe("");
    expect(JSON.parse(who.stdout).Arn).toMatch(/^arn:aws:sts::123456789012:assumed-role\/second\//);
    const ls = await runCli(["exec", "--profile", "ml", "--quiet", "--", "aws", "s3", "ls"], { env: baseEnv });
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain("exec-listing");
  });

  it.skipIf(!awsCli.ok)(
    "serves every kind of profile: role chain, web identity, credential_process, static keys",
    async () => {
      const cases: [string, RegExp][] = [
        ["chained", /assumed-role\/second\//],
        ["web", /assumed-role\/web\/web-run$/],
        ["proc", /:user\/emulator$/],
        ["root", /:user\/emulator$/],
      ];
      for (const [profile, arn] of cases) {
        const r = await runCli(
          ["exec", "--profile", profile, "--quiet", "--region", "us-east-1", "--", "aws", "sts", "get-caller-identity"],
          { env: baseEnv },
        );
        expect({ profile, code: r.code, stderr: r.stderr }).toEqual({ profile, code: 0, stderr: "" });
        expect(JSON.parse(r.stdout).Arn).toMatch(arn);
      }
    },
    // Four runs of our CLI and the AWS CLI, one after the other: ~10 s each on a busy 2-core machine.
    180_000,
  );

  it.skipIf(!boto3.ok)("--role-arn with its options, from a profile's credentials", async () => {
    const r = await runCli(
      [
        "exec",
        "--profile",
        "root",
        "--role-arn",
        "arn:aws:iam::123456789012:role/deploy",
        "--role-session-name",
        "tf-apply",
        "--external-id",
        "ext-1",
        "--duration",
        "2h",
        "--",
        "python3",
        "-c",
        "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])",
      ],
      { env: baseEnv },
    );
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("arn:aws:sts::123456789012:assumed-role/deploy/tf-apply");
    expect(emu.requests("sts:AssumeRole").at(-1)?.params).toMatchObject({
      RoleArn: "arn:aws:iam::123456789012:role/deploy",
      RoleSessionName: "tf-apply",
      ExternalId: "ext-1",
      DurationSeconds: "7200",
    });
  });
});

describe("exec: exit codes and signals", () => {
  it("exits with the command's code, 127 when it is not found, 128+N when signal N killed it", async () => {
    const seven = await runCli(["exec", "--profile", "root", "--quiet", "--", "sh", "-c", "exit 7"], { env: baseEnv });
    expect(seven.code).toBe(7);
    const missing = await runCli(["exec", "--profile", "root", "--quiet", "--", "no-such-command-xyz"], {
      env: baseEnv,
    });
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain("command not found");
    const killed = await runCli(["exec", "--profile", "root", "--quiet", "--", "sh", "-c", "kill -TERM $$"], {
      env: baseEnv,
    });
    expect(killed.code).toBe(128 + 15);
  });

  it("forwards SIGTERM, SIGINT and SIGHUP to the child and exits with its code", async () => {
    const child = `
      for (const s of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(s, () => { console.log("child got " + s); process.exit(40 + ({ SIGTERM: 15, SIGINT: 2, SIGHUP: 1 })[s]); });
      console.log("ready"); setInterval(() => {}, 1000);`;
    for (const [sig, code] of [
      ["SIGTERM", 55],
      ["SIGINT", 42],
      ["SIGHUP", 41],
    ] as const) {
      const r = await runCli(["exec", "--profile", "root", "--quiet", "--", process.execPath, "-e", child], {
        env: baseEnv,
        onStart: (p) => {
          void waitForOutput(p.stdout!, "ready").then(() => p.kill(sig));
        },
      });
      expect({ sig, code: r.code, out: r.stdout.trim().split("\n").at(-1) }).toEqual({
        sig,
        code,
        out: `child got ${sig}`,
      });
    }
    // A child without a handler dies of the forwarded signal: 128 + 2.
    const r = await runCli(
      [
        "exec",
        "--profile",
        "root",
        "--quiet",
        "--",
        process.execPath,
        "-e",
        "console.log('ready'); setInterval(() => {}, 1000)",
      ],
      { env: baseEnv, onStart: (p) => void waitForOutput(p.stdout!, "ready").then(() => p.kill("SIGINT")) },
    );
    expect(r.code).toBe(130);
  });
});

describe("exec: fails fast and clearly", () => {
  it("an unknown profile fails before the command starts", async () => {
    const marker = join(dir, "started-anyway");
    const r = await runCli(["exec", "--profile", "nope", "--", "touch", marker], { env: baseEnv });
    expect(r.code).toBe(EXIT_EXEC_FAILED);
    expect(r.stderr).toContain('Profile "nope" is not in');
    expect(r.stderr).toContain("Profiles there: chained, mfa, ml, proc, root, web");
    expect(() => readFileSync(marker)).toThrow();
  });

  it("a source that fails (STS refuses) fails before the command starts, with the reason", async () => {
    const remove = emu.fault("sts:AssumeRole", {
      error: { code: "AccessDenied", status: 403, message: "not allowed here" },
    });
    try {
      const r = await runCli(["exec", "--profile", "ml", "--", "true"], { env: baseEnv });
      expect(r.code).toBe(EXIT_EXEC_FAILED);
      expect(r.stderr).toContain("not allowed here");
      expect(r.stderr).toContain("The command was not started");
    } finally {
      remove();
    }
  });

  it("refuses to nest inside another exec", async () => {
    const r = await runCli(["exec", "--profile", "root", "--", "true"], {
      env: { ...baseEnv, AWS_REFRESH_EXEC: "ml" },
    });
    expect(r.code).toBe(EXIT_EXEC_FAILED);
    expect(r.stderr).toContain("already running inside `aws-refresh exec` (serving ml)");
  });

  it("--lazy starts the command without calling STS first", async () => {
    const before = emu.calls("sts:AssumeRole");
    const r = await runCli(["exec", "--profile", "ml", "--lazy", "--", "true"], { env: baseEnv });
    expect(r.code).toBe(0);
    expect(emu.calls("sts:AssumeRole")).toBe(before);
    expect(r.stderr).toContain("credentials are fetched when the command first asks");
  });

  it("--require: fails when the MFA session ends too soon, passes when it lasts", async () => {
    const args = ["exec", "--profile", "mfa", "--mfa-command", "echo 123456", "--mfa-duration", "1h"];
    const short = await runCli([...args, "--require", "2h", "--", "true"], { env: baseEnv });
    expect(short.code).toBe(EXIT_EXEC_FAILED);
    expect(short.stderr).toContain('Profile "mfa" cannot keep credentials valid for 2h');
    expect(short.stderr).toContain("--mfa-duration");
    expect(short.stderr).toContain("The command was not started");
    const ok = await runCli([...args, "--require", "50m", "--", "true"], { env: baseEnv });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/--require 50m: ok \(the MFA session/);
    expect(emu.requests("sts:GetSessionToken").at(-1)?.params).toMatchObject({
      SerialNumber: "arn:aws:iam::123456789012:mfa/me",
      DurationSeconds: "3600",
    });
  });

  it.skipIf(process.platform === "win32")(
    "an MFA profile with no terminal and no --mfa-command fails once, saying what to pass",
    async () => {
      const r = await runCli(["exec", "--profile", "mfa", "--", "true"], { env: baseEnv, detached: true });
      expect(r.code).toBe(EXIT_EXEC_FAILED);
      expect(r.stderr).toContain("there is no terminal to ask for the code on; pass --mfa-command CMD");
      expect(r.stderr.match(/no terminal/g)).toHaveLength(1); // reported once, not also by the engine's logger
      expect(r.stderr).toContain("The command was not started");
    },
  );

  it("bad flags are refused by name", async () => {
    const r = await runCli(["exec", "--profile", "root", "--require", "soon", "--", "true"], { env: baseEnv });
    expect(r.code).toBe(EXIT_EXEC_FAILED);
    expect(r.stderr).toContain("`--require` must be a duration");
    const d = await runCli(["exec", "--role-session-name", "x", "--", "true"], { env: baseEnv });
    expect(d.stderr).toContain("`--role-session-name` needs `--role-arn`");
  });
});

describe("runExec in-process", () => {
  // The SDK clients inside read endpoints from this process's environment.
  beforeAll(() => {
    process.env.AWS_ENDPOINT_URL = emu.url;
  });
  afterAll(() => {
    delete process.env.AWS_ENDPOINT_URL;
  });

  it("serves with windows wider than botocore's: a 1-hour credential is refreshed 30 minutes before expiry", async () => {
    const stderr = new Writable({ write: (_c, _e, cb) => cb() });
    const signals = new EventEmitter();
    let advisory: number | undefined;
    let nextRefreshLead: number | undefined;
    let signalled: Promise<unknown> | undefined;
    // The child says when its SIGTERM handler is in place; a signal sent before would kill it (143), not reach it.
    const ready = join(dir, "sigterm-child-ready");
    const code = await runExec(
      {
        source: { profile: "ml" },
        command: [
          process.execPath,
          "-e",
          "process.on('SIGTERM', () => process.exit(3)); setInterval(() => {}, 1000); " +
            `require('node:fs').writeFileSync(${JSON.stringify(ready)}, 'ready\\n')`,
        ],
        quiet: true,
      },
      {
        env: { ...baseEnv },
        stderr,
        signals,
        onStarted: ({ server, resolved }) => {
          const m = server.engine(resolved.name)!.metrics();
          advisory = m.advisoryMs;
          nextRefreshLead = m.expiration!.getTime() - m.nextRefreshAt!.getTime();
          // Sent even if the wait fails, so the child ends and the failure is reported.
          signalled = waitForFile(ready, { what: "the child's SIGTERM handler" }).finally(
            () => void signals.emit("SIGTERM"),
          );
        },
      },
    );
    await signalled;
    expect(code).toBe(3); // the injected SIGTERM reached the child
    expect(advisory).toBe(DEFAULT_SERVER_ADVISORY_MS);
    // Refreshed at least 22.5 minutes before expiry: after that, a child whose 15-minute window opens finds a new one.
    // (Every credential after the first is refreshed 30 to 22.5 minutes before its expiry; the first one's refresh is
    // spread over its life before that point, so a fleet started together refreshes apart.)
    expect(nextRefreshLead).toBeGreaterThanOrEqual(22.5 * 60_000 - 1000);
    expect(nextRefreshLead).toBeLessThanOrEqual(60 * 60_000 + 1000);
  });

  it("reports a command that cannot be found with 127", async () => {
    const lines: string[] = [];
    const stderr = new Writable({
      write: (c, _e, cb) => {
        lines.push(String(c));
        cb();
      },
    });
    const code = await runExec(
      { source: { profile: "root" }, command: ["definitely-not-here-42"], quiet: true },
      { env: { ...baseEnv }, stderr },
    );
    expect(code).toBe(EXIT_NOT_FOUND);
    expect(lines.join("")).toContain('cannot run "definitely-not-here-42": command not found');
  });
});
