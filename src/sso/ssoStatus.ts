import { errorMessage } from "../errors.js";
import type { SourceStatusItem, SsoSessionEnd } from "../types.js";
import { isSharedMode } from "../util/secretFile.js";
import { parseCacheTime } from "./cache.js";
import { loginCommand } from "./config.js";
import { canRefresh } from "./session-end.js";
import type { ReadToken, SsoSession } from "./ssoSession.js";

/**
 * The facts `aws-refresh status` shows about an SSO session: profile, session, start URL, cache file and its mode,
 * the access token's expiry, whether it can be refreshed, the client registration's expiry, the predicted session end
 * and what it rests on, the role credentials' expiry, and a login waiting for approval — each problem with its fix.
 */
export async function ssoStatusFacts(
  s: SsoSession,
  predictEnd: () => Promise<SsoSessionEnd | undefined>,
): Promise<SourceStatusItem[]> {
  const login = loginCommand(s.config);
  const items: SourceStatusItem[] = [
    { key: "sso.profile", label: "SSO profile", value: s.config.profile ?? null },
    { key: "sso.session", label: "SSO session", value: s.config.sessionName ?? "(legacy profile)" },
    { key: "sso.startUrl", label: "SSO start URL", value: s.config.startUrl },
    { key: "sso.cacheFile", label: "SSO token cache file", value: s.tokenPath },
  ];
  let r: ReadToken | undefined;
  try {
    r = await s.read();
  } catch (err) {
    items.push({ key: "sso.cacheValid", label: "SSO token cache valid", value: false, problem: errorMessage(err) });
    return items;
  }
  const now = s.now();
  if (!r) {
    (items[3] as SourceStatusItem).problem = `No cached SSO token: run \`${login}\``;
    return items;
  }
  const mode = r.mode.toString(8).padStart(4, "0");
  items.push({
    key: "sso.cacheFileMode",
    label: "SSO token cache file mode",
    value: mode,
    ...(isSharedMode(r.mode)
      ? { problem: `The token cache file is mode ${mode}, readable by others; run \`chmod 600 ${s.tokenPath}\`` }
      : {}),
  });
  items.push({
    key: "sso.accessTokenExpiresAt",
    label: "SSO access token expires",
    value: new Date(r.expiresAt).toISOString(),
    ...(r.expiresAt <= now && !canRefresh(r.token, now)
      ? { problem: `The access token expired and cannot be refreshed: run \`${login}\`` }
      : {}),
  });
  items.push({
    key: "sso.refreshToken",
    label: "SSO refresh token present",
    value: r.token.refreshToken !== undefined,
  });
  if (r.token.registrationExpiresAt !== undefined) {
    items.push({
      key: "sso.registrationExpiresAt",
      label: "SSO client registration expires",
      value: new Date(parseCacheTime(r.token.registrationExpiresAt) as number).toISOString(),
    });
  }
  const end = await predictEnd();
  if (end) {
    items.push({
      key: "sso.sessionEndsAt",
      label: "SSO session ends (predicted)",
      value: end.at.toISOString(),
      ...(end.at.getTime() <= now ? { problem: `The SSO session has ended: run \`${login}\`` } : {}),
    });
    items.push({ key: "sso.sessionEndBasis", label: "SSO session end rests on", value: end.basis });
  }
  items.push({
    key: "sso.roleCredentialsExpireAt",
    label: "SSO role credentials expire",
    value: s.roleExpiration ? s.roleExpiration.toISOString() : null,
  });
  const p = s.login?.prompt;
  if (p) {
    items.push({
      key: "sso.loginPending",
      label: "SSO login waiting for approval",
      value: `${p.verificationUriComplete} (code ${p.userCode}, until ${p.expiresAt.toISOString()})`,
    });
  }
  return items;
}
