import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateTokenCommand, RegisterClientCommand, SSOOIDCClient } from "@aws-sdk/client-sso-oidc";
import { afterEach, describe, expect, it } from "vitest";
import { metaPathFor, registrationCacheKey, fingerprint, formatCacheTime } from "../src/sso/cache.js";
import { loadSsoConfig } from "../src/sso/config.js";
import { deviceLogin, tokenPathFor } from "../src/sso/login.js";
import { pkceLogin, type AuthorizationCodePrompt, type PkceLoginOptions } from "../src/sso/pkce.js";
import type { PkceLoginResult } from "../src/sso/pkce.js";
import { decideWithFetch } from "./helpers/browser.js";
import { SSO_CONFIG, ssoWorld, type SsoWorld } from "./helpers/sso.js";
import { rejection } from "./helpers/rejection.js";

/** SSO_CONFIG plus an sso-session with two scopes and one with none configured. */
const CONFIG = `${SSO_CONFIG}
[profile multi]
sso_session = multi
sso_account_id = 123456789012
sso_role_name = ReadOnlyAccess

[sso-session multi]
sso_start_url = https://multi.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access, codewhisperer:completions

[profile bare]
sso_session = bare
sso_account_id = 123456789012
sso_role_name = ReadOnlyAccess

[sso-session bare]
sso_start_url = https://bare.awsapps.com/start
sso_region = us-east-1
`;

const BOTOCORE_TOKEN_FIELDS = [
  "accessToken",
  "clientId",
  "clientSecret",
  "expiresAt",
  "refreshToken",
  "region",
  "registrationExpiresAt",
  "startUrl",
];

let world: SsoWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** A PKCE login of `profile` whose prompt is answered by `act` (the user, in a browser or with fetch). */
async function pkce(
  profile: string,
  act: (p: AuthorizationCodePrompt) => Promise<unknown>,
  extra: Partial<PkceLoginOptions> = {},
): Promise<{ result: PkceLoginResult; prompt: AuthorizationCodePrompt }> {
  const config = await loadSsoConfig({ profile });
  let prompt: AuthorizationCodePrompt | undefined;
  let acted: Promise<unknown> = Promise.resolve();
  try {
    const result = await pkceLogin({
      config,
      onPrompt: (p) => {
        prompt = p;
        acted = act(p);
        return acted.then(() => undefined);
      },
      ...extra,
    });
    return { result, prompt: prompt as AuthorizationCodePrompt };
  } finally {
    // The login may end before the user's side has seen its answer: let it finish, for the test to look at.
    await acted.catch(() => undefined);
  }
}

function registrationPath(w: SsoWorld, startUrl: string, session: string, scopes: string[] | undefined): string {
  return join(
    w.cacheDir,
    `${registrationCacheKey({ startUrl, region: "us-east-1", scopes, sessionName: session })}.json`,
  );
}

describe("pkceLogin (the browser answered with fetch)", () => {
  it("registers for the authorization_code grant, sends /authorize what the AWS CLI sends, and caches as deviceLogin", async () => {
    world = await ssoWorld({ config: CONFIG });
    const w = world;
    let answered: { status: number; body: string } | undefined;
    const { result, prompt } = await pkce(
      "multi",
      async (p) => (answered = await decideWithFetch(p.authorizationUrl, "allow")),
    );

    // RegisterClient as SSOTokenFetcherAuth: both grants, the portless loopback redirect, the start URL as issuer.
    const [reg] = w.oidc.registrations();
    expect(reg).toMatchObject({
      grantTypes: ["authorization_code", "refresh_token"],
      redirectUris: ["http://127.0.0.1/oauth/callback"],
      issuerUrl: "https://multi.awsapps.com/start",
      scopes: ["sso:account:access", "codewhisperer:completions"],
    });
    // /authorize on the SSO-OIDC endpoint, with the listener's port, a random state, S256, space-joined scopes.
    const url = new URL(prompt.authorizationUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${w.emu.url}/authorize`);
    expect(prompt.authorizationUrl).toContain("&scopes=sso%3Aaccount%3Aaccess%20codewhisperer%3Acompletions&");
    const q = url.searchParams;
    expect(q.get("response_type")).toBe("code");
    expect(q.get("client_id")).toBe(reg?.clientId);
    expect(q.get("redirect_uri")).toBe(prompt.redirectUri);
    expect(prompt.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback$/);
    expect(q.get("state")).toMatch(/^[0-9a-f-]{36}$/);
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answered).toMatchObject({ status: 200 });
    expect(answered?.body).toContain("Logged in");
    expect(w.oidc.grants("authorization_code")).toBe(1);

    // The token and the meta file as deviceLogin writes them: botocore's fields, the login time recorded.
    const cfg = await loadSsoConfig({ profile: "multi" });
    expect(result.path).toBe(tokenPathFor(cfg));
    expect(result.refreshable).toBe(true);
    const token = JSON.parse(readFileSync(result.path, "utf8")) as Record<string, string>;
    expect(Object.keys(token).sort()).toEqual(BOTOCORE_TOKEN_FIELDS);
    expect(token).toMatchObject({ startUrl: cfg.startUrl, region: "us-east-1", clientId: reg?.clientId });
    expect(token.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const meta = JSON.parse(readFileSync(metaPathFor(result.path), "utf8")) as Record<string, unknown>;
    expect(meta).toMatchObject({
      version: 1,
      sessionName: "multi",
      loginAt: formatCacheTime(result.loginAt.getTime()),
      tokenFingerprint: fingerprint(token.accessToken as string),
    });
    // The registration file is the AWS CLI's: its name, and the grants recorded so it is not used for the device flow.
    const file = JSON.parse(
      readFileSync(
        registrationPath(w, cfg.startUrl, "multi", ["sso:account:access", "codewhisperer:completions"]),
        "utf8",
      ),
    ) as Record<string, unknown>;
    expect(file).toMatchObject({ clientId: reg?.clientId, grantTypes: ["authorization_code", "refresh_token"] });
    // The portal accepts the token: the session behind it is the emulator's.
    expect(w.oidc.sessionForAccessToken(token.accessToken as string)?.startUrl).toBe("https://multi.awsapps.com/start");
    // No secret in what a user is shown.
    for (const secret of [token.accessToken, token.refreshToken, token.clientSecret]) {
      expect(JSON.stringify(prompt) + (answered?.body ?? "")).not.toContain(secret);
    }
  });

  it("refuses a callback with another state, and exchanges no code from it", async () => {
    world = await ssoWorld({ config: CONFIG });
    const w = world;
    let forged: Response | undefined;
    const err = await rejection(
      pkce("dev", async (p) => {
        const u = new URL(p.redirectUri);
        u.searchParams.set("code", "forged-code");
        u.searchParams.set("state", "not-the-state");
        forged = await fetch(u);
      }),
    );
    expect(err.code).toBe("SSO_LOGIN_FAILED");
    expect(err.message).toMatch(/profile "dev" .*failed: the browser came back .* with a `state` other than/);
    expect(err.message).toContain("aws-refresh login --profile dev");
    expect(forged?.status).toBe(400);
    expect(await forged?.text()).toContain("does not belong to the login aws-refresh started");
    expect(w.emu.calls("sso-oidc:CreateToken")).toBe(0);
    expect(existsSync(tokenPathFor(await loadSsoConfig({ profile: "dev" })))).toBe(false);
  });

  it("an error= callback (Deny) ends the login saying so; a callback without the state is refused too", async () => {
    world = await ssoWorld({ config: CONFIG });
    const w = world;
    let answered: { status: number; location: string; body: string } | undefined;
    const denied = await rejection(
      pkce("dev", async (p) => (answered = await decideWithFetch(p.authorizationUrl, "deny"))),
    );
    expect(denied.message).toMatch(/failed: the request was denied in the browser/);
    expect(new URL(answered?.location ?? "").searchParams.get("error")).toBe("access_denied");
    expect(answered?.status).toBe(400);
    expect(answered?.body).toContain("denied in the browser");

    // An error= without this login's state is no answer of ours: refused as forged, not taken as a denial.
    const forged = await rejection(
      pkce("dev", async (p) => void (await fetch(`${p.redirectUri}?error=access_denied`))),
    );
    expect(forged.message).toContain("a `state` other than the one this login sent");
    expect(w.emu.calls("sso-oidc:CreateToken")).toBe(0);
  });

  it("a registration made for the device grant is not used for PKCE, nor the reverse; each is reused for its own", async () => {
    world = await ssoWorld({ config: CONFIG });
    const w = world;
    const cfg = await loadSsoConfig({ profile: "dev" });
    const path = registrationPath(w, cfg.startUrl, "corp", ["sso:account:access"]);
    const grantsOf = (): unknown => (JSON.parse(readFileSync(path, "utf8")) as { grantTypes?: unknown }).grantTypes;
    const allow = (p: AuthorizationCodePrompt): Promise<unknown> => decideWithFetch(p.authorizationUrl, "allow");

    await w.login("dev"); // device flow
    expect(w.emu.calls("sso-oidc:RegisterClient")).toBe(1);
    expect(grantsOf()).toBeUndefined();
    await pkce("dev", allow);
    expect(w.emu.calls("sso-oidc:RegisterClient")).toBe(2);
    expect(grantsOf()).toEqual(["authorization_code", "refresh_token"]);
    await pkce("dev", allow);
    expect(w.emu.calls("sso-oidc:RegisterClient")).toBe(2); // reused
    await w.login("dev");
    expect(w.emu.calls("sso-oidc:RegisterClient")).toBe(3);
    expect(grantsOf()).toBeUndefined();
    // What reuse across grants would have met: the emulator gives a client only the grants it registered for.
    const [device, auth] = w.oidc.registrations();
    expect(device?.grantTypes).toEqual(["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]);
    expect(auth?.grantTypes).toEqual(["authorization_code", "refresh_token"]);
    expect(w.oidc.grants("authorization_code")).toBe(2);
    expect(w.oidc.grants("urn:ietf:params:oauth:grant-type:device_code")).toBe(2);
  });

  it("reuses a registration the AWS CLI cached for the authorization-code flow (its file name, its content)", async () => {
    world = await ssoWorld({ config: CONFIG });
    const w = world;
    // What `aws sso login` (SSOTokenFetcherAuth) writes for an sso-session without sso_registration_scopes: the key
    // hashes scopes null, the registration asks for sso:account:access.
    const client = new SSOOIDCClient({ region: "us-east-1", endpoint: w.emu.url });
    const out = await client.send(
      new RegisterClientCommand({
        clientName: "botocore-client-bare",
        clientType: "public",
        grantTypes: ["authorization_code", "refresh_token"],
        redirectUris: ["http://127.0.0.1/oauth/callback"],
        issuerUrl: "https://bare.awsapps.com/start",
        scopes: ["sso:account:access"],
      }),
    );
    client.destroy();
    const key = createHash("sha1")
      .update(
        '{"region": "us-east-1", "scopes": null, "session_name": "bare", "startUrl": "https://bare.awsapps.com/start", "tool": "botocore"}',
      )
      .digest("hex");
    mkdirSync(w.cacheDir, { recursive: true });
    writeFileSync(
      join(w.cacheDir, `${key}.json`),
      JSON.stringify({
        clientId: out.clientId,
        clientSecret: out.clientSecret,
        expiresAt: formatCacheTime((out.clientSecretExpiresAt as number) * 1000),
        scopes: ["sso:account:access"],
        grantTypes: ["authorization_code", "refresh_token"],
      }),
      { mode: 0o600 },
    );
    const { prompt, result } = await pkce("bare", (p) => decideWithFetch(p.authorizationUrl, "allow"));
    expect(w.emu.calls("sso-oidc:RegisterClient")).toBe(1); // the AWS CLI's, not ours
    expect(new URL(prompt.authorizationUrl).searchParams.get("client_id")).toBe(out.clientId);
    expect(new URL(prompt.authorizationUrl).searchParams.get("scopes")).toBe("sso:account:access");
    expect(result.refreshable).toBe(true);
  });

  it("AWS_ENDPOINT_URL_SSO_OIDC decides where /authorize is, as it does for the SDK's calls", async () => {
    world = await ssoWorld({ config: CONFIG });
    const w = world;
    const saved = process.env.AWS_ENDPOINT_URL_SSO_OIDC;
    // Nothing listens on port 9 of 127.0.0.2: only the service-specific endpoint can work.
    process.env.AWS_ENDPOINT_URL = "http://127.0.0.2:9";
    process.env.AWS_ENDPOINT_URL_SSO_OIDC = w.emu.url;
    try {
      const { prompt } = await pkce("dev", (p) => decideWithFetch(p.authorizationUrl, "allow"));
      expect(prompt.authorizationUrl.startsWith(`${w.emu.url}/authorize?`)).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SSO_OIDC;
      else process.env.AWS_ENDPOINT_URL_SSO_OIDC = saved;
    }
  });

  it("gives up at the deadline and stops listening; an abort cancels it; a legacy profile is refused", async () => {
    world = await ssoWorld({ config: CONFIG });
    let redirectUri = "";
    const late = await rejection(
      pkce(
        "dev",
        async (p) => {
          redirectUri = p.redirectUri;
        },
        { timeoutMs: 300 },
      ),
    );
    expect(late.code).toBe("SSO_LOGIN_FAILED");
    expect(late.message).toContain("the browser did not come back within");
    await expect(fetch(`${redirectUri}?code=x&state=y`)).rejects.toThrow(); // the listener is gone

    const stop = new AbortController();
    const cancelled = await rejection(
      pkce("dev", async () => stop.abort("another tool logged in"), { signal: stop.signal }),
    );
    expect(cancelled.message).toContain("cancelled (another tool logged in)");

    const legacy = await rejection(pkce("legacy", async () => undefined));
    expect(legacy.code).toBe("SSO_CONFIG_INVALID");
    expect(legacy.message).toContain("--use-device-code");
    await expect(pkce("dev", async () => undefined, { timeoutMs: 0 })).rejects.toThrow(/`timeoutMs`/);
  });
});

describe("emulator: the authorization_code grant", () => {
  async function registerAuthCode(w: SsoWorld, extra: Record<string, unknown> = {}) {
    const client = new SSOOIDCClient({ region: "us-east-1", endpoint: w.emu.url });
    try {
      return await client.send(
        new RegisterClientCommand({
          clientName: "t",
          clientType: "public",
          grantTypes: ["authorization_code", "refresh_token"],
          redirectUris: ["http://127.0.0.1/oauth/callback"],
          issuerUrl: "https://corp.awsapps.com/start",
          scopes: ["sso:account:access"],
          ...extra,
        }),
      );
    } finally {
      client.destroy();
    }
  }

  async function sdkError(w: SsoWorld, send: (c: SSOOIDCClient) => Promise<unknown>) {
    const client = new SSOOIDCClient({ region: "us-east-1", endpoint: w.emu.url, maxAttempts: 1 });
    try {
      const e = (await send(client).then(
        () => undefined,
        (err: unknown) => err,
      )) as { name: string; error?: string; $metadata?: { httpStatusCode?: number } } | undefined;
      expect(e, "expected the call to fail").toBeDefined();
      return { name: e?.name, error: e?.error, status: e?.$metadata?.httpStatusCode };
    } finally {
      client.destroy();
    }
  }

  function authorizeUrl(w: SsoWorld, params: Record<string, string>): string {
    return `${w.emu.url}/authorize?${new URLSearchParams(params).toString()}`;
  }

  it("RegisterClient refuses unknown grants, bad redirect URIs and a missing issuer with AWS's error shapes", async () => {
    world = await ssoWorld();
    const w = world;
    const register = (extra: Record<string, unknown>) => sdkError(w, () => registerAuthCode(w, extra));
    expect(await register({ grantTypes: ["implicit"] })).toMatchObject({
      name: "UnsupportedGrantTypeException",
      error: "unsupported_grant_type",
      status: 400,
    });
    expect(await register({ redirectUris: ["http://example.com/cb"] })).toMatchObject({
      name: "InvalidRedirectUriException",
      error: "invalid_redirect_uri",
    });
    expect(await register({ redirectUris: ["http://127.0.0.1/cb#frag"] })).toMatchObject({
      name: "InvalidRedirectUriException",
    });
    expect(await register({ redirectUris: [] })).toMatchObject({ name: "InvalidRedirectUriException" });
    expect(await register({ issuerUrl: undefined })).toMatchObject({
      name: "InvalidRequestException",
      error: "invalid_request",
    });
    // A client registered for the authorization code only cannot start the device flow.
    const reg = await registerAuthCode(w);
    const { StartDeviceAuthorizationCommand } = await import("@aws-sdk/client-sso-oidc");
    expect(
      await sdkError(w, (c) =>
        c.send(
          new StartDeviceAuthorizationCommand({
            clientId: reg.clientId,
            clientSecret: reg.clientSecret,
            startUrl: "https://corp.awsapps.com/start",
          }),
        ),
      ),
    ).toMatchObject({ name: "UnauthorizedClientException", error: "unauthorized_client", status: 400 });
  });

  it("/authorize takes the registered loopback redirect on any port, and refuses other hosts and paths", async () => {
    world = await ssoWorld();
    const w = world;
    const reg = await registerAuthCode(w);
    const base = {
      response_type: "code",
      client_id: reg.clientId as string,
      state: "s1",
      code_challenge_method: "S256",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      scopes: "sso:account:access",
    };
    for (const port of ["1", "4242", "65535"]) {
      const res = await fetch(authorizeUrl(w, { ...base, redirect_uri: `http://127.0.0.1:${port}/oauth/callback` }));
      expect(res.status).toBe(200);
      expect(await res.text()).toContain(">Allow</button>");
    }
    for (const redirect of [
      "http://127.0.0.1:4242/other",
      "http://localhost:4242/oauth/callback",
      "https://127.0.0.1:4242/oauth/callback",
      "http://127.0.0.2:4242/oauth/callback",
      "",
    ]) {
      const res = await fetch(authorizeUrl(w, { ...base, redirect_uri: redirect }), { redirect: "manual" });
      expect(res.status, redirect).toBe(400);
      expect(res.headers.get("location"), "never redirected to an unregistered URI").toBeNull();
      expect(await res.text()).toContain("invalid_redirect_uri");
    }
    const unknown = await fetch(
      authorizeUrl(w, { ...base, client_id: "nobody", redirect_uri: "http://127.0.0.1:1/oauth/callback" }),
    );
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain("invalid_client");
    // Errors of the request itself go back to the client with its state (RFC 6749 §4.1.2.1).
    const redirected = async (params: Record<string, string>) => {
      const res = await fetch(
        authorizeUrl(w, { ...base, redirect_uri: "http://127.0.0.1:4242/oauth/callback", ...params }),
        {
          redirect: "manual",
        },
      );
      expect(res.status).toBe(302);
      const back = new URL(res.headers.get("location") as string);
      expect(`${back.origin}${back.pathname}`).toBe("http://127.0.0.1:4242/oauth/callback");
      return { error: back.searchParams.get("error"), state: back.searchParams.get("state") };
    };
    expect(await redirected({ code_challenge_method: "plain" })).toEqual({ error: "invalid_request", state: "s1" });
    expect(await redirected({ code_challenge: "" })).toEqual({ error: "invalid_request", state: "s1" });
    expect(await redirected({ response_type: "token" })).toEqual({ error: "unsupported_response_type", state: "s1" });
    expect(await redirected({ scopes: "sso:account:access other:scope" })).toEqual({
      error: "invalid_scope",
      state: "s1",
    });
    expect(w.emu.calls("sso-oidc:Authorize")).toBe(3 + 5 + 1 + 4);
  });

  it("CreateToken checks the verifier against the S256 challenge, the redirect URI and the client, and takes a code once", async () => {
    world = await ssoWorld();
    const w = world;
    const reg = await registerAuthCode(w);
    const other = await registerAuthCode(w);
    const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"; // RFC 7636 appendix B
    const redirectUri = "http://127.0.0.1:4242/oauth/callback";
    const page = await fetch(
      authorizeUrl(w, {
        response_type: "code",
        client_id: reg.clientId as string,
        redirect_uri: redirectUri,
        state: "st",
        code_challenge_method: "S256",
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", // its S256 challenge, from the RFC
        scopes: "sso:account:access",
      }),
    );
    const id = /name="request" value="([0-9a-f]+)"/.exec(await page.text())?.[1] as string;
    const decided = await fetch(`${w.emu.url}/authorize`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ request: id, action: "allow" }),
    });
    const back = new URL(decided.headers.get("location") as string);
    expect(back.searchParams.get("state")).toBe("st");
    const code = back.searchParams.get("code") as string;
    expect(code).toBeTruthy();
    const redeem = (c: SSOOIDCClient, body: Record<string, string | undefined>) =>
      c.send(
        new CreateTokenCommand({
          grantType: "authorization_code",
          clientId: reg.clientId,
          clientSecret: reg.clientSecret,
          code,
          redirectUri,
          codeVerifier: verifier,
          ...body,
        }),
      );
    expect(await sdkError(w, (c) => redeem(c, { codeVerifier: `${verifier.slice(0, -1)}A` }))).toMatchObject({
      name: "InvalidGrantException",
      error: "invalid_grant",
      status: 400,
    });
    expect(await sdkError(w, (c) => redeem(c, { codeVerifier: "short" }))).toMatchObject({
      name: "InvalidRequestException",
    });
    expect(await sdkError(w, (c) => redeem(c, { redirectUri: "http://127.0.0.1:4243/oauth/callback" }))).toMatchObject({
      name: "InvalidGrantException",
    });
    expect(
      await sdkError(w, (c) => redeem(c, { clientId: other.clientId, clientSecret: other.clientSecret })),
    ).toMatchObject({ name: "InvalidGrantException" });
    expect(await sdkError(w, (c) => redeem(c, { clientSecret: "wrong" }))).toMatchObject({
      name: "InvalidClientException",
      status: 401,
    });
    expect(w.oidc.grants("authorization_code")).toBe(0);
    // The right verifier, redirect URI and client: tokens, with a refresh token for a scoped registration.
    const client = new SSOOIDCClient({ region: "us-east-1", endpoint: w.emu.url });
    const ok = await redeem(client, {});
    expect(ok.accessToken).toBeTruthy();
    expect(ok.refreshToken).toBeTruthy();
    expect(w.oidc.grants("authorization_code")).toBe(1);
    expect(w.oidc.sessionForAccessToken(ok.accessToken as string)?.startUrl).toBe("https://corp.awsapps.com/start");
    // Presented again: refused, and what it issued is revoked (RFC 6749 §4.1.2).
    expect(await sdkError(w, (c) => redeem(c, {}))).toMatchObject({ name: "InvalidGrantException" });
    expect(w.oidc.sessionForAccessToken(ok.accessToken as string)).toBeUndefined();
    client.destroy();
  });

  it("an expired code is ExpiredTokenException; faults and counters work on /authorize as on every operation", async () => {
    world = await ssoWorld({ sso: { authorizationCodeLifetimeSeconds: 60 } });
    const w = world;
    const reg = await registerAuthCode(w);
    const redirectUri = "http://127.0.0.1:4242/oauth/callback";
    const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const url = authorizeUrl(w, {
      response_type: "code",
      client_id: reg.clientId as string,
      redirect_uri: redirectUri,
      state: "st",
      code_challenge_method: "S256",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    });
    const page = await fetch(url);
    const id = /name="request" value="([0-9a-f]+)"/.exec(await page.text())?.[1] as string;
    const decided = await fetch(`${w.emu.url}/authorize`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ request: id, action: "allow" }),
    });
    const code = new URL(decided.headers.get("location") as string).searchParams.get("code") as string;
    w.emu.setClockOffset(61_000);
    expect(
      await sdkError(w, (c) =>
        c.send(
          new CreateTokenCommand({
            grantType: "authorization_code",
            clientId: reg.clientId,
            clientSecret: reg.clientSecret,
            code,
            redirectUri,
            codeVerifier: verifier,
          }),
        ),
      ),
    ).toMatchObject({ name: "ExpiredTokenException", error: "expired_token" });
    w.emu.setClockOffset(0);
    // A posted decision for a request already decided is refused with a page, not a second code.
    const again = await fetch(`${w.emu.url}/authorize`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ request: id, action: "allow" }),
    });
    expect(again.status).toBe(400);
    w.emu.fault("sso-oidc:Authorize", { error: { code: "InternalServerException", status: 500 }, times: 1 });
    const faulted = await fetch(url);
    expect(faulted.status).toBe(500);
    expect(faulted.headers.get("x-amzn-errortype")).toBe("InternalServerException");
    expect((await fetch(url)).status).toBe(200);
    expect(w.emu.calls("sso-oidc:Authorize")).toBe(3);
    expect(w.emu.calls("sso-oidc:AuthorizeDecision")).toBe(2);
  });
});

describe("deviceLogin still refuses an authorization-code registration it finds", () => {
  it("registers its own instead of using one the AWS CLI made for PKCE", async () => {
    world = await ssoWorld();
    const w = world;
    const cfg = await loadSsoConfig({ profile: "dev" });
    const path = registrationPath(w, cfg.startUrl, "corp", ["sso:account:access"]);
    mkdirSync(w.cacheDir, { recursive: true });
    writeFileSync(
      path,
      JSON.stringify({
        clientId: "from-the-aws-cli",
        clientSecret: "x",
        expiresAt: formatCacheTime(Date.now() + 86_400_000),
        scopes: ["sso:account:access"],
        grantTypes: ["authorization_code", "refresh_token"],
      }),
    );
    await deviceLogin({ config: cfg, onPrompt: (p) => void w.oidc.approve(p.userCode) });
    expect(w.emu.calls("sso-oidc:RegisterClient")).toBe(1);
    expect((JSON.parse(readFileSync(path, "utf8")) as { clientId: string }).clientId).not.toBe("from-the-aws-cli");
  });
});
