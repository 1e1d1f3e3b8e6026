import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { RefreshSessionError } from "../src/errors.js";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import type { SsoLoginRequired } from "../src/sso/notify.js";
import { ssoWorld, type SsoWorld } from "./helpers/sso.js";

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
