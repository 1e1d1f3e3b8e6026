import { writeFileSync } from "node:fs";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStatus, type StatusReport } from "../src/cli/status.js";
import { methods } from "../src/session/methods.js";
import { startEmulator, type Emulator } from "../src/testing.js";
import { awsConfigDir, cleanEnv, ensureBuilt, runCli, ROOT_PROFILE } from "./helpers/cli.js";

let emu: Emulator;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await ensureBuilt();
  // Sessions as long as asked: the default 1-hour cap would make a 2-hour MFA session end an hour (rounded up to the
  // second) after it began, and `--require 1h` pass or fail by how long the machine took since.
  emu = await startEmulator({ credentialLifetimeSeconds: 12 * 3600 });
  const cfg = awsConfigDir("");
  writeFileSync(
    cfg.env.AWS_CONFIG_FILE,
    ROOT_PROFILE +
      "[profile ml]\nrole_arn = arn:aws:iam::123456789012:role/ml\nsource_profile = root\nrole_session_name = status\nregion = us-east-1\n" +
      "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/mfa\nsource_profile = root\nmfa_serial = arn:aws:iam::123456789012:mfa/me\n" +
      "[profile broken]\nregion = us-east-1\n",
  );
  env = cleanEnv({ ...cfg.env, AWS_ENDPOINT_URL: emu.url });
  // The SDK clients inside read endpoints from this process's environment.
  process.env.AWS_ENDPOINT_URL = emu.url;
}, 120_000);

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL;
  await emu.close();
});

async function status(
  args: { profile?: string; requireMs?: number; mfaCommand?: string; mfaDurationSeconds?: number },
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; report: StatusReport; text: string }> {
  let json = "";
  let text = "";
  const sink = (fn: (s: string) => void): Writable =>
    new Writable({
      write: (c, _e, cb) => {
        fn(String(c));
        cb();
      },
    });
  const { requireMs, ...source } = args;
  const deps = { env: { ...env, ...extraEnv }, stderr: sink(() => {}) };
  const code = await runStatus(
    { source, json: true, ...(requireMs !== undefined ? { requireMs } : {}) },
    { ...deps, stdout: sink((s) => (json += s)) },
  );
  await runStatus(
    { source, ...(requireMs !== undefined ? { requireMs } : {}) },
    { ...deps, stdout: sink((s) => (text += s)) },
  );
  return { code, report: JSON.parse(json) as StatusReport, text };
}

describe("status", () => {
  it("reports source, identity, expiry and clock skew, and exits 0 when all is well", async () => {
    const { code, report, text } = await status({ profile: "ml" });
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.source).toMatchObject({ kind: "assume-role", name: "ml" });
    expect(report.source.description).toContain("assume arn:aws:iam::123456789012:role/ml from profile root");
    expect(report.identity?.Arn).toBe("arn:aws:sts::123456789012:assumed-role/ml/status");
    expect(report.credentials.ok).toBe(true);
    expect(report.credentials.accessKeyId).toMatch(/^\*\*\*\*[0-9A-F]{4}$/);
    expect(report.credentials.expiresInSeconds).toBeGreaterThan(3500);
    expect(Math.abs(report.clock.skewSeconds!)).toBeLessThanOrEqual(2);
    expect(report.problems).toEqual([]);
    expect(text).toMatch(/^identity\s+arn:aws:sts::123456789012:assumed-role\/ml\/status \(account 123456789012\)$/m);
    expect(text).toContain("ok: no problems found");
    expect(text).not.toMatch(/emulator-root-secret|IQoJ/); // no secret key, no session token
  });

  it("measures skew from AWS's Date header and says what to do about it", async () => {
    emu.setClockOffset(8 * 60_000);
    try {
      const { code, report, text } = await status({ profile: "ml" });
      expect(code).toBe(1);
      expect(report.clock.skewSeconds).toBeGreaterThanOrEqual(478);
      expect(report.clock.skewSeconds).toBeLessThanOrEqual(482);
      expect(report.problems).toHaveLength(1);
      expect(report.problems[0]!.what).toMatch(/this machine's clock is (7m5\ds|8m\d*s?) behind AWS/);
      expect(report.problems[0]!.fix).toContain("NTP");
      expect(text).toMatch(/1 problem:\n {2}- this machine's clock is (7m5\ds|8m\d*s?) behind AWS/);
    } finally {
      emu.setClockOffset(0);
    }
  });

  it("lists environment variables that shadow the profile, with the fix", async () => {
    const { code, report } = await status(
      { profile: "ml" },
      { AWS_ACCESS_KEY_ID: "AKIASHADOWING0000042", AWS_SECRET_ACCESS_KEY: "s", AWS_PROFILE: "root" },
    );
    expect(code).toBe(1);
    const names = report.environment.map((e) => e.name);
    expect(names).toContain("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY");
    expect(names).toContain("AWS_PROFILE");
    expect(names).toContain("AWS_ENDPOINT_URL");
    expect(JSON.stringify(report)).toContain("****0042");
    expect(JSON.stringify(report)).not.toContain("AKIASHADOWING0000042");
    expect(report.problems.map((p) => p.fix)).toEqual([
      "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_SECURITY_TOKEN",
      "export AWS_PROFILE=ml (or unset AWS_PROFILE)",
    ]);
    // Without --profile, keys in the environment are the source, not a problem.
    const implicit = await status(
      {},
      { AWS_ACCESS_KEY_ID: "AKIAEMULATORROOT0001", AWS_SECRET_ACCESS_KEY: "emulator-root-secret-key-not-for-aws-0001" },
    );
    expect(implicit.report.source.kind).toBe("environment");
    expect(implicit.report.identity?.Arn).toBe("arn:aws:iam::123456789012:user/emulator");
    expect(implicit.code).toBe(0);
  });

  it("--require checks the MFA session's end; a session ending within the hour is a problem", async () => {
    const mfa = { profile: "mfa", mfaCommand: "echo 123456", mfaDurationSeconds: 1800 };
    const short = await status({ ...mfa, requireMs: 2 * 3_600_000 });
    expect(short.code).toBe(1);
    expect(short.report.require).toEqual({ seconds: 7200, ok: false });
    expect(short.report.sessionEnd?.basis).toContain("MFA session");
    expect(short.report.problems[0]!.what).toContain('Profile "mfa" cannot keep credentials valid for 2h');
    expect(short.report.problems[0]!.fix).toContain("--mfa-duration");
    expect(short.report.sourceFacts).toContainEqual({
      key: "mfa.sessionExpiresAt",
      label: "MFA session ends",
      value: short.report.sessionEnd?.at,
    });
    expect(short.report.sourceFacts.map((f) => f.key)).toEqual([
      "profile.source",
      "profile.role",
      "mfa.sessionExpiresAt",
      "profile.staticKeys",
    ]);
    const soon = await status(mfa);
    expect(soon.code).toBe(1);
    expect(soon.report.problems[0]!.what).toContain("within the hour");
    const fine = await status({ ...mfa, mfaDurationSeconds: 7200, requireMs: 3_600_000 });
    expect(fine.report.require).toEqual({ seconds: 3600, ok: true });
    expect(fine.code).toBe(0);
  });

  it("prints the source's own facts and counts their problems (the hook SSO uses)", async () => {
    // Profiles are served by the "profile" method; swap in one whose source reports facts.
    const original = methods.profile!;
    methods.profile = () => ({
      source: async () => ({
        accessKeyId: "AKIAEMULATORROOT0001",
        secretAccessKey: "emulator-root-secret-key-not-for-aws-0001",
      }),
      status: async () => [
        { key: "t.cache", label: "token cache mode", value: "0644", problem: "chmod 600 the cache file" },
        { key: "t.fine", label: "token expires", value: "later" },
      ],
    });
    try {
      const { code, report, text } = await status({ profile: "root" });
      expect(code).toBe(1);
      expect(report.sourceFacts.map((f) => f.key)).toEqual(["t.cache", "t.fine"]);
      expect(report.problems).toEqual([{ what: "token cache mode: 0644", fix: "chmod 600 the cache file" }]);
      expect(text).toMatch(/^token expires\s+later$/m);
    } finally {
      methods.profile = original;
    }
  });

  it("explains a profile that cannot be used, and the CLI exits non-zero", async () => {
    const broken = await status({ profile: "broken" });
    expect(broken.code).toBe(1);
    expect(broken.report.problems[0]!.what).toMatch(
      /Profile "broken" \(\[profile broken\] in \S+\) holds no credentials: it needs role_arn with source_profile/,
    );
    const r = await runCli(["status", "--profile", "nope"], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Profile "nope" is not in');
    expect(r.stdout).toContain("fix: check the profile name");
    const json = await runCli(["status", "--profile", "ml", "--json"], { env });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).identity.Arn).toBe("arn:aws:sts::123456789012:assumed-role/ml/status");
    const bad = await runCli(["status", "--require", "tomorrow"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("`--require` must be a duration");
  });
});
