import {
  CreateTokenCommand,
  RegisterClientCommand,
  SSOOIDCClient,
  StartDeviceAuthorizationCommand,
} from "@aws-sdk/client-sso-oidc";
import { GetRoleCredentialsCommand, ListAccountRolesCommand, LogoutCommand, SSOClient } from "@aws-sdk/client-sso";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RefreshSessionError } from "../src/errors.js";
import { deviceLogin } from "../src/sso/login.js";
import { loadSsoConfig } from "../src/sso/config.js";
import {
  addSsoServices,
  DEFAULT_EMULATOR_DEVICE_CODE_SECONDS,
  startEmulator,
  type Emulator,
  type SsoOidcService,
} from "../src/testing.js";
import { ssoWorld } from "./helpers/sso.js";

const DEVICE = "urn:ietf:params:oauth:grant-type:device_code";
let emu: Emulator;
let oidc: SsoOidcService;
let client: SSOOIDCClient;
let sso: SSOClient;

beforeAll(async () => {
  emu = await startEmulator();
  oidc = addSsoServices(emu, {
    // Lifetimes run out by moving the emulator's clock (emu.setClockOffset), so they can be as long as AWS's.
    sessionDurationSeconds: 600,
    accessTokenLifetimeSeconds: 3600,
    // A poll sooner than half the interval is too soon: two polls in a row are, however slow the machine.
    pollIntervalSeconds: 60,
    assignments: [
      { accountId: "123456789012", roleName: "Dev" },
      { accountId: "123456789012", roleName: "Ops" },
      { accountId: "210987654321", roleName: "Dev", accountName: "other" },
    ],
  }).oidc;
  client = new SSOOIDCClient({ region: "us-east-1", endpoint: emu.url });
  sso = new SSOClient({ region: "us-east-1", endpoint: emu.url });
});
afterAll(async () => {
  client.destroy();
  sso.destroy();
  await emu.close();
});

async function error(
  p: Promise<unknown>,
): Promise<{ name: string; status?: number | undefined; error?: string | undefined }> {
  const e = (await p.then(
    () => undefined,
    (err: unknown) => err,
  )) as { name: string; $metadata?: { httpStatusCode?: number }; error?: string } | undefined;
  expect(e, "expected the call to fail").toBeDefined();
  return { name: e!.name, status: e!.$metadata?.httpStatusCode, error: e!.error };
}

async function register(scopes?: string[]): Promise<{ clientId: string; clientSecret: string }> {
  const r = await client.send(
    new RegisterClientCommand({ clientName: "t", clientType: "public", ...(scopes ? { scopes } : {}) }),
  );
  return { clientId: r.clientId!, clientSecret: r.clientSecret! };
}

async function approvedToken(scopes?: string[]): Promise<{
  accessToken: string;
  refreshToken?: string | undefined;
  expiresIn: number;
  reg: { clientId: string; clientSecret: string };
}> {
  const reg = await register(scopes);
  const auth = await client.send(
    new StartDeviceAuthorizationCommand({ ...reg, startUrl: "https://x.awsapps.com/start" }),
  );
  expect(oidc.approve(auth.userCode!)).toBe(true);
  const t = await client.send(new CreateTokenCommand({ ...reg, grantType: DEVICE, deviceCode: auth.deviceCode }));
  return { accessToken: t.accessToken!, refreshToken: t.refreshToken, expiresIn: t.expiresIn!, reg };
}

describe("emulator: SSO-OIDC", () => {
  it("answers the device flow's states with AWS's error codes", async () => {
    const reg = await register(["sso:account:access"]);
    const auth = await client.send(
      new StartDeviceAuthorizationCommand({ ...reg, startUrl: "https://x.awsapps.com/start" }),
    );
    const poll = (): Promise<unknown> =>
      client.send(new CreateTokenCommand({ ...reg, grantType: DEVICE, deviceCode: auth.deviceCode }));
    expect(await error(poll())).toMatchObject({
      name: "AuthorizationPendingException",
      status: 400,
      error: "authorization_pending",
    });
    expect(await error(poll())).toMatchObject({ name: "SlowDownException", error: "slow_down" });
    // Ten minutes later (AWS's device-code lifetime) the code has expired.
    emu.setClockOffset(DEFAULT_EMULATOR_DEVICE_CODE_SECONDS * 1000 + 1000);
    try {
      expect(await error(poll())).toMatchObject({ name: "ExpiredTokenException", error: "expired_token" });
      expect(oidc.approve(auth.userCode!)).toBe(false); // too late
    } finally {
      emu.setClockOffset(0);
    }

    const denied = await client.send(
      new StartDeviceAuthorizationCommand({ ...reg, startUrl: "https://x.awsapps.com/start" }),
    );
    expect(oidc.deny(denied.userCode!)).toBe(true);
    expect(
      await error(client.send(new CreateTokenCommand({ ...reg, grantType: DEVICE, deviceCode: denied.deviceCode }))),
    ).toMatchObject({ name: "AccessDeniedException" });
    expect(
      await error(
        client.send(new CreateTokenCommand({ ...reg, clientSecret: "nope", grantType: DEVICE, deviceCode: "x" })),
      ),
    ).toMatchObject({
      name: "InvalidClientException",
      status: 401,
      error: "invalid_client",
    });
    expect(
      await error(client.send(new RegisterClientCommand({ clientName: "t", clientType: "confidential" }))),
    ).toMatchObject({
      name: "InvalidClientMetadataException",
    });
  });

  it("issues refresh tokens to scoped registrations, never past the session's end, and refuses them after it", async () => {
    const t = await approvedToken(["sso:account:access"]);
    expect(t.refreshToken).toBeDefined();
    expect(t.expiresIn).toBeLessThanOrEqual(600); // capped by the 10-minute session, not the 1-hour token lifetime
    const grantsBefore = oidc.grants("refresh_token");
    const again = await client.send(
      new CreateTokenCommand({ ...t.reg, grantType: "refresh_token", refreshToken: t.refreshToken }),
    );
    expect(again.accessToken).not.toBe(t.accessToken);
    expect(again.expiresIn).toBeLessThanOrEqual(600);
    expect(oidc.grants("refresh_token")).toBe(grantsBefore + 1); // counted once, as the grant it was
    // Once the session's duration has run out, its refresh token is refused.
    emu.setClockOffset(601_000);
    try {
      expect(
        await error(
          client.send(
            new CreateTokenCommand({ ...t.reg, grantType: "refresh_token", refreshToken: again.refreshToken }),
          ),
        ),
      ).toMatchObject({ name: "InvalidGrantException", error: "invalid_grant" });
    } finally {
      emu.setClockOffset(0);
    }
    // So it is once an administrator ends it.
    oidc.endAllSessions();
    expect(
      await error(
        client.send(new CreateTokenCommand({ ...t.reg, grantType: "refresh_token", refreshToken: t.refreshToken })),
      ),
    ).toMatchObject({
      name: "InvalidGrantException",
      error: "invalid_grant",
    });
    // Unscoped (legacy) registrations get no refresh token: the token lasts as long as the session.
    const legacy = await approvedToken();
    expect(legacy.refreshToken).toBeUndefined();
    expect(legacy.expiresIn).toBeGreaterThanOrEqual(599);
    expect(legacy.expiresIn).toBeLessThanOrEqual(600);
  });

  it("injected faults answer in SSO-OIDC's error format", async () => {
    const remove = emu.fault("sso-oidc:RegisterClient", {
      error: { code: "InternalServerException", status: 500 },
      times: 1,
    });
    const c = new SSOOIDCClient({ region: "us-east-1", endpoint: emu.url, maxAttempts: 1 });
    try {
      expect(await error(c.send(new RegisterClientCommand({ clientName: "t", clientType: "public" })))).toMatchObject({
        name: "InternalServerException",
        status: 500,
        error: "internal_server",
      });
    } finally {
      remove();
      c.destroy();
    }
  });
});

describe("emulator: SSO portal", () => {
  it("checks the bearer token and the assignment, pages role lists, and logs out", async () => {
    oidc.setSessionDuration(60);
    const { accessToken } = await approvedToken(["sso:account:access"]);
    const rc = await sso.send(
      new GetRoleCredentialsCommand({ accessToken, accountId: "123456789012", roleName: "Dev" }),
    );
    expect(rc.roleCredentials?.accessKeyId).toMatch(/^ASIA/);
    expect(emu.credential(rc.roleCredentials!.accessKeyId!)?.arn).toContain("AWSReservedSSO_Dev_");
    expect(
      await error(
        sso.send(new GetRoleCredentialsCommand({ accessToken, accountId: "123456789012", roleName: "Admin" })),
      ),
    ).toMatchObject({
      name: "ForbiddenException",
      status: 403,
    });
    expect(
      await error(
        sso.send(new GetRoleCredentialsCommand({ accessToken: "bogus", accountId: "123456789012", roleName: "Dev" })),
      ),
    ).toMatchObject({ name: "UnauthorizedException", status: 401 });
    const first = await sso.send(
      new ListAccountRolesCommand({ accessToken, accountId: "123456789012", maxResults: 1 }),
    );
    expect(first.roleList?.map((r) => r.roleName)).toEqual(["Dev"]);
    const second = await sso.send(
      new ListAccountRolesCommand({
        accessToken,
        accountId: "123456789012",
        maxResults: 1,
        nextToken: first.nextToken,
      }),
    );
    expect(second.roleList?.map((r) => r.roleName)).toEqual(["Ops"]);
    expect(second.nextToken).toBeUndefined();
    await sso.send(new LogoutCommand({ accessToken }));
    expect(
      await error(sso.send(new GetRoleCredentialsCommand({ accessToken, accountId: "123456789012", roleName: "Dev" }))),
    ).toMatchObject({
      name: "UnauthorizedException",
    });
  });
});

describe("device login client", () => {
  it("adds 5 s to the polling interval on slow_down, as RFC 8628 says", async () => {
    const w = await ssoWorld();
    try {
      const cfg = await loadSsoConfig({ profile: "dev" });
      w.emu.fault("sso-oidc:CreateToken", { error: { code: "SlowDownException", status: 400 }, times: 1 });
      const prompts: string[] = [];
      const result = await deviceLogin({
        config: cfg,
        onPrompt: (p) => {
          prompts.push(p.userCode);
          setTimeout(() => w.oidc.approve(p.userCode), 200);
        },
      });
      expect(result.refreshable).toBe(true);
      expect(prompts).toHaveLength(1);
      const polls = w.emu.requests("sso-oidc:CreateToken").map((r) => r.at.getTime());
      expect(polls).toHaveLength(2);
      // interval 1 s + 5 s for the slow_down
      expect(polls[1]! - polls[0]!).toBeGreaterThanOrEqual(5_900);
      // The registration is cached and reused by the next login, as the AWS CLI does.
      await deviceLogin({ config: cfg, onPrompt: (p) => void setTimeout(() => w.oidc.approve(p.userCode), 50) });
      expect(w.emu.calls("sso-oidc:RegisterClient")).toBe(1);
    } finally {
      await w.close();
    }
  }, 20_000);

  it("gives up with SSO_LOGIN_FAILED when the code expires unapproved", async () => {
    const w = await ssoWorld();
    try {
      const err = await deviceLogin({
        config: await loadSsoConfig({ profile: "dev" }),
        // Nobody approves for ten minutes (AWS's device-code lifetime).
        onPrompt: () => w.emu.setClockOffset(DEFAULT_EMULATOR_DEVICE_CODE_SECONDS * 1000 + 1000),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RefreshSessionError);
      expect((err as RefreshSessionError).code).toBe("SSO_LOGIN_FAILED");
      expect((err as Error).message).toMatch(
        /the code [A-Z]{4}-[A-Z]{4} expired before anyone approved it\. Run `aws-refresh login --profile dev`/,
      );
    } finally {
      await w.close();
    }
  });

  it("needs no prompt when the client is already authorised", async () => {
    const w = await ssoWorld({ sso: { autoApprove: true } });
    try {
      let prompted = false;
      const result = await deviceLogin({
        config: await loadSsoConfig({ profile: "dev" }),
        onPrompt: () => void (prompted = true),
      });
      expect(prompted).toBe(false);
      expect(result.accessTokenExpiresAt.getTime()).toBeGreaterThan(Date.now());
    } finally {
      await w.close();
    }
  });

  it("registers again at once when the cached client registration is refused, instead of failing until the timeout", async () => {
    const w = await ssoWorld({ sso: { autoApprove: true } });
    try {
      const config = await loadSsoConfig({ profile: "dev" });
      await deviceLogin({ config, onPrompt: () => {} });
      expect(w.emu.calls("sso-oidc:RegisterClient")).toBe(1);
      // The registration in the cache is one the service no longer knows (deleted, or from another environment).
      const regFile = readdirSync(w.cacheDir)
        .map((f) => join(w.cacheDir, f))
        .find((f) => {
          const v = JSON.parse(readFileSync(f, "utf8")) as { clientId?: string; accessToken?: string };
          return v.clientId !== undefined && v.accessToken === undefined;
        });
      expect(regFile).toBeDefined();
      const cached = JSON.parse(readFileSync(regFile!, "utf8")) as Record<string, unknown>;
      writeFileSync(regFile!, JSON.stringify({ ...cached, clientId: "stale-client-id" }));
      const warnings: string[] = [];
      const result = await deviceLogin({
        config,
        onPrompt: () => {},
        logger: { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m), error: () => {} },
      });
      expect(result.accessTokenExpiresAt.getTime()).toBeGreaterThan(Date.now());
      expect(w.emu.calls("sso-oidc:RegisterClient")).toBe(2);
      expect(warnings.join("\n")).toContain("refused the cached client registration");
    } finally {
      await w.close();
    }
  });
});
