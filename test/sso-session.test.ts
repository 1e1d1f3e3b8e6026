import { readFileSync, readdirSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { RefreshSessionError } from "../src/errors.js";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import type { SsoSessionEnding } from "../src/sso/manager.js";
import type { SsoLoginRequired } from "../src/sso/notify.js";
import type { SsoLoginCompleted } from "../src/types.js";
import { loadSsoConfig } from "../src/sso/config.js";
import { deviceLogin, tokenPathFor } from "../src/sso/login.js";
import { actOnNotification, ssoWorld, type SsoWorld } from "./helpers/sso.js";
import { waitFor } from "./helpers/wait.js";

let world: SsoWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** Every token the emulator handed out that is still on disk, to check none leaked into logs or events. */
function secretsOnDisk(w: SsoWorld): string[] {
  const out: string[] = [];
  for (const f of readdirSync(w.cacheDir)) {
    if (!f.endsWith(".json")) continue;
    const v = JSON.parse(readFileSync(join(w.cacheDir, f), "utf8")) as Record<string, unknown>;
    for (const k of ["accessToken", "refreshToken", "clientSecret"])
      if (typeof v[k] === "string") out.push(v[k] as string);
  }
  return out;
}

/** The sidecar meta file this library keeps beside the token file. */
function metaFile(w: SsoWorld): string {
  return join(
    w.cacheDir,
    readdirSync(w.cacheDir).find((f) => f.endsWith(".aws-refresh-session.json"))!,
  );
}

function rewriteMeta(w: SsoWorld, change: (m: Record<string, unknown>) => Record<string, unknown>): void {
  const path = metaFile(w);
  writeFileSync(path, JSON.stringify(change(JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>)));
}

const isoSeconds = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

function recordingLogger(lines: string[]): {
  debug(m: string): void;
  info(m: string): void;
  warn(m: string): void;
  error(m: string): void;
} {
  const push = (m: unknown): void => void lines.push(String(m));
  return { debug: push, info: push, warn: push, error: push };
}

describe("SSO session: a job across token refreshes and a session end", () => {
  it("runs across several access-token refreshes and a re-login approved mid-run, with zero failed requests", async () => {
    world = await ssoWorld({
      emulator: { credentialLifetimeSeconds: 3 },
      sso: { accessTokenLifetimeSeconds: 2, sessionDurationSeconds: 7 },
    });
    const w = world;
    await w.login();
    const logs: string[] = [];
    const events: { name: string; payload: unknown }[] = [];
    const notified: SsoLoginRequired[] = [];
    const session = new RefreshableSession({
      method: "sso",
      profile: "dev",
      ssoSessionDurationMs: 7_000,
      warnBeforeMs: [3_000, 1_500],
      loginBeforeMs: 2_500,
      loginTimeoutMs: 20_000,
      // The user approves on their phone a moment after the notification.
      notify: (info) => {
        notified.push(info);
        setTimeout(() => w.oidc.approve(info.userCode), 300);
      },
      logger: recordingLogger(logs),
    });
    for (const name of ["sso-session-ending", "sso-login-required", "sso-login-completed"] as const) {
      session.on(name, (payload) => events.push({ name, payload }));
    }
    const s3 = session.client(S3Client, { endpoint: w.emu.url, forcePathStyle: true });
    expect(await s3.config.region()).toBe("eu-west-1"); // the profile's region
    try {
      await s3.send(new CreateBucketCommand({ Bucket: "job" }));
      let requests = 0;
      const failures: string[] = [];
      // The job runs until the session has ended and every role credential issued under it has expired (its calls
      // from then on can only work with the re-login's), both warnings were given and 3 token refreshes made.
      const deadline = Date.now() + 45_000;
      const done = (): boolean => {
        const [first, second] = w.oidc.sessions();
        const leads = new Set(
          events.filter((e) => e.name === "sso-session-ending").map((e) => (e.payload as SsoSessionEnding).leadMs),
        );
        return (
          Date.now() > deadline ||
          (second !== undefined &&
            w.emu.now() > first!.endsAt.getTime() + 4_000 &&
            leads.size === 2 &&
            w.oidc.grants("refresh_token") >= 3 &&
            requests > 100)
        );
      };
      await Promise.all(
        Array.from({ length: 4 }, async (_, id) => {
          for (let i = 0; !done(); i++) {
            try {
              await s3.send(new PutObjectCommand({ Bucket: "job", Key: `k${id}`, Body: `v${i}` }));
              const got = await s3.send(new GetObjectCommand({ Bucket: "job", Key: `k${id}` }));
              expect(await got.Body?.transformToString()).toBe(`v${i}`);
              requests += 2;
            } catch (err) {
              failures.push(String(err));
            }
            await new Promise((r) => setTimeout(r, 20));
          }
        }),
      );
      expect(failures, [...new Set(failures)].slice(0, 3).join("\n")).toEqual([]);
      expect(requests).toBeGreaterThan(100);
      // Several access-token refreshes, and a second login approved mid-run.
      expect(w.oidc.grants("refresh_token")).toBeGreaterThanOrEqual(3);
      expect(w.oidc.grants("urn:ietf:params:oauth:grant-type:device_code")).toBeGreaterThanOrEqual(2);
      expect(w.oidc.sessions().length).toBeGreaterThanOrEqual(2);
      expect(notified.length).toBeGreaterThanOrEqual(1);
      expect(notified[0]).toMatchObject({ profile: "dev", ssoSession: "corp", reason: "session-ending" });
      expect(notified[0]?.verificationUriComplete).toContain(`user_code=${notified[0]?.userCode}`);
      const names = events.map((e) => e.name);
      expect(names).toContain("sso-session-ending");
      expect(names).toContain("sso-login-required");
      expect(names).toContain("sso-login-completed");
      const endings = events.filter((e) => e.name === "sso-session-ending").map((e) => e.payload as SsoSessionEnding);
      expect(new Set(endings.map((e) => e.leadMs))).toEqual(new Set([3_000, 1_500]));
      for (const e of endings) {
        expect(e).toMatchObject({ profile: "dev", ssoSession: "corp" });
        expect(e.remainingMs).toBeLessThanOrEqual(e.leadMs);
        expect(e.basis).toMatch(/recorded by aws-refresh/);
      }
      const end = await session.validUntil();
      expect(end?.basis).toMatch(/login at .*recorded by aws-refresh.*ssoSessionDurationMs/);
      // No token ever reached a log line or an event.
      const text = JSON.stringify(events) + logs.join("\n");
      for (const secret of secretsOnDisk(w)) expect(text).not.toContain(secret);
    } finally {
      session.close();
    }
  }, 60_000);
});

describe("SSO session: the session ends earlier than predicted", () => {
  it("learns from the refused refresh, fails with SSO_LOGIN_REQUIRED saying what to run, then picks up a login made elsewhere", async () => {
    world = await ssoWorld({
      emulator: { credentialLifetimeSeconds: 2 },
      sso: { accessTokenLifetimeSeconds: 2, sessionDurationSeconds: 3 },
    });
    const w = world;
    await w.login();
    // As if the login had been 20 minutes ago: Identity Center sessions last at least 15 minutes, and a refusal
    // sooner than that teaches nothing (it is a revocation, not the session's end).
    rewriteMeta(w, (m) => ({ ...m, loginAt: isoSeconds(Date.now() - 20 * 60_000) }));
    const logs: string[] = [];
    const completed: unknown[] = [];
    const session = new RefreshableSession({
      method: "sso",
      profile: "dev",
      ssoSessionDurationMs: 3_600_000, // the user believes 1 h; the administrator set 3 s
      autoLogin: false,
      loginTimeoutMs: 1_000,
      logger: recordingLogger(logs),
    });
    session.on("sso-login-completed", (e) => completed.push(e));
    try {
      const first = await session.getCredentials();
      expect(first.accessKeyId).toMatch(/^ASIA/);
      // Keep asking until the role credentials issued before the session end run out.
      let err: unknown;
      const until = Date.now() + 15_000;
      while (Date.now() < until) {
        try {
          await session.getCredentials();
        } catch (e) {
          err = e;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(err).toBeInstanceOf(RefreshSessionError);
      const e = err as RefreshSessionError;
      expect(e.code).toBe("SSO_LOGIN_REQUIRED");
      expect(e.profile).toBe("dev");
      expect(e.message).toContain('profile "dev" (sso-session "corp")');
      expect(e.message).toContain("aws-refresh login --profile dev");
      expect(e.message).toContain("aws sso login --profile dev");
      expect(e.message).toMatch(/role credentials expired/);
      const end = await session.validUntil();
      expect(end).toMatchObject({ kind: "ended", exact: true });
      expect(end?.basis).toMatch(/a refresh was refused at .*: the session has ended/);
      const meta = JSON.parse(
        readFileSync(
          join(
            w.cacheDir,
            readdirSync(w.cacheDir).find((f) => f.endsWith(".aws-refresh-session.json"))!,
          ),
          "utf8",
        ),
      ) as { learnedDurationSeconds?: number };
      // Alive when the token was last refreshed, dead at the refusal: at least the 20 minutes since the login, at
      // most that plus the real 3 s the emulator's session lasted.
      expect(meta.learnedDurationSeconds).toBeGreaterThanOrEqual(1200);
      expect(meta.learnedDurationSeconds).toBeLessThanOrEqual(1204);
      // The user logs in with another tool; this process carries on without restarting.
      // Callers keep asking; the engine tries the source again at its backed-off retry (or at once when the
      // background watcher notices the login first), and the new login serves them.
      await w.login();
      const after = await waitFor(() => session.getCredentials().catch(() => undefined), {
        what: "credentials from the new login",
        timeoutMs: 65_000,
      });
      expect(after.expiration!.getTime()).toBeGreaterThan(Date.now());
      await waitFor(() => completed.length > 0, { what: "sso-login-completed" });
      expect(completed).toEqual([expect.objectContaining({ profile: "dev", by: "cache" })]);
      const text = e.message + logs.join("\n");
      for (const secret of secretsOnDisk(w)) expect(text).not.toContain(secret);
    } finally {
      session.close();
    }
  }, 120_000);

  it("re-logs-in headlessly through a notify command, serving the still-valid role credentials meanwhile", async () => {
    world = await ssoWorld({
      emulator: { credentialLifetimeSeconds: 4 },
      sso: { accessTokenLifetimeSeconds: 2, sessionDurationSeconds: 3 },
    });
    const w = world;
    await w.login();
    w.oidc.setSessionDuration(3600); // the next login lasts
    const dir = w.home;
    const envFile = join(dir, "notified.env");
    const session = new RefreshableSession({
      method: "sso",
      profile: "dev",
      ssoSessionDurationMs: 3_600_000,
      loginTimeoutMs: 15_000,
      // A shell command, as with --notify: it gets the URL, code and deadline in its environment.
      notify: `env | grep '^AWS_REFRESH_SSO_' > '${envFile}'`,
    });
    // The user opens the link from the notification on a phone and approves.
    const approver = actOnNotification(envFile, "approve");
    try {
      const failures: string[] = [];
      let requests = 0;
      // Until the re-login is done and every role credential of the first session has expired (4 s, rounded up),
      // and 20 requests were made; within a deadline.
      const deadline = Date.now() + 30_000;
      const done = (): boolean => {
        const [first, second] = w.oidc.sessions();
        return second !== undefined && w.emu.now() > first!.endsAt.getTime() + 5_000 && requests > 20;
      };
      while (!done() && Date.now() < deadline) {
        try {
          await session.whoami();
          requests++;
        } catch (err) {
          failures.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const env = await approver;
      expect(failures, [...new Set(failures)].slice(0, 3).join("\n")).toEqual([]);
      expect(requests).toBeGreaterThan(20);
      expect(env).toMatchObject({
        AWS_REFRESH_SSO_REASON: "session-ended",
        AWS_REFRESH_SSO_PROFILE: "dev",
        AWS_REFRESH_SSO_SESSION: "corp",
        AWS_REFRESH_SSO_START_URL: "https://corp.awsapps.com/start",
      });
      expect(env?.AWS_REFRESH_SSO_USER_CODE).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
      expect(env?.AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE).toContain(env?.AWS_REFRESH_SSO_USER_CODE);
      expect(Date.parse(env?.AWS_REFRESH_SSO_DEADLINE as string)).toBeGreaterThan(Date.now());
      const notified = readFileSync(envFile, "utf8");
      for (const secret of secretsOnDisk(w)) expect(notified).not.toContain(secret);
      expect(w.oidc.sessions().length).toBe(2);
    } finally {
      session.close();
    }
  }, 30_000);

  it("a refusal too soon to be the session's end teaches nothing: a fresh login is predicted in full, not poisoned", async () => {
    world = await ssoWorld({
      emulator: { credentialLifetimeSeconds: 2 },
      sso: { accessTokenLifetimeSeconds: 2, sessionDurationSeconds: 3 },
    });
    const w = world;
    await w.login();
    const session = new RefreshableSession({ method: "sso", profile: "dev", autoLogin: false, loginTimeoutMs: 1_000 });
    try {
      await session.getCredentials();
      let err: unknown;
      for (const until = Date.now() + 15_000; Date.now() < until && err === undefined;) {
        await session.getCredentials().catch((e: unknown) => (err = e));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((err as RefreshSessionError).code).toBe("SSO_LOGIN_REQUIRED");
      const meta = JSON.parse(readFileSync(metaFile(w), "utf8")) as {
        learnedDurationSeconds?: number;
        endedAt?: string;
      };
      expect(meta.endedAt).toBeDefined();
      expect(meta.learnedDurationSeconds).toBeUndefined(); // 3 s: shorter than any Identity Center session
      // A fresh login: the prediction rests on the 8 h default, so `--require 1h` holds, as it should.
      w.oidc.setSessionDuration(3600);
      await w.login();
      // A wait for a login that began before this one may still time out and be served for a moment; the next
      // attempt adopts the new login.
      await waitFor(() => session.getCredentials().catch(() => undefined), {
        what: "credentials from the fresh login",
        timeoutMs: 30_000,
      });
      const end = await session.validUntil();
      expect(end).toMatchObject({ source: "sso", kind: "login", durationSource: "default" });
      expect(end!.at.getTime() - Date.now()).toBeGreaterThan(7.9 * 3_600_000);
    } finally {
      session.close();
    }
  }, 30_000);

  it("a login made elsewhere, first seen past half its token's life, is refreshed and still ends the wait for a login", async () => {
    world = await ssoWorld({
      emulator: { credentialLifetimeSeconds: 2 },
      sso: { accessTokenLifetimeSeconds: 2, sessionDurationSeconds: 3 },
    });
    const w = world;
    await w.login();
    const completed: SsoLoginCompleted[] = [];
    const session = new RefreshableSession({ method: "sso", profile: "dev", autoLogin: false, loginTimeoutMs: 1_000 });
    session.on("sso-login-completed", (e) => completed.push(e));
    try {
      await session.getCredentials();
      let err: unknown;
      for (const until = Date.now() + 15_000; Date.now() < until && err === undefined;) {
        await session.getCredentials().catch((e: unknown) => (err = e));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((err as RefreshSessionError).code).toBe("SSO_LOGIN_REQUIRED");
      w.oidc.setSessionDuration(3600);
      // Another tool logs in (as `aws sso login` does, it writes the token file alone), and this process first sees
      // the file ten minutes after it was written, past half its token's life: it refreshes the token (CreateToken)
      // rather than adopting it as it is. The login is made in a directory of its own and the file moved into the
      // cache with its old time already set, so the session cannot see it any earlier.
      const staging = join(w.home, "elsewhere");
      const config = await loadSsoConfig({ profile: "dev" });
      await deviceLogin({
        config,
        cacheDir: staging,
        onPrompt: (p) => void setTimeout(() => w.oidc.approve(p.userCode), 20),
      });
      const staged = tokenPathFor(config, staging);
      const past = new Date(Date.now() - 10 * 60_000);
      utimesSync(staged, past, past);
      renameSync(staged, tokenPathFor(config, w.cacheDir));
      const refreshesBefore = w.oidc.grants("refresh_token");
      const after = await waitFor(() => session.getCredentials().catch(() => undefined), {
        what: "credentials from the new login",
        timeoutMs: 30_000,
      });
      expect(after.expiration!.getTime()).toBeGreaterThan(Date.now());
      expect(w.oidc.grants("refresh_token")).toBeGreaterThan(refreshesBefore);
      await waitFor(() => completed.length > 0, { what: "sso-login-completed" });
      expect(completed).toEqual([expect.objectContaining({ profile: "dev", by: "cache" })]);
      const meta = JSON.parse(readFileSync(metaFile(w), "utf8")) as { endedAt?: string };
      expect(meta.endedAt).toBeUndefined();
    } finally {
      session.close();
    }
  }, 60_000);

  it("forgets a learned duration the next session outlives", async () => {
    world = await ssoWorld({ sso: { accessTokenLifetimeSeconds: 2, sessionDurationSeconds: 3600 } });
    const w = world;
    await w.login();
    // Learned earlier: 20 minutes. This session started 30 minutes ago and is still alive.
    rewriteMeta(w, (m) => ({ ...m, loginAt: isoSeconds(Date.now() - 30 * 60_000), learnedDurationSeconds: 1200 }));
    const session = new RefreshableSession({ method: "sso", profile: "dev", autoLogin: false });
    try {
      expect(await session.validUntil()).toMatchObject({ durationSource: "learned" });
      await session.getCredentials();
      // The access token lives 2 s: its engine refreshes it (CreateToken) within a few seconds.
      for (const until = Date.now() + 15_000; Date.now() < until;) {
        const m = JSON.parse(readFileSync(metaFile(w), "utf8")) as {
          learnedDurationSeconds?: number;
          lastRefreshAt?: string;
        };
        if (m.lastRefreshAt !== undefined) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const meta = JSON.parse(readFileSync(metaFile(w), "utf8")) as {
        learnedDurationSeconds?: number;
        loginAt?: string;
      };
      expect(meta.learnedDurationSeconds).toBeUndefined();
      expect(meta.loginAt).toBeDefined(); // the login stays what it was: only the duration was wrong
      expect(await session.validUntil()).toMatchObject({ kind: "login", durationSource: "default" });
    } finally {
      session.close();
    }
  }, 30_000);
});
