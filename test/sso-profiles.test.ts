import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import type { SourceStatusItem } from "../src/session/methods.js";
import { fromSso } from "../src/sources/sso.js";
import { loadSsoConfig } from "../src/sso/config.js";
import { tokenPathFor } from "../src/sso/login.js";
import { runSsoNotify, type SsoLoginRequired } from "../src/sso/notify.js";
import { ssoWorld, type SsoWorld } from "./helpers/sso.js";
import { waitFor } from "./helpers/wait.js";
import { rejection } from "./helpers/rejection.js";

let world: SsoWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function item(items: SourceStatusItem[], key: string): SourceStatusItem | undefined {
  return items.find((i) => i.key === key);
}

describe("SSO profiles", () => {
  it("legacy profile: the token's expiresAt is the session end, and a login before it keeps the job going", async () => {
    world = await ssoWorld({ emulator: { credentialLifetimeSeconds: 2 }, sso: { sessionDurationSeconds: 4 } });
    const w = world;
    const login = await w.login("legacy");
    expect(login.refreshable).toBe(false);
    w.approveAll(100);
    const required: unknown[] = [];
    const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    const session = new RefreshableSession({ method: "sso", profile: "legacy", loginBeforeMs: 2_000, logger: quiet });
    session.on("sso-login-required", (e) => required.push(e));
    try {
      const end = await session.validUntil();
      expect(end).toMatchObject({ kind: "legacy-token", exact: true });
      expect(end?.at.getTime()).toBe(login.accessTokenExpiresAt.getTime());
      expect(end?.basis).toContain("legacy token without a refresh token");
      const failures: string[] = [];
      // The job runs until the first session has ended and every role credential issued under it has expired (2 s,
      // rounded up), with a second login made: its calls from then on can only work with that login's.
      const deadline = Date.now() + 30_000;
      const done = (): boolean => {
        const [first, second] = w.oidc.sessions();
        return second !== undefined && w.emu.now() > first!.endsAt.getTime() + 3_000;
      };
      while (!done() && Date.now() < deadline) {
        await session.whoami().catch((e: unknown) => failures.push(String(e)));
        await new Promise((r) => setTimeout(r, 100)); // the job's pace, not a wait for anything
      }
      expect(failures, [...new Set(failures)].slice(0, 3).join("\n")).toEqual([]);
      expect(w.oidc.grants("refresh_token")).toBe(0);
      expect(w.oidc.grants("urn:ietf:params:oauth:grant-type:device_code")).toBeGreaterThanOrEqual(2);
      expect(required[0]).toMatchObject({ profile: "legacy", ssoSession: undefined, reason: "session-ending" });
      const status = await session.sourceStatus();
      expect(item(status, "sso.refreshToken")?.value).toBe(false);
      expect(item(status, "sso.session")?.value).toBe("(legacy profile)");
      expect(await session.region()).toBe("us-west-2");
    } finally {
      session.close();
    }
  }, 45_000);

  it("status reports token expiry, session end and its basis, role expiry, refresh token and cache file mode", async () => {
    world = await ssoWorld();
    const w = world;
    await w.login();
    const session = new RefreshableSession({ method: "sso", profile: "dev" });
    try {
      const creds = await session.getCredentials();
      const status = await session.sourceStatus();
      const path = tokenPathFor(await loadSsoConfig({ profile: "dev" }));
      expect(item(status, "sso.cacheFile")?.value).toBe(path);
      expect(item(status, "sso.cacheFileMode")).toMatchObject({ value: "0600" });
      expect(item(status, "sso.cacheFileMode")?.problem).toBeUndefined();
      expect(item(status, "sso.refreshToken")?.value).toBe(true);
      expect(Date.parse(item(status, "sso.accessTokenExpiresAt")?.value as string)).toBeGreaterThan(Date.now());
      expect(item(status, "sso.roleCredentialsExpireAt")?.value).toBe(creds.expiration?.toISOString());
      expect(item(status, "sso.sessionEndBasis")?.value).toMatch(/recorded by aws-refresh.*8h default/);
      const end = await session.validUntil();
      expect(item(status, "sso.sessionEndsAt")?.value).toBe(end?.at.toISOString());
      expect(end?.at.getTime()).toBeGreaterThan(Date.now() + 7 * 3_600_000);
      chmodSync(path, 0o644);
      const loose = await session.sourceStatus();
      expect(item(loose, "sso.cacheFileMode")).toMatchObject({ value: "0644" });
      expect(item(loose, "sso.cacheFileMode")?.problem).toContain(`chmod 600 ${path}`);
      // Nothing secret in what status shows.
      const token = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
      const shown = JSON.stringify(loose);
      for (const k of ["accessToken", "refreshToken", "clientSecret"]) expect(shown).not.toContain(token[k]);
    } finally {
      session.close();
    }
  });

  it("a stated duration (config key) and an unknown login time are what the prediction says it rests on", async () => {
    world = await ssoWorld();
    const w = world;
    writeFileSync(
      w.configFile,
      readFileSync(w.configFile, "utf8").replace(
        "sso_registration_scopes = sso:account:access",
        "sso_registration_scopes = sso:account:access\naws_refresh_sso_session_duration = 12h",
      ),
    );
    await w.login();
    const source = fromSso({ profile: "dev" });
    try {
      const end = await source.validUntil();
      expect(end?.basis).toMatch(/\+ 12h session duration \(the aws_refresh_sso_session_duration config key\)/);
      // Forget the recorded login, as if another tool had logged in.
      rmSync(
        join(
          w.cacheDir,
          `${tokenPathFor(await loadSsoConfig({ profile: "dev" }))
            .split("/")
            .pop()!
            .replace(".json", "")}.aws-refresh-session.json`,
        ),
      );
      const unknown = await source.validUntil();
      expect(unknown).toMatchObject({ kind: "first-seen", exact: false, durationMs: 12 * 3_600_000 });
      expect(unknown?.basis).toMatch(/login time unknown/);
    } finally {
      source.close();
    }
  });

  it("honours AWS_PROFILE, and waits for a first login when there is no token yet (headless start)", async () => {
    world = await ssoWorld();
    const w = world;
    process.env.AWS_PROFILE = "dev";
    w.approveAll(100);
    const session = new RefreshableSession({ method: "sso", loginTimeoutMs: 10_000, notify: () => {} });
    const required: { reason: string }[] = [];
    session.on("sso-login-required", (e) => required.push(e));
    try {
      const me = await session.whoami();
      expect(me.Arn).toContain("AWSReservedSSO_ReadOnlyAccess_");
      expect(required[0]?.reason).toBe("no-token");
    } finally {
      session.close();
      delete process.env.AWS_PROFILE;
    }
  });

  it("a session revoked by an administrator: the portal's 401 leads to a background login while the role credential is served", async () => {
    world = await ssoWorld();
    const w = world;
    await w.login();
    const session = new RefreshableSession({ method: "sso", profile: "dev", notify: () => {} });
    const completed = new Promise((r) => session.on("sso-login-completed", r));
    try {
      const before = await session.getCredentials();
      w.oidc.endAllSessions();
      w.approveAll(100);
      const err = await rejection(session.refresh());
      expect(err.code).toBe("SSO_LOGIN_REQUIRED");
      expect(err.message).toMatch(/refused to refresh its token \(InvalidGrantException/);
      expect((await session.getCredentials()).accessKeyId).toBe(before.accessKeyId); // still valid: still served
      expect(await completed).toMatchObject({ by: "device-authorization" });
      const after = await session.refresh();
      expect(after.accessKeyId).not.toBe(before.accessKeyId);
      expect(w.oidc.sessions().filter((s) => !s.ended)).toHaveLength(1);
    } finally {
      session.close();
    }
  });

  it("several sessions needing a login run one device flow between them, and all carry on once it is approved", async () => {
    world = await ssoWorld({ emulator: { credentialLifetimeSeconds: 2 } });
    const w = world;
    await w.login();
    const codes: string[] = [];
    w.oidc.onDeviceAuthorization((a) => {
      codes.push(a.userCode);
      setTimeout(() => w.oidc.approve(a.userCode), 1_500);
    });
    const sessions = [1, 2, 3].map(() => new RefreshableSession({ method: "sso", profile: "dev", notify: () => {} }));
    try {
      const first = await Promise.all(sessions.map((s) => s.getCredentials()));
      w.oidc.endAllSessions();
      // Each one finds out, wants a login, and waits once its role credential is gone.
      await Promise.all(sessions.map((s) => s.refresh().catch(() => s.getCredentials())));
      // Once the login is approved and the old role credentials are gone, each serves new ones.
      const after = await waitFor(
        async () => {
          const got = await Promise.all(sessions.map((s) => s.getCredentials()));
          return got.every((c, i) => c.accessKeyId !== first[i]!.accessKeyId) && got;
        },
        { what: "every session to serve the new login's role credentials", timeoutMs: 30_000 },
      );
      expect(codes).toHaveLength(1);
      expect(w.oidc.sessions().filter((x) => !x.ended)).toHaveLength(1);
      for (const c of after) expect(c.expiration!.getTime()).toBeGreaterThan(Date.now());
      // New role credentials, which the portal issues only for the token of the new login.
      after.forEach((c, i) => expect(c.accessKeyId).not.toBe(first[i]!.accessKeyId));
    } finally {
      for (const s of sessions) s.close();
    }
  }, 45_000);

  it("without a token and without auto-login, fails after loginTimeoutMs with the cache path and the command to run", async () => {
    world = await ssoWorld();
    const session = new RefreshableSession({ method: "sso", profile: "dev", autoLogin: false, loginTimeoutMs: 300 });
    try {
      const err = await rejection(session.getCredentials());
      expect(err.code).toBe("SSO_LOGIN_REQUIRED");
      expect(err.message).toContain(world.cacheDir);
      expect(err.message).toContain("`aws-refresh login --profile dev`");
    } finally {
      session.close();
    }
  });
});

describe("SSO bad input", () => {
  it("names the file, the section, the key and the fix for every config mistake", async () => {
    world = await ssoWorld();
    const w = world;
    const cases: [string, RegExp][] = [
      ["nope", /Profile "nope" is not in the AWS config file .*config\. Add a \[profile nope\] section/],
      [
        "static",
        /Profile "static" in .* is not an IAM Identity Center \(SSO\) profile: it has neither `sso_session` nor `sso_start_url`/,
      ],
      ["ghost", /refers to sso_session "nowhere", but .* has no \[sso-session nowhere\] section/],
      ["half", /The \[sso-session halfdone\] section of .* is missing `sso_region`/],
      ["norole", /Profile "norole" in .* is missing `sso_account_id`, needed for role credentials/],
    ];
    for (const [profile, message] of cases) {
      const session = new RefreshableSession({ method: "sso", profile, autoLogin: false, loginTimeoutMs: 0 });
      try {
        const err = await rejection(session.getCredentials());
        expect(err.code, profile).toBe("SSO_CONFIG_INVALID");
        expect(err.message).toMatch(message);
        expect(err.message).toContain(w.configFile);
        expect(err.profile).toBe(profile);
        const status = await session.sourceStatus();
        expect(status.find((i) => i.problem)?.problem).toMatch(message);
      } finally {
        session.close();
      }
    }
    process.env.AWS_CONFIG_FILE = join(w.home, "missing-config");
    const err = await rejection(loadSsoConfig({ profile: "dev" }));
    expect(err.message).toMatch(/The AWS config file .*missing-config does not exist/);
    process.env.AWS_CONFIG_FILE = w.configFile;
    writeFileSync(
      w.configFile,
      "[profile bad]\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\naws_refresh_sso_session_duration = soon\n",
    );
    expect((await rejection(loadSsoConfig({ profile: "bad" }))).message).toMatch(
      /`aws_refresh_sso_session_duration = soon`, which is not a duration/,
    );
  });

  it("a corrupt cache file is a typed error naming the file and the fix, never its content", async () => {
    world = await ssoWorld();
    const w = world;
    await w.login();
    const path = tokenPathFor(await loadSsoConfig({ profile: "dev" }));
    const token = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
    writeFileSync(path, JSON.stringify(token).slice(0, 60));
    const session = new RefreshableSession({ method: "sso", profile: "dev", autoLogin: false, loginTimeoutMs: 0 });
    try {
      const err = await rejection(session.getCredentials());
      expect(err.code).toBe("SSO_CACHE_INVALID");
      expect(err.message).toContain(path);
      expect(err.message).toContain("aws-refresh login --profile dev");
      expect(err.message).not.toContain(token.accessToken!.slice(0, 20));
      delete token.expiresAt;
      writeFileSync(path, JSON.stringify(token));
      const fresh = new RefreshableSession({ method: "sso", profile: "dev", autoLogin: false, loginTimeoutMs: 0 });
      const missing = await rejection(fresh.getCredentials()).finally(() => fresh.close());
      expect(missing.code).toBe("SSO_CACHE_INVALID");
      expect(missing.message).toContain("has no valid `expiresAt`");
    } finally {
      session.close();
    }
  });

  it("rejects bad options up front with TypeError / RangeError naming the option", () => {
    const bad: [Record<string, unknown>, typeof TypeError, RegExp][] = [
      [{ profile: "" }, TypeError, /`profile` must be a non-empty string/],
      [{ loginTimeoutMs: -1 }, RangeError, /`loginTimeoutMs` must be a finite number/],
      [{ ssoSessionDurationMs: 10 }, RangeError, /`ssoSessionDurationMs` must be .* >= 1000/],
      [{ warnBeforeMs: 3600 }, TypeError, /`warnBeforeMs` must be an array/],
      [{ warnBeforeMs: [1, Number.NaN] }, RangeError, /`warnBeforeMs\[1\]`/],
      [{ notify: 42 }, TypeError, /`notify` must be a shell command string, a non-empty argv array/],
      [{ notify: [] }, TypeError, /`notify`/],
      [{ autoLogin: "yes" }, TypeError, /`autoLogin` must be a boolean/],
      [{ lockStaleMs: 10 }, RangeError, /`lockStaleMs`/],
    ];
    for (const [options, type, message] of bad) {
      expect(() => new RefreshableSession({ method: "sso", ...options } as never)).toThrow(type);
      expect(() => fromSso(options as never)).toThrow(message);
    }
  });
});

describe("SSO notify hook", () => {
  const info: SsoLoginRequired = {
    profile: "dev",
    ssoSession: "corp",
    startUrl: "https://corp.awsapps.com/start",
    verificationUri: "http://127.0.0.1:1/device",
    verificationUriComplete: "http://127.0.0.1:1/device?user_code=BCDF-GHJK",
    userCode: "BCDF-GHJK",
    expiresAt: new Date("2030-01-01T00:00:00Z"),
    reason: "session-ending",
    sessionEndsAt: new Date("2030-01-01T01:00:00Z"),
  };

  it("runs an argv array without a shell, with the login's details in its environment", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "notify-")), "out.json");
    await runSsoNotify(
      [
        process.execPath,
        "-e",
        "require('fs').writeFileSync(process.argv[1], JSON.stringify({ env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('AWS_REFRESH_SSO_'))), arg: process.argv[2] }))",
        file,
        "$HOME",
      ],
      info,
    );
    const got = JSON.parse(readFileSync(file, "utf8")) as { env: Record<string, string>; arg: string };
    expect(got.arg).toBe("$HOME"); // no shell expanded it
    expect(got.env).toEqual({
      AWS_REFRESH_SSO_VERIFICATION_URI: info.verificationUri,
      AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE: info.verificationUriComplete,
      AWS_REFRESH_SSO_USER_CODE: "BCDF-GHJK",
      AWS_REFRESH_SSO_DEADLINE: "2030-01-01T00:00:00.000Z",
      AWS_REFRESH_SSO_REASON: "session-ending",
      AWS_REFRESH_SSO_PROFILE: "dev",
      AWS_REFRESH_SSO_SESSION: "corp",
      AWS_REFRESH_SSO_START_URL: "https://corp.awsapps.com/start",
      AWS_REFRESH_SSO_SESSION_ENDS_AT: "2030-01-01T01:00:00.000Z",
    });
  });

  it("a failing, missing or hanging command is logged, never thrown", async () => {
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (m: string) => void warnings.push(m), error: () => {} };
    await runSsoNotify("echo broken >&2; exit 3", info, { logger });
    await runSsoNotify(["/nonexistent/notifier"], info, { logger });
    await runSsoNotify(["sleep", "5"], info, { logger, timeoutMs: 200 });
    await runSsoNotify(() => Promise.reject(new Error("webhook down")), info, { logger });
    expect(warnings).toEqual([
      expect.stringMatching(/exited with 3: broken/),
      expect.stringMatching(/could not run the SSO notify command/),
      expect.stringMatching(/ran longer than 200 ms; stopped it/),
      expect.stringMatching(/notify function failed: webhook down/),
    ]);
  });
});
