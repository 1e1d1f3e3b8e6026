import { execFile } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/testing.js";
import {
  CLI,
  awsConfigDir,
  cleanEnv,
  ensureBuilt,
  ROOT,
  runCli,
  waitForOutput,
  withServe,
  ROOT_PROFILE,
  TEST_JWT,
} from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";

const run = promisify(execFile);
const boto3 = interopAvailable("boto3");

let emu: Emulator;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await ensureBuilt();
  emu = await startEmulator();
  const cfg = awsConfigDir("");
  dir = cfg.dir;
  writeFileSync(join(dir, "web-token"), TEST_JWT);
  writeFileSync(
    cfg.env.AWS_CONFIG_FILE,
    ROOT_PROFILE +
      "[profile ml]\nrole_arn = arn:aws:iam::123456789012:role/ml\nsource_profile = root\nrole_session_name = served-ml\nregion = eu-west-1\n" +
      `[profile web]\nrole_arn = arn:aws:iam::123456789012:role/web\nweb_identity_token_file = ${join(dir, "web-token")}\nrole_session_name = served-web\nregion = us-east-1\n`,
  );
  env = cleanEnv({ ...cfg.env, AWS_ENDPOINT_URL: emu.url });
}, 120_000);

afterAll(async () => {
  await emu.close();
});

describe("serve", () => {
  it("serves several profiles to real clients, with a 0600 token file, env files, /healthz and /metrics", async () => {
    const tokenFile = join(dir, "serve.token");
    let token = "";
    const r = await withServe(
      ["--profile", "ml", "--profile", "web", "--token-file", tokenFile, "--env-file", join(dir, "env-{profile}")],
      env,
      async (info) => {
        token = readFileSync(tokenFile, "utf8");
        expect(token).toMatch(/^[0-9a-f]{64}$/); // no newline: botocore sends the file's bytes verbatim
        expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
        expect(info.tokenFile).toBe(tokenFile);
        expect(info.profiles.ml.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/profiles\/ml$/);
        expect(info.unset).toContain("AWS_PROFILE");
        const mlEnvFile = join(dir, "env-ml");
        expect(statSync(mlEnvFile).mode & 0o777).toBe(0o600);
        expect(readFileSync(mlEnvFile, "utf8")).toBe(
          `AWS_CONTAINER_CREDENTIALS_FULL_URI=${info.profiles.ml.url}\n` +
            `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=${tokenFile}\nAWS_REGION=eu-west-1\nAWS_DEFAULT_REGION=eu-west-1\n`,
        );
        // A Node child with the SDK's default chain, from profile web's environment.
        const node = await run(
          process.execPath,
          [
            "--input-type=module",
            "-e",
            `import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
             console.log((await new STSClient({}).send(new GetCallerIdentityCommand({}))).Arn);`,
          ],
          { cwd: ROOT, env: cleanEnv({ ...info.profiles.web.env, AWS_ENDPOINT_URL: emu.url }) },
        );
        expect(node.stdout.trim()).toBe("arn:aws:sts::123456789012:assumed-role/web/served-web");
        if (boto3.ok) {
          const py = await run(
            "python3",
            ["-c", "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"],
            { env: cleanEnv({ ...info.profiles.ml.env, AWS_ENDPOINT_URL: emu.url }) },
          );
          expect(py.stdout.trim()).toBe("arn:aws:sts::123456789012:assumed-role/ml/served-ml");
        }
        const health = await fetch(`${info.url}/healthz`);
        expect(health.status).toBe(200);
        expect(await health.json()).toEqual({ status: "ok" });
        const metrics = await (
          await fetch(`${info.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
        ).text();
        expect(metrics).toMatch(/^aws_refresh_credential_expiry_seconds\{profile="ml"\} \d+$/m);
        expect(metrics).toMatch(/^aws_refresh_credential_expiry_seconds\{profile="web"\} \d+$/m);
        expect(metrics).toMatch(/^aws_refresh_refreshes_total\{profile="ml"\} 1$/m);
        expect(metrics).toMatch(/^aws_refresh_server_requests_total\{profile="web",status="200"\} 1$/m);
        expect((await fetch(`${info.url}/metrics`)).status).toBe(401);
      },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("shutting down");
    expect(r.stdout).not.toContain(token);
    expect(r.stderr).not.toContain(token);

    // A restart keeps the token, so running programs and containers keep working.
    const again = await withServe(["--profile", "ml", "--token-file", tokenFile], env, async () => {
      expect(readFileSync(tokenFile, "utf8")).toBe(token);
    });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`reusing the token in ${tokenFile}`);
  });

  it("prints shell lines by default and removes the token file it chose on shutdown", async () => {
    let text = "";
    const r = await runCli(["serve", "--profile", "ml", "--quiet"], {
      env,
      onStart: (p) => {
        p.stdout!.on("data", (d: Buffer) => (text += d.toString()));
        void waitForOutput(p.stdout!, "AWS_DEFAULT_REGION").then(() => p.kill("SIGTERM"));
      },
    });
    expect(r.code).toBe(0);
    expect(text).toMatch(/^unset AWS_ACCESS_KEY_ID .*AWS_PROFILE/m);
    expect(text).toMatch(/^export AWS_CONTAINER_CREDENTIALS_FULL_URI=http:\/\/127\.0\.0\.1:\d+\/profiles\/ml$/m);
    const tokenFile = /^export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=(.+)$/m.exec(text)?.[1];
    expect(tokenFile).toMatch(/\.aws\/aws-refresh\/serve-\d+\.token$/);
    expect(() => statSync(tokenFile as string)).toThrow(); // removed: it was for this run only
  });

  it("refuses bad input by name and fails fast on a bad profile", async () => {
    const none = await runCli(["serve"], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("`--profile` is required");
    const shared = await runCli(["serve", "--profile", "ml", "--profile", "web", "--env-out", join(dir, "one.env")], {
      env,
    });
    expect(shared.code).toBe(2);
    expect(shared.stderr).toContain("must contain {profile}");
    // The installed bin itself (its shebang runs `node --`): Node.js 20 must leave `--env-file` to `serve`.
    const viaBin: { code?: number; stderr: string } = await run(
      CLI,
      ["serve", "--profile", "nope", "--env-file", join(dir, "bin.env")],
      { env },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(viaBin.code).toBe(1);
    expect(viaBin.stderr).toContain('Profile "nope" is not in');
    const bad = await runCli(["serve", "--profile", "ml", "--profile", "nope"], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Profile "nope" is not in');
    const host = await runCli(["serve", "--profile", "ml", "--host", "0.0.0.0"], { env });
    expect(host.code).toBe(1);
    expect(host.stderr).toContain("`host` must be a loopback address");
  });
});
