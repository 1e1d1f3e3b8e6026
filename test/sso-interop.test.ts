import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync, utimesSync, writeFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import { formatCacheTime } from "../src/sso/cache.js";
import { loadSsoConfig } from "../src/sso/config.js";
import { tokenPathFor } from "../src/sso/login.js";
import { SsoTokenManager } from "../src/sso/manager.js";
import { interopAvailable } from "./helpers/interop.js";
import { ssoWorld, type SsoWorld } from "./helpers/sso.js";

let world: SsoWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const boto = interopAvailable("boto3");
const cli = interopAvailable("aws-cli");

const exec = promisify(execFile);

/** Runs Python asynchronously: the emulator answering it lives in this process. */
async function python(w: SsoWorld, code: string): Promise<Record<string, unknown>> {
  const out = await exec("python3", ["-c", code], { env: w.env, encoding: "utf8", timeout: 60_000 });
  return JSON.parse(out.stdout.trim().split("\n").at(-1) as string) as Record<string, unknown>;
}

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

async function manager(w: SsoWorld): Promise<SsoTokenManager> {
  return new SsoTokenManager(await loadSsoConfig({ profile: "dev" }), {
    cacheDir: w.cacheDir,
    clock: Date,
    logger: undefined,
    statedDuration: undefined,
    notify: undefined,
    loginTimeoutMs: 0,
    warnBeforeMs: [],
    loginBeforeMs: 0,
    autoLogin: false,
    tokenRefresh: undefined,
    oidcClientConfig: undefined,
    lockStaleMs: undefined,
    interactive: false,
    env: process.env,
  });
}

describe.skipIf(!boto.ok)("SSO cache shared with botocore (boto3 as a second client)", () => {
  it("botocore reads the token we wrote, in its own format, and gets role credentials the emulator accepts", async () => {
    world = await ssoWorld({ emulator: { credentialLifetimeSeconds: 3600 } });
    const w = world;
    await w.login();
    const file = JSON.parse(readFileSync(tokenPathFor(await loadSsoConfig({ profile: "dev" })), "utf8")) as Record<
      string,
      unknown
    >;
    expect(Object.keys(file).sort()).toEqual(BOTOCORE_TOKEN_FIELDS);
    expect(file.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const got = await python(
      w,
      `import boto3, json
s = boto3.Session(profile_name="dev")
print(json.dumps({"arn": s.client("sts").get_caller_identity()["Arn"], "region": s.region_name}))`,
    );
    expect(got.arn).toContain("assumed-role/AWSReservedSSO_ReadOnlyAccess_");
    expect(got.region).toBe("eu-west-1");
    // Our token had an hour left: botocore used it as it was.
    expect(w.oidc.grants("refresh_token")).toBe(0);
    expect(w.emu.calls("sso:GetRoleCredentials")).toBe(1);
  });

  it("a running session picks up the token botocore refreshed, without a CreateToken of its own", async () => {
    // Ten-minute tokens: botocore refreshes anything with less than 15 minutes left.
    world = await ssoWorld({ sso: { accessTokenLifetimeSeconds: 600 } });
    const w = world;
    await w.login();
    const m = await manager(w);
    try {
      const ours = await m.engine();
      const path = m.tokenPath;
      await python(
        w,
        `import boto3, json
s = boto3.Session(profile_name="dev")
print(json.dumps({"arn": s.client("sts").get_caller_identity()["Arn"]}))`,
      );
      expect(w.oidc.grants("refresh_token")).toBe(1); // botocore's
      const written = JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
      expect(written.accessToken).not.toBe(ours.secretAccessKey);
      expect(Object.keys(written).sort()).toEqual(BOTOCORE_TOKEN_FIELDS);
      // Our next refresh reads the cache first and finds botocore's fresh token.
      const picked = await m.engine.refresh();
      expect(picked.secretAccessKey).toBe(written.accessToken);
      expect(w.oidc.grants("refresh_token")).toBe(1);
      const end = await m.predictEnd();
      expect(end?.kind).toBe("login");
      expect(end?.basis).toContain("rewritten by another tool");
    } finally {
      m.close();
    }
  });

  it("our refresh keeps every field another tool wrote, and botocore reads the result", async () => {
    world = await ssoWorld({ sso: { accessTokenLifetimeSeconds: 3600 } });
    const w = world;
    await w.login();
    const path = tokenPathFor(await loadSsoConfig({ profile: "dev" }));
    const before = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    // Another tool's extra fields, and a token issued an hour ago with 30 s left, so we refresh it.
    writeFileSync(
      path,
      JSON.stringify({ ...before, otherTool: { keep: true }, expiresAt: formatCacheTime(Date.now() + 30_000) }),
    );
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(path, anHourAgo, anHourAgo);
    const session = new RefreshableSession({ method: "sso", profile: "dev" });
    try {
      await session.getCredentials();
      expect(w.oidc.grants("refresh_token")).toBe(1);
      const after = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
      expect(after.otherTool).toEqual({ keep: true });
      expect(after.accessToken).not.toBe(before.accessToken);
      expect(after.clientId).toBe(before.clientId);
      const got = await python(
        w,
        `import boto3, json
print(json.dumps({"arn": boto3.Session(profile_name="dev").client("sts").get_caller_identity()["Arn"]}))`,
      );
      expect(got.arn).toContain("AWSReservedSSO_ReadOnlyAccess_");
      expect(w.oidc.grants("refresh_token")).toBe(1);
    } finally {
      session.close();
    }
  });

  it("botocore's SSO clients speak the emulator's SSO-OIDC and portal protocol, errors included", async () => {
    world = await ssoWorld();
    const w = world;
    await w.login();
    const token = (
      JSON.parse(readFileSync(tokenPathFor(await loadSsoConfig({ profile: "dev" })), "utf8")) as {
        accessToken: string;
      }
    ).accessToken;
    const got = await python(
      w,
      `import boto3, json, botocore
oidc = boto3.client("sso-oidc", region_name="us-east-1")
reg = oidc.register_client(clientName="py", clientType="public", scopes=["sso:account:access"])
auth = oidc.start_device_authorization(clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl="https://corp.awsapps.com/start")
out = {"interval": auth["interval"], "userCode": auth["userCode"]}
try:
    oidc.create_token(clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType="urn:ietf:params:oauth:grant-type:device_code", deviceCode=auth["deviceCode"])
except oidc.exceptions.AuthorizationPendingException as e:
    out["pending"] = e.response["error"]
try:
    oidc.create_token(clientId=reg["clientId"], clientSecret="wrong", grantType="refresh_token", refreshToken="x")
except oidc.exceptions.InvalidClientException as e:
    out["invalidClient"] = e.response["ResponseMetadata"]["HTTPStatusCode"]
sso = boto3.client("sso", region_name="us-east-1")
out["accounts"] = [a["accountId"] for a in sso.list_accounts(accessToken=${JSON.stringify(token)})["accountList"]]
out["roles"] = sorted(r["roleName"] for r in sso.list_account_roles(accessToken=${JSON.stringify(token)}, accountId="123456789012")["roleList"])
try:
    sso.get_role_credentials(accessToken="not-a-token", accountId="123456789012", roleName="ReadOnlyAccess")
except sso.exceptions.UnauthorizedException as e:
    out["unauthorized"] = e.response["ResponseMetadata"]["HTTPStatusCode"]
print(json.dumps(out))`,
    );
    expect(got).toMatchObject({
      interval: 1,
      pending: "authorization_pending",
      invalidClient: 401,
      accounts: ["123456789012"],
      roles: ["AdministratorAccess", "ReadOnlyAccess"],
      unauthorized: 401,
    });
    expect(got.userCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
  });
});

describe.skipIf(!cli.ok)("SSO cache shared with the AWS CLI", () => {
  it("the AWS CLI signs with role credentials from the token we cached", async () => {
    world = await ssoWorld();
    const w = world;
    await w.login();
    const out = await exec("aws", ["sts", "get-caller-identity", "--profile", "dev", "--output", "json"], {
      env: w.env,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect((JSON.parse(out.stdout) as { Arn: string }).Arn).toContain("AWSReservedSSO_ReadOnlyAccess_");
  });
});
