import { join } from "node:path";
import { RegisterClientCommand, type SSOOIDCClient } from "@aws-sdk/client-sso-oidc";
import type { Logger } from "@smithy/types";
import {
  formatCacheTime,
  parseCacheTime,
  readJsonFile,
  registrationCacheKey,
  writeJsonAtomic,
  type SsoRegistrationFile,
} from "./cache.js";
import { loginCommand, type SsoConfig } from "./config.js";
import { loginFailed } from "./loginFailed.js";
import { sdkErrorText } from "./oidc.js";

/** Scope a client registers with for an sso-session when `sso_registration_scopes` is not set: it gets refresh tokens. */
export const DEFAULT_SSO_REGISTRATION_SCOPES: readonly string[] = ["sso:account:access"];
/** The grants a client for the authorization-code flow registers for, as the AWS CLI v2 does. */
export const AUTHORIZATION_CODE_GRANT_TYPES: readonly string[] = ["authorization_code", "refresh_token"];
/** The redirect URI an authorization-code client registers: loopback, no port (any port is allowed, RFC 8252 §7.3). */
export const LOOPBACK_REDIRECT_URI = "http://127.0.0.1/oauth/callback";
/** A cached registration this close to expiry is replaced, as the AWS CLI does. */
const REGISTRATION_EXPIRY_WINDOW_MS = 15 * 60_000;

/** The scopes a device login registers with: `sso_registration_scopes`, else `sso:account:access` for an sso-session. */
export function registrationScopes(cfg: SsoConfig): string[] | undefined {
  if (cfg.registrationScopes !== undefined) return cfg.registrationScopes.length ? cfg.registrationScopes : undefined;
  return cfg.sessionName !== undefined ? [...DEFAULT_SSO_REGISTRATION_SCOPES] : undefined;
}

/** Which flow a client registration is for. */
export type RegistrationGrant =
  { kind: "device" } | { kind: "authorization_code"; redirectUri: string; issuerUrl: string };

/**
 * Whether a cached registration was made for the authorization-code grant, by botocore's rule: its `grantTypes` (which
 * only such registrations record) holds `authorization_code`. Anything else is a device-flow registration.
 */
function forAuthorizationCode(v: Record<string, unknown>): boolean {
  return Array.isArray(v.grantTypes) && v.grantTypes.includes("authorization_code");
}

/**
 * The SSO-OIDC client registration of a login, from the cache the AWS CLI v2 shares (same file name, same content),
 * or a new RegisterClient when there is none, it expires within 15 minutes, or it was made for the other grant: a
 * device-flow registration is never used for the authorization-code flow, nor the reverse, as the AWS CLI decides.
 * Both flows share the file name, so the last login's flow owns it.
 */
export async function clientRegistration(
  client: SSOOIDCClient,
  cfg: SsoConfig,
  options: {
    dir: string;
    now: number;
    logger: Logger | undefined;
    grant: RegistrationGrant;
    signal?: AbortSignal;
    /** Register anew even when a cached registration looks usable (the service refused it). */
    fresh?: boolean;
  },
): Promise<SsoRegistrationFile> {
  const { dir, now, logger, grant } = options;
  const authCode = grant.kind === "authorization_code";
  // The cache key is botocore's: the device flow's scopes as this library has always registered them; for the
  // authorization-code flow the configured scopes as they are (none → null), as the AWS CLI's SSOTokenFetcherAuth.
  const keyScopes = authCode ? cfg.registrationScopes : registrationScopes(cfg);
  const path = join(
    dir,
    `${registrationCacheKey({ startUrl: cfg.startUrl, region: cfg.ssoRegion, scopes: keyScopes, sessionName: cfg.sessionName })}.json`,
  );
  try {
    if (options.fresh) throw new Error("a new registration was asked for");
    const cached = await readJsonFile(path, { profile: cfg.profile, fix: loginCommand(cfg) });
    const v = cached?.value;
    const exp = parseCacheTime(v?.expiresAt);
    if (
      v &&
      typeof v.clientId === "string" &&
      typeof v.clientSecret === "string" &&
      exp !== undefined &&
      exp - now > REGISTRATION_EXPIRY_WINDOW_MS &&
      forAuthorizationCode(v) === authCode
    ) {
      logger?.debug(`aws-refresh-session: reusing the cached SSO client registration ${path}`);
      return v as SsoRegistrationFile;
    }
  } catch {
    // A corrupt registration is simply replaced.
  }
  const clientName = `aws-refresh-session-${cfg.sessionName ?? Math.floor(now / 1000)}`;
  const scopes = authCode
    ? cfg.registrationScopes?.length
      ? cfg.registrationScopes
      : [...DEFAULT_SSO_REGISTRATION_SCOPES]
    : registrationScopes(cfg);
  let out;
  try {
    out = await client.send(
      new RegisterClientCommand({
        clientName,
        clientType: "public",
        ...(scopes ? { scopes } : {}),
        ...(grant.kind === "authorization_code"
          ? {
              grantTypes: [...AUTHORIZATION_CODE_GRANT_TYPES],
              redirectUris: [grant.redirectUri],
              issuerUrl: grant.issuerUrl,
            }
          : {}),
      }),
      options.signal ? { abortSignal: options.signal } : {},
    );
  } catch (err) {
    throw loginFailed(cfg, `SSO-OIDC RegisterClient failed (${sdkErrorText(err)})`, err);
  }
  if (!out.clientId || !out.clientSecret || typeof out.clientSecretExpiresAt !== "number") {
    throw loginFailed(cfg, "SSO-OIDC RegisterClient answered without clientId, clientSecret or clientSecretExpiresAt");
  }
  const reg: SsoRegistrationFile = {
    clientId: out.clientId,
    clientSecret: out.clientSecret,
    expiresAt: formatCacheTime(out.clientSecretExpiresAt * 1000),
    ...(scopes ? { scopes } : {}),
    // botocore records the grants of authorization-code registrations only; their absence means the device flow.
    ...(authCode ? { grantTypes: [...AUTHORIZATION_CODE_GRANT_TYPES] } : {}),
  };
  try {
    await writeJsonAtomic(path, reg);
  } catch (err) {
    // Not fatal: the registration works; the next login registers again.
    logger?.warn(`aws-refresh-session: could not cache the SSO client registration in ${path}: ${String(err)}`);
  }
  return reg;
}
