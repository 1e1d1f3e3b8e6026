import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  CreateTokenCommand,
  RegisterClientCommand,
  StartDeviceAuthorizationCommand,
  type SSOOIDCClient,
} from "@aws-sdk/client-sso-oidc";
import type { Logger } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";
import type { Clock } from "../refresh/refreshable.js";
import {
  defaultSsoCacheDir,
  fingerprint,
  formatCacheTime,
  metaPathFor,
  parseCacheTime,
  readJsonFile,
  readMeta,
  registrationCacheKey,
  tokenCacheKey,
  withCacheLock,
  writeJsonAtomic,
  type SsoRegistrationFile,
  type SsoTokenFile,
} from "./cache.js";
import { describeSsoConfig, loginCommand, type SsoConfig } from "./config.js";
import { createOidcClient, sdkErrorText, type SsoOidcClientConfig } from "./oidc.js";

/** Scope a client registers with for an sso-session when `sso_registration_scopes` is not set: it gets refresh tokens. */
export const DEFAULT_SSO_REGISTRATION_SCOPES: readonly string[] = ["sso:account:access"];
/** Polling interval when StartDeviceAuthorization names none (RFC 8628). */
export const DEFAULT_DEVICE_POLL_INTERVAL_SECONDS = 5;
/** Added to the polling interval on every `slow_down` (RFC 8628). */
export const SLOW_DOWN_SECONDS = 5;
/** A cached registration this close to expiry is replaced, as the AWS CLI does. */
const REGISTRATION_EXPIRY_WINDOW_MS = 15 * 60_000;
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** What the user must do to approve a device login. Holds no secret. */
export interface DeviceAuthorizationPrompt {
  verificationUri: string;
  verificationUriComplete: string;
  userCode: string;
  expiresAt: Date;
}

/** Options of {@link deviceLogin}. */
export interface DeviceLoginOptions {
  config: SsoConfig;
  /** Default `~/.aws/sso/cache`. */
  cacheDir?: string;
  oidcClientConfig?: SsoOidcClientConfig;
  /** Called once per device code, before polling: show or send the URL and code. */
  onPrompt: (prompt: DeviceAuthorizationPrompt) => void | Promise<void>;
  /** Abort the login (e.g. another tool logged in meanwhile). */
  signal?: AbortSignal;
  clock?: Clock;
  logger?: Logger;
  /** Whether the polling timers keep the process alive (a CLI: yes; a background login: no). Default true. */
  keepAlive?: boolean;
  /** Device codes to try before giving up when each expires unapproved. Default 1. */
  attempts?: number;
  /** Called with the new access token's fingerprint (never the token) just before it is written to the cache. */
  onTokenIssued?: (fingerprint: string) => void;
}

/** What a login produced. */
export interface DeviceLoginResult {
  /** The token cache file written. */
  path: string;
  /** When the login completed (the new Identity Center session's start, as far as we can know). */
  loginAt: Date;
  accessTokenExpiresAt: Date;
  refreshable: boolean;
}

/** The scopes a login registers with: `sso_registration_scopes`, else `sso:account:access` for an sso-session. */
export function registrationScopes(cfg: SsoConfig): string[] | undefined {
  if (cfg.registrationScopes !== undefined) return cfg.registrationScopes.length ? cfg.registrationScopes : undefined;
  return cfg.sessionName !== undefined ? [...DEFAULT_SSO_REGISTRATION_SCOPES] : undefined;
}

/** Path of the token cache file of a config. */
export function tokenPathFor(cfg: Pick<SsoConfig, "startUrl" | "sessionName">, cacheDir?: string): string {
  return join(cacheDir ?? defaultSsoCacheDir(), `${tokenCacheKey(cfg.startUrl, cfg.sessionName)}.json`);
}

function loginFailed(cfg: SsoConfig, what: string, cause?: unknown): RefreshSessionError {
  return new RefreshSessionError(
    "SSO_LOGIN_FAILED",
    `IAM Identity Center login for ${describeSsoConfig(cfg)} failed: ${what}. Run \`${loginCommand(cfg)}\` to try again.`,
    { profile: cfg.profile, cause },
  );
}

async function registration(
  client: SSOOIDCClient,
  cfg: SsoConfig,
  dir: string,
  now: number,
  logger: Logger | undefined,
): Promise<SsoRegistrationFile> {
  const scopes = registrationScopes(cfg);
  const path = join(
    dir,
    `${registrationCacheKey({ startUrl: cfg.startUrl, region: cfg.ssoRegion, scopes, sessionName: cfg.sessionName })}.json`,
  );
  try {
    const cached = await readJsonFile(path, { profile: cfg.profile, fix: loginCommand(cfg) });
    const v = cached?.value;
    const exp = parseCacheTime(v?.expiresAt);
    const forAuthCode = Array.isArray(v?.grantTypes) && !(v.grantTypes as unknown[]).includes(DEVICE_GRANT);
    if (
      v &&
      typeof v.clientId === "string" &&
      typeof v.clientSecret === "string" &&
      exp !== undefined &&
      exp - now > REGISTRATION_EXPIRY_WINDOW_MS &&
      !forAuthCode
    ) {
      logger?.debug(`aws-refresh-session: reusing the cached SSO client registration ${path}`);
      return v as SsoRegistrationFile;
    }
  } catch {
    // A corrupt registration is simply replaced.
  }
  const clientName = `aws-refresh-session-${cfg.sessionName ?? Math.floor(now / 1000)}`;
  let out;
  try {
    out = await client.send(
      new RegisterClientCommand({ clientName, clientType: "public", ...(scopes ? { scopes } : {}) }),
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
  };
  try {
    await writeJsonAtomic(path, reg);
  } catch (err) {
    // Not fatal: the registration works; the next login registers again.
    logger?.warn(`aws-refresh-session: could not cache the SSO client registration in ${path}: ${String(err)}`);
  }
  return reg;
}

function abortedError(cfg: SsoConfig, signal: AbortSignal): RefreshSessionError {
  return loginFailed(cfg, `cancelled (${String(signal.reason ?? "aborted")})`);
}

/**
 * The OAuth 2.0 device authorization flow against IAM Identity Center, as `aws sso login --use-device-code` does it:
 * the client registration is cached and reused (same file name as the AWS CLI v2), StartDeviceAuthorization, then
 * CreateToken polling that honours `interval`, `slow_down`, `authorization_pending` and the code's expiry. The token
 * is written to the shared cache atomically under the cache lock, and the login time is recorded beside it.
 *
 * @example
 * ```ts
 * const cfg = await loadSsoConfig({ profile: "dev" });
 * await deviceLogin({ config: cfg, onPrompt: (p) => console.log(`Open ${p.verificationUriComplete} (code ${p.userCode})`) });
 * ```
 */
export async function deviceLogin(options: DeviceLoginOptions): Promise<DeviceLoginResult> {
  const cfg = options.config;
  const clock = options.clock ?? Date;
  const dir = options.cacheDir ?? defaultSsoCacheDir();
  const keepAlive = options.keepAlive ?? true;
  const signal = options.signal;
  const client = createOidcClient(cfg.ssoRegion, options.oidcClientConfig, options.logger);
  try {
    const reg = await registration(client, cfg, dir, clock.now(), options.logger);
    const attempts = Math.max(1, options.attempts ?? 1);
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw abortedError(cfg, signal);
      let auth;
      try {
        auth = await client.send(
          new StartDeviceAuthorizationCommand({
            clientId: reg.clientId,
            clientSecret: reg.clientSecret,
            startUrl: cfg.startUrl,
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        if (signal?.aborted) throw abortedError(cfg, signal);
        throw loginFailed(cfg, `SSO-OIDC StartDeviceAuthorization failed (${sdkErrorText(err)})`, err);
      }
      if (!auth.deviceCode || !auth.userCode || !auth.verificationUri || typeof auth.expiresIn !== "number") {
        throw loginFailed(cfg, "StartDeviceAuthorization answered without deviceCode, userCode or verificationUri");
      }
      const deadline = clock.now() + auth.expiresIn * 1000;
      let intervalS = auth.interval && auth.interval > 0 ? auth.interval : DEFAULT_DEVICE_POLL_INTERVAL_SECONDS;
      let prompted = false;
      for (;;) {
        let out;
        try {
          out = await client.send(
            new CreateTokenCommand({
              grantType: DEVICE_GRANT,
              clientId: reg.clientId,
              clientSecret: reg.clientSecret,
              deviceCode: auth.deviceCode,
            }),
            { abortSignal: signal },
          );
        } catch (err) {
          if (signal?.aborted) throw abortedError(cfg, signal);
          const name = (err as { name?: string }).name;
          if (name === "SlowDownException") intervalS += SLOW_DOWN_SECONDS;
          else if (name === "ExpiredTokenException") break;
          else if (name === "AccessDeniedException")
            throw loginFailed(cfg, "the request was denied on the portal", err);
          else if (name !== "AuthorizationPendingException") {
            throw loginFailed(cfg, `SSO-OIDC CreateToken failed (${sdkErrorText(err)})`, err);
          }
          // The first attempt runs before the prompt: a pre-authorised client needs no user at all.
          if (!prompted) {
            prompted = true;
            await options.onPrompt({
              verificationUri: auth.verificationUri,
              verificationUriComplete: auth.verificationUriComplete ?? auth.verificationUri,
              userCode: auth.userCode,
              expiresAt: new Date(deadline),
            });
          }
          if (clock.now() > deadline + intervalS * 1000) break; // the server should have said ExpiredToken by now
          try {
            await delay(intervalS * 1000, undefined, { signal, ref: keepAlive });
          } catch {
            throw abortedError(cfg, signal as AbortSignal);
          }
          continue;
        }
        if (!out.accessToken || typeof out.expiresIn !== "number") {
          throw loginFailed(cfg, "CreateToken answered without accessToken or expiresIn");
        }
        const loginAt = clock.now();
        const token: SsoTokenFile = {
          startUrl: cfg.startUrl,
          region: cfg.ssoRegion,
          accessToken: out.accessToken,
          expiresAt: formatCacheTime(loginAt + out.expiresIn * 1000),
          clientId: reg.clientId,
          clientSecret: reg.clientSecret,
          registrationExpiresAt: reg.expiresAt,
          ...(out.refreshToken ? { refreshToken: out.refreshToken } : {}),
        };
        const path = tokenPathFor(cfg, dir);
        options.onTokenIssued?.(fingerprint(token.accessToken));
        try {
          await withCacheLock(
            path,
            async () => {
              await writeJsonAtomic(path, token);
              const meta = await readMeta(metaPathFor(path));
              await writeJsonAtomic(metaPathFor(path), {
                version: 1,
                startUrl: cfg.startUrl,
                ...(cfg.sessionName !== undefined ? { sessionName: cfg.sessionName } : {}),
                loginAt: formatCacheTime(loginAt),
                tokenFingerprint: fingerprint(token.accessToken),
                // What was learned about the session duration still holds for the next session.
                ...(meta.learnedDurationSeconds !== undefined
                  ? { learnedDurationSeconds: meta.learnedDurationSeconds, learnedAt: meta.learnedAt }
                  : {}),
              });
            },
            { logger: options.logger },
          );
        } catch (err) {
          throw loginFailed(
            cfg,
            `the login was approved but the token could not be written to ${path} (${(err as Error).message})`,
            err,
          );
        }
        return {
          path,
          loginAt: new Date(Math.floor(loginAt / 1000) * 1000),
          accessTokenExpiresAt: new Date(parseCacheTime(token.expiresAt) as number),
          refreshable: token.refreshToken !== undefined,
        };
      }
      if (attempt >= attempts) {
        throw loginFailed(cfg, `the code ${auth.userCode} expired before anyone approved it`);
      }
      options.logger?.info(`aws-refresh-session: the SSO login code expired unapproved; starting a new one`);
    }
  } finally {
    client.destroy();
  }
}
