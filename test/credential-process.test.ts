import { execFile } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { fromProcess } from "@aws-sdk/credential-providers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/testing.js";
import { awsConfigDir, cleanEnv, CLI, ensureBuilt, runCli, ROOT_PROFILE } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";

const run = promisify(execFile);
const awsCli = interopAvailable("aws-cli");

let emu: Emulator;
let dir: string;
let cache: string;
let configFile: string;
let env: NodeJS.ProcessEnv;

function config(sessionName = "cp"): string {
  const cp = `${process.execPath} ${CLI} credential-process --cache-dir ${cache}`;
  return (
    ROOT_PROFILE +
    `[profile base]\nrole_arn = arn:aws:iam::123456789012:role/base\nsource_profile = root\nrole_session_name = ${sessionName}\n` +
    `[profile app]\ncredential_process = ${cp} --profile base\nregion = us-east-1\n` +
    `[profile loop]\ncredential_process = ${cp} --profile loop\nregion = us-east-1\n`
  );
}

beforeAll(async () => {
  await ensureBuilt();
  emu = await startEmulator();
  const cfg = awsConfigDir("");
  dir = cfg.dir;
  cache = join(dir, "cache");
  configFile = cfg.env.AWS_CONFIG_FILE;
  writeFileSync(configFile, config());
  env = cleanEnv({ ...cfg.env, AWS_ENDPOINT_URL: emu.url });
}, 120_000);

afterAll(async () => {
  await emu.close();
});

const cacheFiles = (): string[] => readdirSync(cache).filter((f) => f.endsWith(".json"));

describe("credential-process", () => {
  it.skipIf(!awsCli.ok)(
    "feeds botocore (an AWS CLI profile) and the SDK's fromProcess from one cached STS call",
    async () => {
      const before = emu.calls("sts:AssumeRole");
      const a = await run("aws", ["sts", "get-caller-identity", "--profile", "app"], { env });
      expect(JSON.parse(a.stdout).Arn).toBe("arn:aws:sts::123456789012:assumed-role/base/cp");
      const b = await run("aws", ["sts", "get-caller-identity", "--profile", "app"], { env });
      expect(JSON.parse(b.stdout).Arn).toBe("arn:aws:sts::123456789012:assumed-role/base/cp");
      expect(emu.calls("sts:AssumeRole") - before).toBe(1);
      const [file] = cacheFiles();
      expect(file).toMatch(/^base-[0-9a-f]{16}\.json$/);
      expect(statSync(join(cache, file!)).mode & 0o777).toBe(0o600);
      expect(statSync(cache).mode & 0o777).toBe(0o700);
      const cached = JSON.parse(readFileSync(join(cache, file!), "utf8"));

      // The SDK's own fromProcess reads the same profile (with this process's environment).
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        const creds = await fromProcess({ profile: "app" })();
        expect(creds.accessKeyId).toBe(cached.AccessKeyId);
        expect(creds.expiration?.toISOString()).toBe(cached.Expiration);
      } finally {
        for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
        Object.assign(process.env, saved);
      }
      expect(emu.calls("sts:AssumeRole") - before).toBe(1);
    },
  );

  it("prints Version 1 JSON, refetches when the cache has too little left, and never caches long-term keys", async () => {
    const first = await runCli(["credential-process", "--profile", "base", "--cache-dir", cache], { env });
    expect(first.code).toBe(0);
    const out = JSON.parse(first.stdout);
    expect(Object.keys(out).sort()).toEqual([
      "AccessKeyId",
      "Expiration",
      "SecretAccessKey",
      "SessionToken",
      "Version",
    ]);
    expect(out.Version).toBe(1);
    const before = emu.calls("sts:AssumeRole");
    // The emulator's credentials live 1 h: a 2 h minimum means the cached one is never good enough.
    const strict = await runCli(["credential-process", "--profile", "base", "--cache-dir", cache, "--min-ttl", "2h"], {
      env,
    });
    expect(JSON.parse(strict.stdout).AccessKeyId).not.toBe(out.AccessKeyId);
    expect(emu.calls("sts:AssumeRole") - before).toBe(1);
    const uncached = await runCli(["credential-process", "--profile", "base", "--no-cache"], { env });
    expect(uncached.code).toBe(0);
    expect(emu.calls("sts:AssumeRole") - before).toBe(2);

    const files = cacheFiles().length;
    const root = await runCli(["credential-process", "--profile", "root", "--cache-dir", cache], { env });
    expect(JSON.parse(root.stdout)).toEqual({
      Version: 1,
      AccessKeyId: "AKIAEMULATORROOT0001",
      SecretAccessKey: "emulator-root-secret-key-not-for-aws-0001",
    });
    expect(cacheFiles().length).toBe(files);
  });

  it("fetches once for many processes started together, and ignores a cache file others can read", async () => {
    const own = join(dir, "cache-concurrent");
    const before = emu.calls("sts:AssumeRole");
    const results = await Promise.all(
      Array.from({ length: 6 }, () => runCli(["credential-process", "--profile", "base", "--cache-dir", own], { env })),
    );
    expect(results.every((r) => r.code === 0)).toBe(true);
    expect(new Set(results.map((r) => JSON.parse(r.stdout).AccessKeyId)).size).toBe(1);
    expect(emu.calls("sts:AssumeRole") - before).toBe(1);
    const [file] = readdirSync(own).filter((f) => f.endsWith(".json"));
    chmodSync(join(own, file!), 0o644);
    const again = await runCli(["credential-process", "--profile", "base", "--cache-dir", own], { env });
    expect(again.code).toBe(0);
    expect(emu.calls("sts:AssumeRole") - before).toBe(2);
    expect(statSync(join(own, file!)).mode & 0o777).toBe(0o600);
  });

  it("does not reuse a cached credential after the profile changed", async () => {
    const own = join(dir, "cache-changed");
    const args = ["credential-process", "--profile", "base", "--cache-dir", own];
    const a = JSON.parse((await runCli(args, { env })).stdout).AccessKeyId;
    writeFileSync(configFile, config("cp-renamed"));
    try {
      const b = JSON.parse((await runCli(args, { env })).stdout).AccessKeyId;
      expect(b).not.toBe(a);
      expect(emu.requests("sts:AssumeRole").at(-1)?.params.RoleSessionName).toBe("cp-renamed");
    } finally {
      writeFileSync(configFile, config());
    }
  });

  it("catches a profile whose credential_process is itself, with a message saying what to do", async () => {
    const r = await runCli(["credential-process", "--profile", "loop", "--cache-dir", cache], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("loop: the credentials of loop come from `aws-refresh credential-process` for loop");
    expect(r.stdout).toBe("");
    const bad = await runCli(["credential-process", "--profile", "nope"], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Profile "nope" is not in');
  });
});
