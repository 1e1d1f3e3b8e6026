/**
 * IAM Identity Center in a test: 8-second sessions with 2-second access tokens, and a user who approves each login
 * 300 ms after being told. A job running for 12 s spans two sessions: the token is refreshed in the background, a new
 * login is started before each session ends, and no call fails.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RefreshableSession } from "aws-refresh-session";
import { addSsoServices, startEmulator } from "aws-refresh-session/testing";

const emu = await startEmulator({ credentialLifetimeSeconds: 4 }); // role credentials
const { oidc } = addSsoServices(emu, { sessionDurationSeconds: 8, accessTokenLifetimeSeconds: 2 });
oidc.onDeviceAuthorization((a) => setTimeout(() => oidc.approve(a.userCode), 300)); // a user approving
process.env.AWS_ENDPOINT_URL = emu.url; // SSO-OIDC, the portal and STS

const dir = mkdtempSync(join(tmpdir(), "sso-job-"));
writeFileSync(
  join(dir, "config"),
  "[profile job]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = ReadOnlyAccess\n" +
    "region = us-east-1\n\n[sso-session corp]\nsso_start_url = https://acme.awsapps.com/start\n" +
    "sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
);
const session = new RefreshableSession({
  method: "sso",
  profile: "job",
  configFile: join(dir, "config"),
  cacheDir: join(dir, "sso-cache"),
  ssoSessionDurationMs: 8_000, // what the administrator set: the prediction rests on it
  loginBeforeMs: 3_000, // start the next login 3 s before the session ends
  warnBeforeMs: [4_000],
});
let logins = 0;
session.on("sso-login-completed", () => logins++);

let calls = 0;
const until = Date.now() + 12_000;
while (Date.now() < until) {
  await session.whoami(); // throws if a credential is ever missing or expired
  calls++;
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`${calls} calls, none failed; ${logins} logins; ${oidc.sessions().length} Identity Center sessions`);
console.log(`refresh tokens used twice: ${oidc.reusedRefreshTokens()}`);

session.close();
await emu.close();
