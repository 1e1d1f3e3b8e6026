import { setTimeout as delay } from "node:timers/promises";
import { CreateTokenCommand, StartDeviceAuthorizationCommand } from "@aws-sdk/client-sso-oidc";
import type { Logger } from "@smithy/types";
import type { Clock } from "../types.js";
import { defaultSsoCacheDir } from "./cache.js";
import type { SsoConfig } from "./config.js";
import { loginAborted, loginFailed } from "./loginFailed.js";
import { saveLoginToken, type SsoLoginResult } from "./loginToken.js";
import { createOidcClient, refusalKind, sdkErrorText, type SsoOidcClientConfig } from "./oidc.js";
import { clientRegistration } from "./registration.js";

export { DEFAULT_SSO_REGISTRATION_SCOPES, registrationScopes } from "./registration.js";
export { tokenPathFor } from "./loginToken.js";
/** Polling interval when StartDeviceAuthorization names none (RFC 8628). */
export const DEFAULT_DEVICE_POLL_INTERVAL_SECONDS = 5;
/** Added to the polling interval on every `slow_down` (RFC 8628). */
export const SLOW_DOWN_SECONDS = 5;
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

/** What a device login produced. */
export type DeviceLoginResult = SsoLoginResult;

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
    let reg = await clientRegistration(client, cfg, {
      dir,
      now: clock.now(),
      logger: options.logger,
      grant: { kind: "device" },
    });
    let registeredAnew = false;
    const attempts = Math.max(1, options.attempts ?? 1);
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw loginAborted(cfg, signal);
      let auth;
      try {
        auth = await client.send(
          new StartDeviceAuthorizationCommand({
            clientId: reg.clientId,
            clientSecret: reg.clientSecret,
            startUrl: cfg.startUrl,
          }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (err) {
        if (signal?.aborted) throw loginAborted(cfg, signal);
        if (refusalKind(err) === "client" && !registeredAnew) {
          // A cached client registration the service no longer knows (deleted, rotated): register again at once,
          // rather than failing every try with it until the login times out with no URL shown.
          options.logger?.warn(
            `aws-refresh-session: IAM Identity Center refused the cached client registration (${sdkErrorText(err)}); registering again`,
          );
          reg = await clientRegistration(client, cfg, {
            dir,
            now: clock.now(),
            logger: options.logger,
            grant: { kind: "device" },
            fresh: true,
          });
          registeredAnew = true;
          attempt--;
          continue;
        }
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
            signal ? { abortSignal: signal } : {},
          );
        } catch (err) {
          if (signal?.aborted) throw loginAborted(cfg, signal);
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
            throw loginAborted(cfg, signal as AbortSignal);
          }
          continue;
        }
        if (!out.accessToken || typeof out.expiresIn !== "number") {
          throw loginFailed(cfg, "CreateToken answered without accessToken or expiresIn");
        }
        return await saveLoginToken(
          cfg,
          reg,
          { accessToken: out.accessToken, expiresIn: out.expiresIn, refreshToken: out.refreshToken },
          {
            dir,
            loginAt: clock.now(),
            ...(options.logger ? { logger: options.logger } : {}),
            ...(options.onTokenIssued ? { onTokenIssued: options.onTokenIssued } : {}),
          },
        );
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
