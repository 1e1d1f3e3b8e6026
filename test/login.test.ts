import { spawn, type ChildProcess } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { fromLoginCredentials } from "@aws-sdk/credential-providers";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { RefreshableSession, redactKeyId } from "../src/index.js";
import { fromProfile } from "../src/profiles/fromProfile.js";
import { refreshable } from "../src/refresh/refreshable.js";
import { fromLogin } from "../src/sources/login.js";
import { loginCachePath } from "../src/sources/loginCache.js";
import { addSignin, startEmulator, type Emulator, type EmulatorSignin } from "../src/testing.js";
import type { SourceEvents } from "../src/types.js";
import { createDpopProof, parseDpopKey } from "../src/util/dpop.js";
import { recordingLogger, sharedClock } from "./helpers/certs.js";
import { cleanEnv, ensureBuilt, ROOT, runCli } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";
import { profileFiles, rejection, setProcessEnv, type ProfileFiles } from "./helpers/profiles.js";
import { waitFor } from "./helpers/wait.js";

const OP = "signin:CreateOAuth2Token";
const HOUR = 3_600_000;

/** An emulator with the sign-in service, a `[profile console]` made by a login, and the environment pointing at both. */
interface LoginWorld {
  emu: Emulator;
  signin: EmulatorSignin;
  files: ProfileFiles;
  cacheDir: string;
  loginSession: string;
  /** The cache file of the profile's login. */
  file: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

const worlds: LoginWorld[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) c();
  for (const w of worlds.splice(0)) await w.close();
});

async function loginWorld(o: { lifetime?: number; session?: number; extraConfig?: string } = {}): Promise<LoginWorld> {
  const emu = await startEmulator();
  const signin = addSignin(emu, {
    ...(o.lifetime ? { credentialLifetimeSeconds: o.lifetime } : {}),
    ...(o.session ? { sessionDurationSeconds: o.session } : {}),
  });
  const files = profileFiles({ credentials: "" });
  const cacheDir = join(files.dir, ".aws", "login", "cache");
  const login = signin.login({ cacheDir, sessionName: "alice" });
  files.write(
    ".aws/config",
    `[profile console]\nlogin_session = ${login.loginSession}\nregion = ${emu.region}\n\n${o.extraConfig ?? ""}`,
  );
  const env = {
    ...files.env,
    AWS_LOGIN_CACHE_DIRECTORY: cacheDir,
    AWS_ENDPOINT_URL: emu.url,
    AWS_ENDPOINT_URL_SIGNIN: emu.url,
    AWS_REGION: emu.region,
  };
  const w: LoginWorld = {
    emu,
    signin,
    files,
    cacheDir,
    loginSession: login.loginSession,
    file: login.file as string,
    env,
    close: async () => {
      await emu.close();
      files.remove();
    },
  };
  worlds.push(w);
  return w;
}

/** Sets the world's variables on this process (the SDK clients of an in-process session read them). */
function useEnv(w: LoginWorld): void {
  cleanups.push(setProcessEnv({ ...w.env, AWS_PROFILE: undefined, AWS_ACCESS_KEY_ID: undefined }));
}

function track<T extends { close(): void }>(s: T): T {
  cleanups.push(() => s.close());
  return s;
}

const readToken = (file: string): Record<string, unknown> & { accessToken: Record<string, string> } =>
  JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown> & { accessToken: Record<string, string> };
const fp = (secret: unknown): string => createHash("sha256").update(String(secret)).digest("hex").slice(0, 12);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("fromLogin: the `aws login` cache, refreshed with the DPoP-bound refresh token", () => {
  it("serves >= 5 rotations to concurrent callers with one token call per rotation, usable against STS and S3", async () => {
    const w = await loginWorld({ lifetime: 3 });
    useEnv(w);
    const loginKey = readToken(w.file).accessToken.accessKeyId;
    const session = track(new RefreshableSession({ method: "profile", profile: "console" }));
    const s3 = session.client(S3Client, { forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: "login-bucket" }));
    const keys = new Set<string>();
    let round = 0;
    while (w.signin.refreshes() < 5) {
      const got = await Promise.all(Array.from({ length: 16 }, () => session.getCredentials()));
      for (const c of got) {
        keys.add(c.accessKeyId);
        expect(c.expiration!.getTime()).toBeGreaterThan(Date.now());
      }
      // The credential the callers got is one the emulator's S3 and STS accept.
      await s3.send(new PutObjectCommand({ Bucket: "login-bucket", Key: `k${round}`, Body: `v${round}` }));
      const back = await s3.send(new GetObjectCommand({ Bucket: "login-bucket", Key: `k${round}` }));
      expect(await back.Body!.transformToString()).toBe(`v${round}`);
      expect((await session.whoami()).Arn).toContain(":role/Admin");
      round++;
      await sleep(40);
    }
    // The last token call's answer may still be on its way to the engine: wait until callers get the credential the
    // emulator issued last.
    const issued = w.emu.issued().filter((c) => c.kind === "login");
    const calls = w.signin.refreshes();
    const newest = issued.at(-1)!.accessKeyId;
    const latest = await waitFor(async () => (await session.getCredentials()).accessKeyId === newest && newest, {
      what: "the last refresh to be served",
    });
    expect(issued).toHaveLength(calls + 1);
    keys.add(latest);
    // Exactly one credential per token call (and the login's own, unless it was too old when the session started): 16
    // callers at a time never made two calls.
    expect(keys.size).toBe(calls + (keys.has(loginKey) ? 1 : 0));
    expect(w.emu.calls(OP)).toBe(w.signin.refreshes()); // every call succeeded
    expect(w.signin.reusedRefreshTokens()).toBe(0);
    expect(w.signin.rejectedProofs()).toBe(0);
    expect(round).toBeGreaterThan(5);
  }, 60_000);

  it("writes the rotated refresh token back atomically (0600), and a second session uses it without a token call", async () => {
    const w = await loginWorld();
    const before = readToken(w.file);
    const a = track(fromLogin({ loginSession: w.loginSession, profile: "console", region: "us-east-1", env: w.env }));
    const engineA = track(refreshable(a));
    expect((await engineA()).accessKeyId).toBe(before.accessToken.accessKeyId);
    expect(w.emu.calls(OP)).toBe(0);
    const refreshed = await engineA.refresh();
    expect(w.emu.calls(OP)).toBe(1);
    const after = readToken(w.file);
    expect(fp(after.refreshToken)).not.toBe(fp(before.refreshToken));
    expect(after.accessToken.accessKeyId).toBe(refreshed.accessKeyId);
    expect(after.accessToken.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/); // as the AWS CLI writes it
    // Every other field is kept: the login's key and idToken, the client id, the account.
    for (const k of ["dpopKey", "idToken", "clientId", "tokenType"]) expect(after[k], k).toBe(before[k]);
    expect(after.accessToken.accountId).toBe(before.accessToken.accountId);
    expect(statSync(w.file).mode & 0o777).toBe(0o600);
    expect(readdirSync(w.cacheDir).filter((n) => n.endsWith(".tmp"))).toEqual([]);

    // A second session (another process would do the same) takes the rotated credential from the file…
    const b = track(refreshable(fromLogin({ loginSession: w.loginSession, region: "us-east-1", env: w.env })));
    expect((await b()).accessKeyId).toBe(refreshed.accessKeyId);
    expect(w.emu.calls(OP)).toBe(1);
    // …and its own refresh presents the rotated refresh token, which the service accepts.
    const fromB = await b.refresh();
    expect(w.emu.calls(OP)).toBe(2);
    expect(w.signin.reusedRefreshTokens()).toBe(0);
    // The first session, asked to refresh now, finds the second one's newer credential: no spent token is sent.
    expect((await engineA.refresh()).accessKeyId).toBe(fromB.accessKeyId);
    expect(w.emu.calls(OP)).toBe(2);
  });

  it("reads expiresAt with and without milliseconds", async () => {
    const w = await loginWorld();
    const token = readToken(w.file);
    for (const expiresAt of ["2099-01-02T03:04:05Z", "2099-01-02T03:04:05.678Z"]) {
      writeFileSync(w.file, JSON.stringify({ ...token, accessToken: { ...token.accessToken, expiresAt } }));
      const src = track(fromLogin({ loginSession: w.loginSession, region: "us-east-1", env: w.env }));
      expect((await src()).expiration?.toISOString()).toBe(new Date(expiresAt).toISOString());
    }
    expect(w.emu.calls(OP)).toBe(0);
  });

  it("a truncated or corrupt cache file gives a clear error naming the file and `aws login`, and is left as it was", async () => {
    const w = await loginWorld();
    const good = readFileSync(w.file, "utf8");
    const token = JSON.parse(good) as Record<string, unknown>;
    const secrets = [String(token.refreshToken), (token.accessToken as Record<string, string>).secretAccessKey!];
    const cases: [string, RegExp][] = [
      [good.slice(0, good.length >> 1), /is not valid JSON \(\d+ bytes; truncated or corrupt\)/],
      ["", /is empty/],
      ["[1]", /does not hold a JSON object/],
      [JSON.stringify({ ...token, dpopKey: undefined }), /has no `dpopKey`/],
      [JSON.stringify({ ...token, refreshToken: "" }), /has no `refreshToken`/],
      [
        JSON.stringify({ ...token, accessToken: { ...(token.accessToken as object), expiresAt: "soon" } }),
        /has no valid `accessToken.expiresAt`/,
      ],
    ];
    for (const [content, problem] of cases) {
      writeFileSync(w.file, content, { mode: 0o600 });
      const src = track(fromLogin({ loginSession: w.loginSession, profile: "console", env: w.env }));
      const err = await rejection(src());
      expect(err.code).toBe("LOGIN_CACHE_INVALID");
      expect(err.message).toMatch(problem);
      expect(err.message).toContain(w.file);
      expect(err.message).toContain("It was left as it is");
      expect(err.message).toContain("`aws login --profile console`");
      for (const s of secrets) expect(err.message).not.toContain(s);
      // The file is not lost, replaced or "repaired": it is still exactly what was there.
      expect(readFileSync(w.file, "utf8")).toBe(content);
      const facts = await src.status();
      expect(facts.find((f) => f.key === "login.cacheValid")?.problem).toMatch(problem);
    }
    expect(w.emu.calls(OP)).toBe(0);
    // No file at all: LOGIN_REQUIRED, saying what to run.
    const other = track(fromLogin({ loginSession: "arn:aws:sts::123456789012:assumed-role/Admin/nobody", env: w.env }));
    const missing = await rejection(other());
    expect(missing.code).toBe("LOGIN_REQUIRED");
    expect(missing.message).toContain("Run `aws login`");
    expect(missing.message).toContain(
      loginCachePath("arn:aws:sts::123456789012:assumed-role/Admin/nobody", w.cacheDir),
    );
  });

  it("warns before the 12-hour session ends, then fails with LOGIN_REQUIRED naming `aws login --profile` (time travel)", async () => {
    const w = await loginWorld();
    const clock = sharedClock();
    const logger = recordingLogger();
    const src = track(
      fromLogin({ loginSession: w.loginSession, profile: "console", region: "us-east-1", env: w.env, clock, logger }),
    );
    const events: SourceEvents["login-session-ending"][] = [];
    src.bindEmitter((e, p) => {
      if (e === "login-session-ending") events.push(p as SourceEvents["login-session-ending"]);
    });
    const creds = track(refreshable(src, { clock }));
    await creds();
    const loginAt = w.signin.sessions()[0]!.loginAt.getTime();
    const predicted = await src.validUntil();
    expect(predicted).toMatchObject({ source: "login", kind: "login", exact: false });
    // The idToken's iat is whole seconds.
    expect(Math.abs(predicted!.at.getTime() - (loginAt + 12 * HOUR))).toBeLessThan(1000);
    expect(events).toEqual([]);

    // 11 h 40 min later (the emulator's clock and the source's both move; nobody waits): a refresh still works, and
    // the 1-hour warning is due.
    const travel = (ms: number): void => {
      clock.offsetMs = ms;
      w.emu.setClockOffset(ms);
    };
    travel(11 * HOUR + 40 * 60_000);
    const late = await creds();
    expect(late.expiration!.getTime()).toBeGreaterThan(clock.now());
    expect(w.emu.calls(OP)).toBe(1);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ profile: "console", loginSession: w.loginSession, leadMs: HOUR });
    expect(events[0]!.remainingMs).toBeLessThanOrEqual(20 * 60_000 + 1000);
    expect(logger.lines.some((l) => l.startsWith("warn") && l.includes("aws login --profile console"))).toBe(true);

    // Past the end: the service answers TOKEN_EXPIRED, and the error says what happened and what to run.
    travel(12 * HOUR + 60_000);
    const err = await rejection(creds());
    expect(err.code).toBe("LOGIN_REQUIRED");
    expect(err.message).toContain("TOKEN_EXPIRED");
    expect(err.message).toContain("Run `aws login --profile console`");
    expect(err.message).toContain('profile "console"');
    expect(err.message).toMatch(/The credential in hand expired .* ago/);
    expect(err.profile).toBe("console");
    const ended = await src.validUntil();
    expect(ended).toMatchObject({ source: "login", kind: "ended", exact: true });
    // The refused refresh token is not sent again and again: callers get the same answer without a call.
    const calls = w.emu.calls(OP);
    expect((await rejection(creds())).code).toBe("LOGIN_REQUIRED");
    expect((await rejection(creds.refresh())).code).toBe("LOGIN_REQUIRED");
    expect(w.emu.calls(OP)).toBe(calls);
    for (const line of logger.lines) expect(line).not.toContain(String(readToken(w.file).refreshToken));
  });

  it("picks a new `aws login` up without a restart once the session is over", async () => {
    const w = await loginWorld();
    useEnv(w);
    const session = track(new RefreshableSession({ method: "profile", profile: "console" }));
    const completed: unknown[] = [];
    session.on("login-completed", (e) => completed.push(e));
    await session.getCredentials();
    w.signin.endSession(w.loginSession);
    const err = await rejection(session.refresh());
    expect(err.code).toBe("LOGIN_REQUIRED");
    expect(err.message).toContain("aws login --profile console");
    expect(await session.validUntil()).toMatchObject({ source: "login", kind: "ended" });

    // The user runs `aws login` again (same console session ARN): the running session notices the file change and
    // carries on with the new login's credential, with no token call.
    const calls = w.emu.calls(OP);
    const again = w.signin.login({ cacheDir: w.cacheDir, loginSession: w.loginSession });
    const fresh = (again.token.accessToken as { accessKeyId: string }).accessKeyId;
    await waitFor(async () => (await session.getCredentials()).accessKeyId === fresh, {
      what: "the new login's credential to be served",
    });
    expect(completed).toEqual([{ profile: "console", loginSession: w.loginSession }]);
    expect(w.emu.calls(OP)).toBe(calls);
    expect(await session.validUntil()).toMatchObject({ source: "login", kind: "login" });
    // And its refresh token works.
    await session.refresh();
    expect(w.emu.calls(OP)).toBe(calls + 1);
    expect((await session.whoami()).Arn).toContain(":role/Admin");
  });
});

describe("the emulator's sign-in token endpoint", () => {
  /** Sends a refresh-token grant as the SDK does; `proof` replaces the DPoP header (null: none). */
  async function grant(
    w: LoginWorld,
    refreshToken: string,
    proof: string | null,
  ): Promise<{ status: number; type: string | null; body: Record<string, unknown> }> {
    const res = await fetch(`${w.emu.url}/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(proof !== null ? { DPoP: proof } : {}) },
      body: JSON.stringify({
        clientId: "arn:aws:signin:::devtools/same-device",
        grantType: "refresh_token",
        refreshToken,
      }),
    });
    return {
      status: res.status,
      type: res.headers.get("x-amzn-errortype"),
      body: (await res.json()) as Record<string, unknown>,
    };
  }

  it("checks the DPoP proof (signature with the header's JWK, the bound key, htm, htu, iat, jti) and rotates the refresh token", async () => {
    const w = await loginWorld();
    const token = readToken(w.file);
    const key = parseDpopKey(String(token.dpopKey));
    const other = parseDpopKey(
      generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "sec1" }).toString(),
    );
    const url = `${w.emu.url}/v1/token`;
    const rt = String(token.refreshToken);
    const good = createDpopProof(key, "POST", url);
    // Header and claims of a good proof, signed by another key: the signature does not verify with the header's JWK.
    const forged = `${good.split(".").slice(0, 2).join(".")}.${createDpopProof(other, "POST", url).split(".")[2]}`;
    const refused: [string | null, RegExp][] = [
      [null, /DPoP header is missing/],
      ["not-a-jwt", /not a JWT/],
      [forged, /signature does not verify/],
      [createDpopProof(key, "GET", url), /htm is not POST/],
      [createDpopProof(key, "POST", `${w.emu.url}/v1/other`), /htu is not/],
      [createDpopProof(key, "POST", url, Date.now() - 10 * 60_000), /iat is too far/],
    ];
    for (const [proof, problem] of refused) {
      const r = await grant(w, rt, proof);
      expect(r.status).toBe(400);
      expect(r.type).toBe("ValidationException");
      expect(String(r.body.message)).toMatch(problem);
    }
    // A well-formed proof by a key the session is not bound to.
    const wrongKey = await grant(w, rt, createDpopProof(other, "POST", url));
    expect(wrongKey).toMatchObject({ status: 400, type: "AccessDeniedException", body: { error: "invalid_grant" } });
    expect(w.signin.rejectedProofs()).toBe(refused.length + 1);
    expect(w.signin.refreshes()).toBe(0);

    const ok = await grant(w, rt, good);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ tokenType: "aws_sigv4", expiresIn: 900 });
    expect(ok.body.refreshToken).not.toBe(rt);
    // The same proof again (its jti spent), then the spent refresh token with a fresh proof: both refused.
    expect(String((await grant(w, String(ok.body.refreshToken), good)).body.message)).toMatch(/jti was used before/);
    const again = await grant(w, rt, createDpopProof(key, "POST", url));
    expect(again).toMatchObject({ status: 400, type: "AccessDeniedException", body: { error: "invalid_grant" } });
    expect(w.signin.reusedRefreshTokens()).toBe(1);
    // The rotated one works, and the credential it brings is one STS accepts.
    const next = await grant(w, String(ok.body.refreshToken), createDpopProof(key, "POST", url));
    expect(next.status).toBe(200);
    const access = next.body.accessToken as { accessKeyId: string };
    expect(w.emu.credential(access.accessKeyId)?.kind).toBe("login");
    expect(w.signin.refreshes()).toBe(2);
  });

  it("an injected 500 is retried by the SDK with a new proof each attempt; the session keeps serving", async () => {
    const w = await loginWorld();
    const src = track(fromLogin({ loginSession: w.loginSession, region: "us-east-1", env: w.env }));
    const creds = track(refreshable(src));
    const first = await creds();
    w.emu.fault(OP, { error: { code: "InternalServerException", status: 500 }, times: 1 });
    const next = await creds.refresh();
    expect(next.accessKeyId).not.toBe(first.accessKeyId);
    // Two attempts, two proofs: a replayed jti would have been refused.
    expect(w.emu.calls(OP)).toBe(2);
    expect(w.signin.rejectedProofs()).toBe(0);
    expect(w.signin.refreshes()).toBe(1);
  });
});

describe("a login_session profile as the source_profile of a role", () => {
  it("assumes the role with the console credentials", async () => {
    const w = await loginWorld({
      extraConfig: "[profile etl]\nrole_arn = arn:aws:iam::123456789012:role/etl\nsource_profile = console\n",
    });
    useEnv(w);
    const session = track(new RefreshableSession({ method: "profile", profile: "etl" }));
    expect((await session.whoami()).Arn).toContain(":assumed-role/etl/");
    expect((await session.describe()).description).toContain("aws login");
    expect(await session.validUntil()).toMatchObject({ source: "login", kind: "login" });
    const assumed = w.emu.requests("sts:AssumeRole");
    expect(assumed).toHaveLength(1);
    expect(assumed[0]!.accessKeyId).toBe(readToken(w.file).accessToken.accessKeyId);
  });
});

describe("interchangeable with the SDK for JavaScript's fromLoginCredentials", () => {
  it("the SDK refreshes against the emulator (its own DPoP proofs pass) and reads what this library wrote, and back", async () => {
    const w = await loginWorld();
    useEnv(w);
    const token = readToken(w.file);
    // Nearly expired: the SDK refreshes it (its threshold is 5 minutes).
    const soon = new Date(Date.now() + 60_000).toISOString();
    writeFileSync(w.file, JSON.stringify({ ...token, accessToken: { ...token.accessToken, expiresAt: soon } }));
    const sdk = fromLoginCredentials({ profile: "console" });
    const bySdk = await sdk();
    expect(w.signin.refreshes()).toBe(1);
    expect(w.signin.rejectedProofs()).toBe(0);
    expect(readToken(w.file).accessToken.accessKeyId).toBe(bySdk.accessKeyId);
    // This library takes the SDK's rotation from the file (with milliseconds in expiresAt), then rotates it again…
    const ours = track(refreshable(fromLogin({ loginSession: w.loginSession, region: "us-east-1", env: w.env })));
    expect((await ours()).accessKeyId).toBe(bySdk.accessKeyId);
    const rotated = await ours.refresh();
    expect(w.signin.refreshes()).toBe(2);
    // …and the SDK serves the credential this library wrote.
    expect((await fromLoginCredentials({ profile: "console" })()).accessKeyId).toBe(rotated.accessKeyId);
    expect(w.signin.reusedRefreshTokens()).toBe(0);
  });
});

describe("login_session profiles: where botocore puts them among the kinds", () => {
  it("after static keys in the credentials file, before credential_process and config-file keys; SSO and web identity first", async () => {
    const keys = "aws_access_key_id = AKIAEXAMPLEKEY000001\naws_secret_access_key = not-a-real-secret-0001\n";
    const ls = "login_session = arn:aws:sts::123456789012:assumed-role/Admin/alice\n";
    const files = profileFiles({
      config:
        `[profile login]\n${ls}\n` +
        `[profile cred_keys]\n${ls}\n` +
        `[profile login_and_process]\n${ls}credential_process = /bin/false\n\n` +
        `[profile login_and_config_keys]\n${ls}${keys}\n` +
        `[profile sso_and_login]\n${ls}sso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n\n` +
        `[profile wi_and_login]\n${ls}role_arn = arn:aws:iam::123456789012:role/wi\nweb_identity_token_file = /tmp/t\n\n` +
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
      credentials: `[cred_keys]\n${keys}`,
    });
    cleanups.push(() => files.remove());
    const expected: Record<string, string> = {
      login: "login",
      cred_keys: "static",
      login_and_process: "login",
      login_and_config_keys: "login",
      sso_and_login: "sso",
      wi_and_login: "web-identity",
    };
    for (const [profile, kind] of Object.entries(expected)) {
      const source = track(fromProfile({ profile, env: { ...files.env } }));
      const d = await source.describe();
      expect(d.kind, profile).toBe(kind);
      if (kind === "login") expect(d.description).toContain("arn:aws:sts::123456789012:assumed-role/Admin/alice");
    }
  });
});

describe("4 processes sharing one `aws login` cache", () => {
  beforeAll(async () => {
    const built = join(ROOT, "dist/index.js");
    if (!existsSync(built) || !readFileSync(built, "utf8").includes("fromLogin")) {
      const { execFile } = await import("node:child_process");
      await new Promise((r, j) => execFile("npx", ["tsup"], { cwd: ROOT }, (e) => (e ? j(e) : r(undefined))));
    }
  }, 120_000);

  it("refresh at once and across >= 5 rotations with exactly one token call per rotation, never a torn file", async () => {
    const w = await loginWorld({ lifetime: 4 });
    // The cached credential is about to expire: all four need a refresh the moment they start.
    const token = readToken(w.file);
    const stale = new Date(Date.now() + 1500).toISOString();
    writeFileSync(w.file, JSON.stringify({ ...token, accessToken: { ...token.accessToken, expiresAt: stale } }));
    const dist = pathToFileURL(join(ROOT, "dist/index.js")).href;
    const worker = join(w.files.dir, "worker.mjs");
    // A job: credentials and whoami every 30 ms. Reports each credential its engine took (the masked key id and expiry
    // of every `refresh` event: from its own token call or from another process's, read from the file).
    writeFileSync(
      worker,
      `import { RefreshableSession } from ${JSON.stringify(dist)};
       const session = new RefreshableSession({ method: "profile", profile: "console", login: { lockStaleMs: 4000 } });
       const taken = new Set(); const failures = []; let requests = 0; let stop = false;
       session.on("refresh", (e) => taken.add(e.accessKeyId + " " + e.expiration.toISOString()));
       process.stdin.on("end", () => (stop = true)).resume();
       while (!stop) {
         try { await session.getCredentials(); await session.whoami(); if (++requests === 1) console.log("started"); }
         catch (e) { failures.push(String(e && e.message)); }
         await new Promise((r) => setTimeout(r, 30));
       }
       session.close();
       process.stdin.destroy();
       console.log(JSON.stringify({ requests, failures, taken: [...taken] }));`,
    );
    let reads = 0;
    let torn = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        try {
          const v = readToken(w.file);
          if (typeof v.refreshToken !== "string") torn++;
        } catch {
          torn++;
        }
        reads++;
        await sleep(5);
      }
    })();
    const children: ChildProcess[] = [];
    let started = 0;
    const results = Array.from(
      { length: 4 },
      () =>
        new Promise<{ code: number | null; out: string; err: string }>((done) => {
          const child = spawn(process.execPath, [worker], { env: cleanEnv(w.env), cwd: ROOT });
          children.push(child);
          let out = "";
          let err = "";
          child.stdout.on("data", (d: Buffer) => {
            const had = out.includes("started\n");
            out += d.toString();
            if (!had && out.includes("started\n")) started++;
          });
          child.stderr.on("data", (d: Buffer) => (err += d.toString()));
          child.on("close", (code) => done({ code, out, err }));
        }),
    );
    try {
      await waitFor(() => started === 4, { what: "4 workers making requests", timeoutMs: 60_000 });
      await waitFor(() => w.signin.refreshes() >= 6, { what: "6 refreshes", timeoutMs: 90_000 });
    } finally {
      for (const c of children) c.stdin!.end();
    }
    const done = await Promise.all(results);
    polling = false;
    await poll;
    const union = new Set<string>();
    const perWorker: number[] = [];
    for (const r of done) {
      expect(r.code, r.err).toBe(0);
      const summary = JSON.parse(r.out.trim().split("\n").at(-1) as string) as {
        requests: number;
        failures: string[];
        taken: string[];
      };
      expect(summary.failures).toEqual([]);
      expect(summary.requests).toBeGreaterThan(5);
      perWorker.push(summary.taken.length);
      for (const k of summary.taken) union.add(k);
    }
    // Four processes, one token call per rotation: every call succeeded and none presented a spent token…
    const refreshes = w.signin.refreshes();
    expect(w.emu.calls(OP)).toBe(refreshes);
    expect(w.signin.reusedRefreshTokens()).toBe(0);
    // Every credential a call made was taken by an engine (the last one perhaps only written to the file, when the
    // workers stopped with that call in flight).
    const last = readToken(w.file).accessToken;
    union.add(`${redactKeyId(last.accessKeyId!)} ${new Date(last.expiresAt!).toISOString()}`);
    // The login's own credential, if a worker started while it was still valid, came from no token call.
    union.delete(`${redactKeyId(token.accessToken.accessKeyId!)} ${new Date(stale).toISOString()}`);
    expect(union.size).toBe(refreshes);
    // …and the processes shared them: a credential one of them made was taken by the others from the file instead of
    // a call of their own. (Each refreshing alone, every credential would have been taken by one process only. A
    // process slow to run may skip one, taking the next straight from the file: no call is made for it either.)
    const taken = perWorker.reduce((a, b) => a + b, 0);
    expect(taken).toBeGreaterThanOrEqual(2 * refreshes);
    expect(reads).toBeGreaterThan(50);
    expect(torn).toBe(0);
    expect(statSync(w.file).mode & 0o777).toBe(0o600);
  }, 150_000);
});

describe("the CLI with an `aws login` profile", () => {
  const boto3 = interopAvailable("boto3");
  beforeAll(async () => {
    await ensureBuilt();
  }, 120_000);

  it("status --profile reports the login, credential-process serves it", async () => {
    const w = await loginWorld();
    const env = cleanEnv(w.env);
    const status = await runCli(["status", "--profile", "console", "--json"], { env });
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as {
      source: { kind: string; description: string };
      sourceFacts: { key: string; value: unknown; problem?: string }[];
    };
    expect(report.source.kind).toBe("login");
    expect(report.source.description).toContain(w.loginSession);
    const fact = (k: string): unknown => report.sourceFacts.find((f) => f.key === k)?.value;
    expect(fact("login.session")).toBe(w.loginSession);
    expect(fact("login.cacheFile")).toBe(w.file);
    expect(typeof fact("login.sessionEndsAt")).toBe("string");
    const cp = await runCli(["credential-process", "--profile", "console", "--no-cache"], { env });
    expect(cp.code, cp.stderr).toBe(0);
    const out = JSON.parse(cp.stdout) as { Version: number; AccessKeyId: string; Expiration: string };
    expect(out.Version).toBe(1);
    expect(out.AccessKeyId).toBe(readToken(w.file).accessToken.accessKeyId);
    for (const text of [status.stdout, status.stderr, cp.stderr]) {
      expect(text).not.toContain(String(readToken(w.file).refreshToken));
    }
  }, 60_000);

  it("exec --require longer than the 12-hour session refuses to start, saying to run `aws login`", async () => {
    const w = await loginWorld();
    const r = await runCli(["exec", "--profile", "console", "--require", "13h", "--", process.execPath, "-e", "0"], {
      env: cleanEnv(w.env),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("cannot keep credentials valid for 13h");
    expect(r.stderr).toContain("aws login --profile console");
  }, 60_000);

  it("exec fails at once with LOGIN_REQUIRED naming `aws login --profile` when the session is over", async () => {
    const w = await loginWorld();
    const token = readToken(w.file);
    writeFileSync(
      w.file,
      JSON.stringify({ ...token, accessToken: { ...token.accessToken, expiresAt: "2020-01-01T00:00:00Z" } }),
    );
    w.signin.endSession(w.loginSession);
    const r = await runCli(["exec", "--profile", "console", "--", process.execPath, "-e", "0"], {
      env: cleanEnv(w.env),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("aws login --profile console");
    expect(r.stderr).toContain("TOKEN_EXPIRED");
  }, 60_000);

  it.skipIf(!boto3.ok)(
    "exec --profile runs a boto3 child across >= 5 rotations, one token call per rotation",
    async () => {
      const LIFETIME = 4;
      const w = await loginWorld({ lifetime: LIFETIME });
      const r = await runCli(
        ["exec", "--profile", "console", "--", "python3", join(ROOT, "test/helpers/boto3_child.py")],
        {
          env: cleanEnv({
            ...w.env,
            CHILD_SECONDS: "60",
            CHILD_UNTIL_KEYS: "6",
            CHILD_BUCKET: "login-child",
            // botocore refreshes 15 minutes ahead; shifted so its window starts a quarter of a lifetime before expiry.
            CHILD_CLOCK_SHIFT_SECONDS: String(-(900 - LIFETIME / 4)),
          }),
          timeoutMs: 90_000,
        },
      );
      expect(r.stderr).not.toMatch(/Traceback/);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as {
        calls: number;
        errors: number;
        keys: number;
      };
      expect(out.errors).toBe(0);
      expect(out.keys).toBeGreaterThanOrEqual(6);
      expect(w.signin.refreshes()).toBeGreaterThanOrEqual(5);
      // One token call per credential the server handed out (plus at most the one in flight at the end).
      expect(w.emu.calls(OP)).toBe(w.signin.refreshes());
      expect(w.signin.refreshes()).toBeLessThanOrEqual(out.keys + 1);
      expect(w.signin.reusedRefreshTokens()).toBe(0);
    },
    90_000,
  );
});
