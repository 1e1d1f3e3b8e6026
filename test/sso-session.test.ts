import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { RefreshSessionError } from "../src/errors.js";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import type { SsoSessionEnding } from "../src/sso/manager.js";
import type { SsoLoginRequired } from "../src/sso/notify.js";
import { actOnNotification, ssoWorld, type SsoWorld } from "./helpers/sso.js";

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
    for (const name of ["sso-session-ending", "sso-login-required", "sso-login-completed"]) {
      session.on(name, (payload) => events.push({ name, payload }));
    }
    const s3 = session.client(S3Client, { endpoint: w.emu.url, forcePathStyle: true });
    expect(await s3.config.region()).toBe("eu-west-1"); // the profile's region
    try {
      await s3.send(new CreateBucketCommand({ Bucket: "job" }));
      let requests = 0;
      const failures: string[] = [];
      const deadline = Date.now() + 11_000;
      await Promise.all(
        Array.from({ length: 4 }, async (_, id) => {
          for (let i = 0; Date.now() < deadline; i++) {
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
      expect(failures).toEqual([]);
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
  }, 40_000);
});

describe("SSO session: the session ends earlier than predicted", () => {
  it("learns from the refused refresh, fails with SSO_LOGIN_REQUIRED saying what to run, then picks up a login made elsewhere", async () => {
    world = await ssoWorld({
      emulator: { credentialLifetimeSeconds: 2 },
      sso: { accessTokenLifetimeSeconds: 2, sessionDurationSeconds: 3 },
    });
    const w = world;
    await w.login();
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
      // Alive when the token was last refreshed, dead at the refusal: at least 1 s, at most the real 3 s.
      expect(meta.learnedDurationSeconds).toBeGreaterThanOrEqual(1);
      expect(meta.learnedDurationSeconds).toBeLessThanOrEqual(3);
      // The user logs in with another tool; this process carries on without restarting.
      await w.login();
      const after = await session.getCredentials();
      expect(after.expiration!.getTime()).toBeGreaterThan(Date.now());
      await new Promise((r) => setTimeout(r, 50));
      expect(completed).toEqual([expect.objectContaining({ profile: "dev", by: "cache" })]);
      const text = e.message + logs.join("\n");
      for (const secret of secretsOnDisk(w)) expect(text).not.toContain(secret);
    } finally {
      session.close();
    }
  }, 30_000);

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
      const until = Date.now() + 7_000;
      while (Date.now() < until) {
        try {
          await session.whoami();
          requests++;
        } catch (err) {
          failures.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const env = await approver;
      expect(failures).toEqual([]);
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
});
