import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { StatusReport } from "../src/cli/status.js";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import type { SourceStatusItem } from "../src/session/methods.js";
import type { SsoSessionEnding } from "../src/sso/manager.js";
import { startEmulator, type Emulator } from "../src/testing.js";
import { cleanEnv, ensureBuilt, runCli, TEST_JWT } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";
import { startMotoAccount, type Moto } from "./helpers/moto.js";
import {
  advance,
  keysLines,
  PRINT_FILE_JS,
  processJson,
  profileFiles,
  setProcessEnv,
  type ProfileFiles,
} from "./helpers/profiles.js";
import { ssoSessionConfig, ssoWorld, type SsoWorld } from "./helpers/sso.js";

// `new RefreshableSession({ method: "profile", profile })` for every profile kind, against the emulator with real
// requests (S3 and STS GetCallerIdentity) across credential rotations; the role chain also against moto_server; and
// `aws-refresh status --profile X --json` saying what `session.describe()` says.
//
// No test waits for time to pass: credentials live 30 s (the emulator's lifetime) and the emulator's clock is moved
// forward 25 s at a step. The session learns AWS's time from the next answer's Date header, finds the credential inside
// its refresh window in AWS's time, and gets a new one.

const ACCOUNT = "123456789012";
const role = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const assumed = (name: string, session: string): string => `arn:aws:sts::${ACCOUNT}:assumed-role/${name}/${session}`;
const MFA_SERIAL = `arn:aws:iam::${ACCOUNT}:mfa/alice`;
const LIFETIME_S = 30;
const STEP_S = 25;
const BUCKET = "profiles";

function fact(items: SourceStatusItem[], key: string): SourceStatusItem[] {
  return items.filter((i) => i.key === key);
}

/**
 * Uses the session `steps + 1` times, moving AWS's clock forward by {@link STEP_S} between uses: each use is an STS
 * GetCallerIdentity (whose ARN must be `arn`) and an S3 put and get. `beforeStep` runs before each move. Returns the
 * access key ids the uses signed with.
 */
async function acrossRotations(
  emu: Emulator,
  session: RefreshableSession,
  arn: string,
  options: { steps?: number; beforeStep?: (step: number) => void } = {},
): Promise<string[]> {
  const s3 = session.client(S3Client, { forcePathStyle: true });
  const keys: string[] = [];
  const steps = options.steps ?? 2;
  for (let i = 0; i <= steps; i++) {
    if (i > 0) {
      options.beforeStep?.(i);
      advance(emu, STEP_S);
    }
    // The first answer after a move teaches the session AWS's new time; the S3 calls then sign with a new credential.
    expect((await session.whoami()).Arn).toBe(arn);
    const key = `${session.method}-${Date.now()}-${i}`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `value ${i}` }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(await got.Body?.transformToString()).toBe(`value ${i}`);
    keys.push((await session.getCredentials()).accessKeyId);
    expect((await session.whoami()).Arn).toBe(arn);
  }
  return keys;
}

describe("method: profile against the emulator", () => {
  let emu: Emulator;
  let files: ProfileFiles;
  let restoreEnv: () => void;
  let tokenFile: string;
  let procAnswer: string;
  const open: RefreshableSession[] = [];
  const track = (s: RefreshableSession): RefreshableSession => (open.push(s), s);
  const prompts: string[] = [];
  const mfa = {
    tokenCode: async (serial: string): Promise<string> => {
      prompts.push(serial);
      return "123456";
    },
  };

  beforeAll(async () => {
    await ensureBuilt();
    emu = await startEmulator();
    files = profileFiles({
      credentials: `[base]\n${keysLines(emu.rootCredentials)}`,
    });
    tokenFile = files.write("web-identity-token", TEST_JWT);
    procAnswer = files.write("process-answer.json", "{}");
    const printer = files.write("print-file.js", PRINT_FILE_JS);
    files.write(
      ".aws/config",
      `[profile r1]\nrole_arn = ${role("r1")}\nsource_profile = base\nrole_session_name = one\n\n` +
        `[profile r2]\nrole_arn = ${role("r2")}\nsource_profile = r1\nrole_session_name = two\n\n` +
        `[profile r3]\nrole_arn = ${role("r3")}\nsource_profile = r2\nrole_session_name = three\nregion = eu-west-1\n\n` +
        `[profile mfa]\nrole_arn = ${role("mfa")}\nsource_profile = base\nmfa_serial = ${MFA_SERIAL}\n` +
        "role_session_name = mfa-job\n\n" +
        `[profile wi]\nrole_arn = ${role("wi")}\nweb_identity_token_file = ${tokenFile}\nrole_session_name = pod\n\n` +
        `[profile proc]\ncredential_process = ${process.execPath} ${printer} ${procAnswer}\n`,
    );
    restoreEnv = setProcessEnv({
      ...files.env,
      AWS_ENDPOINT_URL: emu.url,
      AWS_PROFILE: undefined,
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
    });
    const s3 = new S3Client({
      region: emu.region,
      endpoint: emu.url,
      forcePathStyle: true,
      credentials: emu.rootCredentials,
    });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    s3.destroy();
  });

  afterEach(() => {
    for (const s of open.splice(0)) s.close();
    emu.setClockOffset(0);
    emu.setCredentialLifetime(3600);
    prompts.length = 0;
  });

  afterAll(async () => {
    restoreEnv?.();
    await emu?.close();
    files?.remove();
  });

  it("static keys: the credentials file's keys, long-term, no session end", async () => {
    const session = track(new RefreshableSession({ method: "profile", profile: "base", region: emu.region }));
    expect(await session.describe()).toEqual({
      kind: "static",
      description: `profile base: static keys in ${files.credentials}`,
    });
    const keys = await acrossRotations(emu, session, emu.credential(emu.rootCredentials.accessKeyId)!.arn, {
      steps: 1,
    });
    expect(new Set(keys)).toEqual(new Set([emu.rootCredentials.accessKeyId]));
    expect((await session.getCredentials()).expiration).toBeUndefined();
    expect(await session.validUntil()).toBeUndefined();
    const status = await session.sourceStatus();
    expect(fact(status, "profile.staticKeys")[0]?.value).toBe(`****0001 in ${files.credentials}`);
    expect(JSON.stringify(status)).not.toContain(emu.rootCredentials.secretAccessKey);
  });

  it("a role chain of depth 3 (static keys → r1 → r2 → r3): each role assumed with the one below, across rotations", async () => {
    emu.setCredentialLifetime(LIFETIME_S);
    const session = track(new RefreshableSession({ method: "profile", profile: "r3" }));
    expect(await session.region()).toBe("eu-west-1"); // the profile's region
    const before = emu.requests("sts:AssumeRole").length;
    const keys = await acrossRotations(emu, session, assumed("r3", "three"));
    expect(new Set(keys).size).toBe(3);
    // Every link of the chain was renewed at each rotation, each signed with the credential of the link below.
    const calls = emu.requests("sts:AssumeRole").slice(before);
    for (const [roleName, below] of [
      ["r1", emu.credential(emu.rootCredentials.accessKeyId)!.arn],
      ["r2", assumed("r1", "one")],
      ["r3", assumed("r2", "two")],
    ] as const) {
      const mine = calls.filter((c) => c.params.RoleArn === role(roleName));
      expect(mine.length, roleName).toBe(3);
      for (const c of mine) expect(emu.credential(c.accessKeyId ?? "")?.arn, roleName).toBe(below);
    }
    expect(await session.describe()).toEqual({
      kind: "assume-role",
      description:
        `profile r3: assume ${role("r3")} from profile r2 (assume ${role("r2")} from profile r1 ` +
        `(assume ${role("r1")} from profile base (static keys in ${files.credentials})))`,
    });
    // status() has facts from every profile of the chain, top first.
    const status = await session.sourceStatus();
    expect(fact(status, "profile.role").map((i) => i.value)).toEqual([role("r3"), role("r2"), role("r1")]);
    expect(fact(status, "profile.staticKeys")[0]?.label).toBe("Profile base: static keys");
    expect(await session.validUntil()).toBeUndefined(); // no MFA or SSO session bounds it
  });

  it("an MFA role: one code per MFA session, not per role refresh; validUntil() is the MFA session's end", async () => {
    // The MFA session (GetSessionToken) lives 120 s, the roles 30 s.
    emu.setCredentialLifetime(120);
    const session = track(new RefreshableSession({ method: "profile", profile: "mfa", mfa, region: emu.region }));
    expect((await session.whoami()).Arn).toBe(assumed("mfa", "mfa-job"));
    expect(prompts).toEqual([MFA_SERIAL]);
    emu.setCredentialLifetime(LIFETIME_S);
    const first = (await session.refresh()).accessKeyId;
    const keys = await acrossRotations(emu, session, assumed("mfa", "mfa-job"));
    expect(new Set([first, ...keys]).size).toBe(3);
    // Three role credentials, one MFA code.
    expect(prompts).toEqual([MFA_SERIAL]);
    expect(emu.calls("sts:GetSessionToken")).toBe(1);
    const gst = emu.requests("sts:GetSessionToken").at(-1)!;
    expect(gst.params.SerialNumber).toBe(MFA_SERIAL);
    expect(gst.accessKeyId).toBe(emu.rootCredentials.accessKeyId);
    const mfaCred = emu.issued().find((c) => c.kind === "GetSessionToken")!;
    const end = await session.validUntil();
    expect(end).toMatchObject({ source: "mfa", serialNumber: MFA_SERIAL });
    expect(end?.at.getTime()).toBe(mfaCred.expiration.getTime());
    expect(end?.basis).toContain("profile mfa");
    const status = await session.sourceStatus();
    expect(fact(status, "mfa.sessionExpiresAt")[0]?.value).toBe(mfaCred.expiration.toISOString());
    // Near the MFA session's end in AWS's time (inside its refresh window), the next role refresh starts a second
    // MFA session: a second code.
    emu.setCredentialLifetime(120);
    await acrossRotations(emu, session, assumed("mfa", "mfa-job"), { steps: 2 });
    expect(prompts).toEqual([MFA_SERIAL, MFA_SERIAL]);
    expect(emu.calls("sts:GetSessionToken")).toBe(2);
    expect((await session.validUntil())!.at.getTime()).toBeGreaterThan(mfaCred.expiration.getTime());
    expect(await session.describe()).toEqual({
      kind: "assume-role",
      description: `profile mfa: assume ${role("mfa")} with MFA ${MFA_SERIAL} from profile base (static keys in ${files.credentials})`,
    });
  });

  it("a web identity profile: AssumeRoleWithWebIdentity with the token file, across rotations", async () => {
    emu.setCredentialLifetime(LIFETIME_S);
    const session = track(new RefreshableSession({ method: "profile", profile: "wi", region: emu.region }));
    const before = { web: emu.calls("sts:AssumeRoleWithWebIdentity"), keys: emu.calls("sts:AssumeRole") };
    const keys = await acrossRotations(emu, session, assumed("wi", "pod"));
    expect(new Set(keys).size).toBe(3);
    expect(emu.calls("sts:AssumeRoleWithWebIdentity") - before.web).toBe(3);
    expect(emu.calls("sts:AssumeRole")).toBe(before.keys); // no keys involved
    expect(await session.describe()).toEqual({
      kind: "web-identity",
      description: `profile wi: web identity: assume ${role("wi")} with the token in ${tokenFile}`,
    });
    expect(fact(await session.sourceStatus(), "webIdentity.tokenFile")[0]?.value).toBe(tokenFile);
  });

  it("a credential_process profile: the command is run again for each rotation", async () => {
    const issue = (): string => {
      const c = emu.issueCredential("process", assumed("proc", "job"), "AROAPROCESS:job", LIFETIME_S);
      files.write("process-answer.json", processJson(c));
      return c.accessKeyId;
    };
    const given = [issue()];
    const session = track(new RefreshableSession({ method: "profile", profile: "proc", region: emu.region }));
    const keys = await acrossRotations(emu, session, assumed("proc", "job"), {
      // The command prints the next credential once the session has taken the current one.
      beforeStep: () => void given.push(issue()),
    });
    expect(keys).toEqual(given);
    expect(await session.describe()).toEqual({
      kind: "credential-process",
      description: `profile proc: credential_process \`${process.execPath}\``,
    });
    expect(fact(await session.sourceStatus(), "process.command")[0]?.value).toBe(process.execPath);
  });

  it("aws-refresh status --profile X --json reports what session.describe() says, for each kind", async () => {
    const env = cleanEnv({ ...files.env, AWS_ENDPOINT_URL: emu.url, AWS_REGION: emu.region });
    // The MFA session as AWS gives it (12 hours): capped at the emulator's default hour, it would end "within the
    // hour" the moment it starts, and status would rightly report that as a problem.
    emu.setCredentialLifetime(43_200);
    const answer = emu.issueCredential("process", assumed("proc", "job"), "AROAPROCESS:job", 3600);
    files.write("process-answer.json", processJson(answer));
    const cases: [string, string, string[]][] = [
      ["base", emu.credential(emu.rootCredentials.accessKeyId)!.arn, []],
      ["r3", assumed("r3", "three"), []],
      ["mfa", assumed("mfa", "mfa-job"), ["--mfa-command", "echo 123456"]],
      ["wi", assumed("wi", "pod"), []],
      ["proc", assumed("proc", "job"), []],
    ];
    for (const [profile, arn, extra] of cases) {
      const session = track(new RefreshableSession({ method: "profile", profile, mfa }));
      const described = await session.describe();
      const run = await runCli(["status", "--profile", profile, "--json", ...extra], { env });
      const report = JSON.parse(run.stdout) as StatusReport;
      expect({ profile, ...report.source }).toEqual({ profile, ...described, name: profile });
      expect(report.identity?.Arn, profile).toBe(arn);
      expect(run.code, `${profile}: ${run.stderr} ${JSON.stringify(report.problems)}`).toBe(0);
    }
  });
});

describe("method: profile with IAM Identity Center (SSO)", () => {
  let world: SsoWorld | undefined;
  let restoreRegion: (() => void) | undefined;
  const open: RefreshableSession[] = [];
  const track = (s: RefreshableSession): RefreshableSession => (open.push(s), s);

  async function sso(config: string): Promise<SsoWorld> {
    world = await ssoWorld({
      config,
      emulator: { credentialLifetimeSeconds: LIFETIME_S },
      sso: { accessTokenLifetimeSeconds: 60 },
    });
    restoreRegion = setProcessEnv({ AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined });
    const s3 = new S3Client({
      region: world.emu.region,
      endpoint: world.emu.url,
      forcePathStyle: true,
      credentials: world.emu.rootCredentials,
    });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    s3.destroy();
    return world;
  }

  afterEach(async () => {
    for (const s of open.splice(0)) s.close();
    restoreRegion?.();
    await world?.close();
    world = undefined;
  });

  it("an SSO profile: role credentials and the access token refreshed, validUntil() from the SSO session", async () => {
    const w = await sso(ssoSessionConfig("dev"));
    await w.login("dev");
    const session = track(new RefreshableSession({ method: "profile", profile: "dev" }));
    expect(await session.region()).toBe("eu-west-1");
    const arn = `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_ReadOnlyAccess_0123456789abcdef/emulator-user`;
    const keys = await acrossRotations(w.emu, session, arn, { steps: 3 });
    expect(new Set(keys).size).toBe(4);
    // The access token (60 s) was refreshed with the refresh token as AWS's time passed; no new login.
    expect(w.oidc.grants("refresh_token")).toBeGreaterThanOrEqual(1);
    expect(w.oidc.grants("urn:ietf:params:oauth:grant-type:device_code")).toBe(1);
    const end = await session.validUntil();
    expect(end?.source).toBe("sso");
    const emulated = w.oidc.sessions()[0]!;
    expect(Math.abs(end!.at.getTime() - emulated.endsAt.getTime())).toBeLessThan(5_000);
    expect(await session.describe()).toEqual({
      kind: "sso",
      description: "profile dev: IAM Identity Center (SSO) session corp, account 123456789012, role ReadOnlyAccess",
    });
  });

  it("a role over an SSO profile: the SSO session's end, facts from both profiles, SSO events reach the session", async () => {
    const w = await sso(
      `${ssoSessionConfig("sso")}\n[profile over]\nrole_arn = ${role("over")}\nsource_profile = sso\n` +
        "role_session_name = over-job\n",
    );
    await w.login("sso");
    const session = track(
      new RefreshableSession({
        method: "profile",
        profile: "over",
        // A lead longer than the whole SSO session: the warning is due at once, without waiting.
        sso: { warnBeforeMs: [9 * 3_600_000] },
        region: "eu-west-1",
      }),
    );
    const endings: SsoSessionEnding[] = [];
    session.on("sso-session-ending", (e) => endings.push(e));
    const keys = await acrossRotations(w.emu, session, assumed("over", "over-job"));
    expect(new Set(keys).size).toBe(3);
    expect(w.emu.requests("sts:AssumeRole").every((r) => r.params.RoleArn === role("over"))).toBe(true);
    const end = await session.validUntil();
    expect(end?.source).toBe("sso");
    const status = await session.sourceStatus();
    expect(fact(status, "profile.role")[0]?.value).toBe(role("over"));
    expect(fact(status, "sso.profile")[0]?.value).toBe("sso");
    expect(fact(status, "sso.sessionEndsAt")[0]?.value).toBe(end?.at.toISOString());
    expect(await session.describe()).toEqual({
      kind: "assume-role",
      description:
        `profile over: assume ${role("over")} from profile sso ` +
        "(IAM Identity Center (SSO) session corp, account 123456789012, role ReadOnlyAccess)",
    });
    expect(endings.length).toBeGreaterThanOrEqual(1);
    expect(endings[0]).toMatchObject({ profile: "sso", ssoSession: "corp", leadMs: 9 * 3_600_000 });
    expect(endings[0]?.endsAt.getTime()).toBe(end?.at.getTime());
  });

  it("aws-refresh status --profile X --json reports what session.describe() says, for SSO and a role over it", async () => {
    const w = await sso(
      `${ssoSessionConfig("sso")}\n[profile over]\nrole_arn = ${role("over")}\nsource_profile = sso\n` +
        "role_session_name = over-job\n",
    );
    await w.login("sso");
    await ensureBuilt();
    for (const profile of ["sso", "over"]) {
      const session = track(new RefreshableSession({ method: "profile", profile }));
      const described = await session.describe();
      const run = await runCli(["status", "--profile", profile, "--json"], { env: cleanEnv(w.env) });
      const report = JSON.parse(run.stdout) as StatusReport;
      expect({ profile, ...report.source }).toEqual({ profile, ...described, name: profile });
      expect(report.identity?.Arn).toContain(profile === "over" ? "assumed-role/over/over-job" : "AWSReservedSSO_");
      expect(report.sessionEnd?.at).toBe((await session.validUntil())?.at.toISOString());
    }
  });
});

// A third party (moto_server, IAM authentication on) checks the chain's signatures and session tokens.
const moto = interopAvailable("moto");
describe.skipIf(!moto.ok)("method: profile, a role chain against moto_server with IAM auth on", () => {
  let server: Moto;
  let files: ProfileFiles;
  let restoreEnv: () => void;

  beforeAll(async () => {
    let userKeys: { accessKeyId: string; secretAccessKey: string };
    ({ server, userKeys } = await startMotoAccount({ user: "ci", roles: ["m1", "m2"] }));
    files = profileFiles({
      credentials: `[ci]\n${keysLines(userKeys)}`,
      config:
        `[profile m1]\nrole_arn = ${role("m1")}\nsource_profile = ci\nrole_session_name = moto-one\n\n` +
        `[profile m2]\nrole_arn = ${role("m2")}\nsource_profile = m1\nrole_session_name = moto-two\nregion = us-east-1\n`,
    });
    restoreEnv = setProcessEnv({ ...files.env, AWS_ENDPOINT_URL: server.url, AWS_PROFILE: undefined });
  }, 60_000);

  afterAll(async () => {
    restoreEnv?.();
    await server?.stop();
    files?.remove();
  });

  it("static keys → m1 → m2: S3 calls and whoami that moto accepts, across two forced rotations", async () => {
    const session = new RefreshableSession({ method: "profile", profile: "m2" });
    try {
      const s3 = session.client(S3Client, { forcePathStyle: true });
      await s3.send(new CreateBucketCommand({ Bucket: "moto-profiles" }));
      const keys = new Set<string>();
      for (let i = 0; i < 3; i++) {
        if (i > 0) await session.refresh();
        await s3.send(new PutObjectCommand({ Bucket: "moto-profiles", Key: `k${i}`, Body: `v${i}` }));
        const got = await s3.send(new GetObjectCommand({ Bucket: "moto-profiles", Key: `k${i}` }));
        expect(await got.Body!.transformToString()).toBe(`v${i}`);
        expect((await session.whoami()).Arn).toBe(assumed("m2", "moto-two"));
        keys.add((await session.getCredentials()).accessKeyId);
      }
      expect(keys.size).toBe(3);
      // moto really checks: the chain's credential with its session token cut is refused.
      const good = await session.getCredentials();
      const tampered = new S3Client({
        region: "us-east-1",
        forcePathStyle: true,
        maxAttempts: 1,
        credentials: { ...good, sessionToken: `${good.sessionToken}x` },
      });
      await expect(
        tampered.send(new PutObjectCommand({ Bucket: "moto-profiles", Key: "x", Body: "x" })),
      ).rejects.toThrow();
      tampered.destroy();
    } finally {
      session.close();
    }
  });
});

describe("method: profile, credential_source = EcsContainer", () => {
  it("reaches a container endpoint as EKS Pod Identity sets it up: a full URI and a token file", async () => {
    const emu = await startEmulator();
    const token = "pod-identity-token-for-the-test";
    const files = profileFiles({
      config: `[profile pod]\nrole_arn = ${role("pod")}\ncredential_source = EcsContainer\nrole_session_name = pod-job\n`,
    });
    const tokenFile = files.write("eks-pod-identity-token", token);
    let asked = 0;
    // The node's Pod Identity agent: answers the container-credentials protocol to the bearer of the token.
    const agent = createServer((req, res) => {
      asked++;
      if (req.headers.authorization !== token) {
        res.writeHead(403).end();
        return;
      }
      const c = emu.issueCredential(
        "pod-identity",
        `arn:aws:sts::${ACCOUNT}:assumed-role/node/pod`,
        "AROANODE:pod",
        3600,
      );
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          AccessKeyId: c.accessKeyId,
          SecretAccessKey: c.secretAccessKey,
          Token: c.sessionToken,
          Expiration: new Date(c.expiration!).toISOString(),
        }),
      );
    });
    await new Promise<void>((r) => agent.listen(0, "127.0.0.1", r));
    const restore = setProcessEnv({
      ...files.env,
      AWS_ENDPOINT_URL: emu.url,
      AWS_PROFILE: undefined,
      AWS_REGION: emu.region,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(agent.address() as AddressInfo).port}/v1/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: undefined,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    });
    const session = new RefreshableSession({ method: "profile", profile: "pod" });
    try {
      expect((await session.whoami()).Arn).toBe(assumed("pod", "pod-job"));
      expect(asked).toBeGreaterThanOrEqual(1);
      expect((await session.describe()).description).toContain("credential_source EcsContainer");
    } finally {
      session.close();
      restore();
      agent.close();
      files.remove();
      await emu.close();
    }
  });
});
