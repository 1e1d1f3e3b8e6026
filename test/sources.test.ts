import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromIni } from "@aws-sdk/credential-providers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refreshable } from "../src/refresh/refreshable.js";
import { fromAssumeRole } from "../src/sources/sts.js";
import { fromWebIdentity } from "../src/sources/web-identity.js";
import { fromCustom } from "../src/sources/custom.js";
import { fromProvider } from "../src/sources/provider.js";
import { getMfaCode } from "../src/sources/mfa.js";
import { startEmulator, type Emulator } from "../src/testing.js";

let emu: Emulator;
const ROLE = "arn:aws:iam::123456789012:role/etl";
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl";

beforeAll(async () => {
  emu = await startEmulator({ credentialLifetimeSeconds: 3600 });
});
afterAll(async () => {
  await emu.close();
});

const root = (): Promise<{ accessKeyId: string; secretAccessKey: string }> => Promise.resolve(emu.rootCredentials);

async function callerArn(credentials: () => Promise<unknown>): Promise<string | undefined> {
  const sts = new STSClient({ region: "us-east-1", endpoint: emu.url, credentials: credentials as never });
  try {
    return (await sts.send(new GetCallerIdentityCommand({}))).Arn;
  } finally {
    sts.destroy();
  }
}

describe("fromAssumeRole", () => {
  it("passes every AssumeRole parameter and returns credentials the emulator accepts", async () => {
    const source = fromAssumeRole({
      assumeRole: {
        RoleArn: ROLE,
        RoleSessionName: "nightly",
        DurationSeconds: 1800,
        ExternalId: "ext-123",
        Policy: '{"Version":"2012-10-17","Statement":[]}',
        PolicyArns: [{ arn: "arn:aws:iam::aws:policy/ReadOnlyAccess" }],
        Tags: [{ Key: "team", Value: "data" }],
        TransitiveTagKeys: ["team"],
        SourceIdentity: "alice",
      },
      sourceCredentials: root,
      stsClientConfig: { endpoint: emu.url },
    });
    const creds = await source();
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(creds.expiration!.getTime()).toBeGreaterThan(Date.now() + 1700_000);
    expect(creds.accountId).toBe("123456789012");
    const params = emu.requests("sts:AssumeRole").at(-1)!.params;
    expect(params).toMatchObject({
      RoleArn: ROLE,
      RoleSessionName: "nightly",
      DurationSeconds: "1800",
      ExternalId: "ext-123",
      "PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
      "Tags.member.1.Key": "team",
      "Tags.member.1.Value": "data",
      "TransitiveTagKeys.member.1": "team",
      SourceIdentity: "alice",
    });
    expect(params.Policy).toContain("2012-10-17");
    expect(await callerArn(async () => creds)).toBe("arn:aws:sts::123456789012:assumed-role/etl/nightly");
    expect(source.sourceName).toBe(`sts:${ROLE}`);
  });

  it("defaults RoleSessionName to a valid, recognisable name", async () => {
    const source = fromAssumeRole({
      assumeRole: { RoleArn: ROLE },
      sourceCredentials: root,
      stsClientConfig: { endpoint: emu.url },
    });
    await source();
    expect(emu.requests("sts:AssumeRole").at(-1)!.params.RoleSessionName).toMatch(/^aws-refresh-session-\d+$/);
  });

  it("chains roles: a refreshable is the source credentials of another AssumeRole", async () => {
    const first = refreshable(
      fromAssumeRole({
        assumeRole: { RoleArn: ROLE, RoleSessionName: "hop1" },
        sourceCredentials: root,
        stsClientConfig: { endpoint: emu.url },
      }),
    );
    const second = refreshable(
      fromAssumeRole({
        assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/target", RoleSessionName: "hop2" },
        sourceCredentials: first,
        stsClientConfig: { endpoint: emu.url },
      }),
    );
    try {
      const before = emu.requests("sts:AssumeRole").length;
      const creds = await second();
      const calls = emu.requests("sts:AssumeRole").slice(before);
      expect(calls.map((c) => c.params.RoleSessionName)).toEqual(["hop1", "hop2"]);
      // The second hop was signed with the first hop's key, not the root key.
      expect(calls[1]!.accessKeyId).toBe((await first()).accessKeyId);
      expect(await callerArn(async () => creds)).toContain("assumed-role/target/hop2");
    } finally {
      first.close();
      second.close();
    }
  });

  it("honours AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL exactly as the SDK does", async () => {
    for (const name of ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]) {
      const saved = process.env[name];
      process.env[name] = emu.url;
      try {
        const before = emu.calls("sts:AssumeRole");
        const source = fromAssumeRole({ assumeRole: { RoleArn: ROLE }, sourceCredentials: root, region: "eu-west-1" });
        await source();
        expect(emu.calls("sts:AssumeRole")).toBe(before + 1);
      } finally {
        if (saved === undefined) delete process.env[name];
        else process.env[name] = saved;
      }
    }
  });

  it("names the missing part of a malformed STS answer", async () => {
    const remove = emu.fault("sts:AssumeRole", { malformed: true, times: 1 });
    const source = fromAssumeRole({
      assumeRole: { RoleArn: ROLE },
      sourceCredentials: root,
      stsClientConfig: { endpoint: emu.url, maxAttempts: 1 },
    });
    try {
      await expect(source()).rejects.toThrow();
    } finally {
      remove();
    }
  });

  it("refuses bad options up front, naming the option", () => {
    const bad =
      (assumeRole: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      () =>
        fromAssumeRole({ assumeRole, ...extra } as never);
    expect(bad({ RoleArn: "arn:aws:iam::123:role/x" })).toThrow(/`assumeRole.RoleArn`/);
    expect(bad({ RoleArn: "not-an-arn" })).toThrow(TypeError);
    expect(bad({ RoleArn: ROLE, DurationSeconds: 899 })).toThrow(RangeError);
    expect(bad({ RoleArn: ROLE, DurationSeconds: 43_201 })).toThrow(/`assumeRole.DurationSeconds`/);
    expect(bad({ RoleArn: ROLE, RoleSessionName: "x" })).toThrow(/`assumeRole.RoleSessionName`/);
    expect(bad({ RoleArn: ROLE }, { sourceCredentials: "keys" })).toThrow(/`sourceCredentials`/);
    expect(bad({ RoleArn: ROLE, SerialNumber: "arn:aws:iam::123456789012:mfa/me" })).toThrow(/`mfa.tokenCode`/);
    expect(
      bad({ RoleArn: ROLE }, { mfa: { serialNumber: "arn:aws:iam::123456789012:mfa/me", tokenCode: "123456" } }),
    ).toThrow(/`mfa.tokenCode`/);
    expect(
      bad(
        { RoleArn: ROLE },
        {
          mfa: {
            serialNumber: "arn:aws:iam::123456789012:mfa/me",
            tokenCode: async () => "1",
            sessionDurationSeconds: 10,
          },
        },
      ),
    ).toThrow(/`mfa.sessionDurationSeconds`/);
  });
});

describe("MFA", () => {
  const serialNumber = "arn:aws:iam::123456789012:mfa/alice";

  it("prompts once per MFA session, however many role refreshes", async () => {
    let prompts = 0;
    const source = fromAssumeRole({
      assumeRole: { RoleArn: ROLE, RoleSessionName: "mfa-job" },
      sourceCredentials: root,
      stsClientConfig: { endpoint: emu.url },
      mfa: {
        serialNumber,
        tokenCode: async () => {
          prompts++;
          return "123456";
        },
      },
    });
    try {
      const before = emu.calls("sts:GetSessionToken");
      const keys = new Set<string>();
      for (let i = 0; i < 5; i++) keys.add((await source()).accessKeyId);
      expect(keys.size).toBe(5);
      expect(prompts).toBe(1);
      expect(emu.calls("sts:GetSessionToken") - before).toBe(1);
      const gst = emu.requests("sts:GetSessionToken").at(-1)!;
      expect(gst.params.SerialNumber).toBe(serialNumber);
      expect(gst.params.TokenCode).toBeUndefined(); // never recorded: it is a secret
      expect(source.mfaSessionExpiration()!.getTime()).toBeGreaterThan(Date.now());
    } finally {
      source.close();
    }
  });

  it("reads the last standalone 6-digit code from an argv command run without a shell", async () => {
    const code = await getMfaCode(
      [
        process.execPath,
        "-e",
        "console.log('device 1234567 ready'); console.log('code: 654321 (valid 30s)'); console.log('$(echo 111111)')",
      ],
      { serialNumber },
    );
    // "$(echo 111111)" was printed literally: no shell ran it; 111111 is still the last standalone code on stdout.
    expect(code).toBe("111111");
    const plain = await getMfaCode([process.execPath, "-e", "console.log('123456'); console.log('otp 987654')"], {
      serialNumber,
    });
    expect(plain).toBe("987654");
  });

  it("fails with MFA_FAILED when the command prints no code, fails, or hangs", async () => {
    await expect(
      getMfaCode([process.execPath, "-e", "console.log('no code 12345 here')"], { serialNumber }),
    ).rejects.toMatchObject({
      code: "MFA_FAILED",
      message: expect.stringContaining("no standalone 6-digit code"),
    });
    await expect(getMfaCode([process.execPath, "-e", "process.exit(3)"], { serialNumber })).rejects.toMatchObject({
      code: "MFA_FAILED",
    });
    const started = Date.now();
    await expect(
      getMfaCode([process.execPath, "-e", "setTimeout(() => {}, 60000)"], { serialNumber, timeoutMs: 300 }),
    ).rejects.toMatchObject({ code: "MFA_FAILED", message: expect.stringContaining("killed") });
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(getMfaCode(["/nonexistent/mfa-tool"], { serialNumber })).rejects.toMatchObject({ code: "MFA_FAILED" });
  });
});

describe("fromWebIdentity", () => {
  it("re-reads the token file at every refresh and defaults from the environment", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wi-"));
    const file = join(dir, "token");
    writeFileSync(file, JWT);
    const source = fromWebIdentity({
      env: { AWS_ROLE_ARN: ROLE, AWS_WEB_IDENTITY_TOKEN_FILE: file, AWS_ROLE_SESSION_NAME: "pod-1" },
      stsClientConfig: { endpoint: emu.url },
    });
    const a = await source();
    expect(a.accessKeyId).toMatch(/^ASIA/);
    expect(emu.requests("sts:AssumeRoleWithWebIdentity").at(-1)!.params).toMatchObject({
      RoleArn: ROLE,
      RoleSessionName: "pod-1",
    });
    // A rotated file holding a bad token makes the next refresh fail: proof it is read again.
    writeFileSync(file, "not-a-jwt");
    await expect(source()).rejects.toThrow(/not a valid JWT/);
    writeFileSync(file, JWT);
    expect((await source()).accessKeyId).not.toBe(a.accessKeyId);
  });

  it("takes the token from an async function", async () => {
    let calls = 0;
    const source = fromWebIdentity({
      roleArn: ROLE,
      webIdentityToken: async () => {
        calls++;
        return JWT;
      },
      stsClientConfig: { endpoint: emu.url },
      env: {},
    });
    await source();
    await source();
    expect(calls).toBe(2);
  });

  it("names what is missing", () => {
    expect(() => fromWebIdentity({ env: {} })).toThrow(/AWS_ROLE_ARN/);
    expect(() => fromWebIdentity({ env: { AWS_ROLE_ARN: ROLE } })).toThrow(/AWS_WEB_IDENTITY_TOKEN_FILE/);
    expect(() => fromWebIdentity({ roleArn: ROLE, webIdentityTokenFile: "/x", durationSeconds: 5, env: {} })).toThrow(
      /`durationSeconds`/,
    );
  });
});

describe("fromCustom and fromProvider", () => {
  it("accepts Date, ISO string and epoch-ms expirations", async () => {
    const exp = Date.now() + 600_000;
    for (const expiration of [new Date(exp), new Date(exp).toISOString(), exp]) {
      const creds = await fromCustom(async () => ({ accessKeyId: "AKIA1", secretAccessKey: "s", expiration }))();
      expect(creds.expiration!.getTime()).toBe(exp);
    }
  });

  it("names the missing or wrong field", async () => {
    await expect(fromCustom(async () => ({ accessKeyId: "AKIA1" }) as never)()).rejects.toThrow(/`secretAccessKey`/);
    await expect(fromCustom(async () => ({ secretAccessKey: "s" }) as never)()).rejects.toThrow(/`accessKeyId`/);
    await expect(
      fromCustom(async () => ({ accessKeyId: "A", secretAccessKey: "s", expiration: "tomorrow" }))(),
    ).rejects.toThrow(/`expiration`/);
    expect(() => fromCustom("nope" as never)).toThrow(/`source`/);
    expect(() => fromProvider(42 as never)).toThrow(/`provider`/);
  });

  it("gives any SDK provider background refresh through the engine", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ini-"));
    const file = join(dir, "credentials");
    writeFileSync(
      file,
      `[dev]\naws_access_key_id = ${emu.rootCredentials.accessKeyId}\naws_secret_access_key = ${emu.rootCredentials.secretAccessKey}\n`,
    );
    const provider = fromIni({ profile: "dev", filepath: file, configFilepath: join(dir, "config") });
    const engine = refreshable(fromProvider(provider));
    try {
      expect(await callerArn(engine)).toContain(":user/emulator");
      expect(engine.sourceName).toMatch(/^provider/);
    } finally {
      engine.close();
    }
  });
});
