import { GetRoleCredentialsCommand, SSOClient, type SSOClientConfig } from "@aws-sdk/client-sso";
import type { AwsCredentialIdentity, Logger } from "@smithy/types";
import type { LoadedAwsConfig } from "../config/awsConfig.js";
import { RefreshSessionError, errorMessage } from "../errors.js";
import type { ClientPlugin } from "../middleware/clientPlugin.js";
import type { RefreshableOptions } from "../refresh/types.js";
import type { Clock, CredentialSource, SessionEnd, SourceEmitter, SourceStatusItem } from "../types.js";
import { describeSsoConfig, loadSsoConfig, requireRole, resolveProfileName, type SsoConfig } from "../sso/config.js";
import { SsoTokenManager } from "../sso/manager.js";
import { validateNotify, type SsoNotify } from "../sso/notify.js";
import { sdkErrorText, type SsoOidcClientConfig } from "../sso/oidc.js";
import { DEFAULT_SOURCE_TIMEOUT_MS } from "../refresh/options.js";
import { createSdkClient } from "../util/sdkClient.js";
import { checkMs } from "../util/checkMs.js";

/** How long callers wait for a login once no valid role credential is left: 10 minutes (a device code's life). */
export const DEFAULT_SSO_LOGIN_TIMEOUT_MS = 10 * 60_000;
/** Lead times of the `sso-session-ending` warnings: 1 hour and 10 minutes before the predicted end. */
export const DEFAULT_SSO_WARN_BEFORE_MS: readonly number[] = [3_600_000, 600_000];
/** A background login starts this long before the predicted session end: 10 minutes. */
export const DEFAULT_SSO_LOGIN_BEFORE_MS = 10 * 60_000;

/**
 * A role credential with less than this left no longer spares callers the wait for a login. At least the engine's
 * fail-fast window after a failed refresh (1 s), so callers arriving just after the expiry wait rather than fail.
 */
const ROLE_WAIT_MARGIN_MS = 2_000;

/** Options of {@link fromSso} (and of `new RefreshableSession({ method: "sso", … })`). */
export interface SsoInit {
  /** The profile in the AWS config file. Default: `AWS_PROFILE`, else `default`. */
  profile?: string;
  /**
   * The IAM Identity Center session duration your administrator set, in ms (AWS does not publish it). Default: the
   * `aws_refresh_sso_session_duration` config key, else what was learned from a refused refresh, else 8 h.
   */
  ssoSessionDurationMs?: number;
  /**
   * Told when a login is needed (URL, code, deadline; never a token): a shell command string, an argv array (no
   * shell) or a function. Default: none; the URL and code go to `logger.warn`, the `sso-login-required` event and
   * the `SSO_LOGIN_REQUIRED` error callers get (the library never writes to stderr itself).
   */
  notify?: SsoNotify;
  /** How long callers wait for a login once no valid role credential is left. Default 600000 (10 min). */
  loginTimeoutMs?: number;
  /** When to emit `sso-session-ending`, in ms before the predicted end. Default [3600000, 600000] (1 h, 10 min). */
  warnBeforeMs?: number[];
  /** Start the background login this long before the predicted end. Default 600000 (10 min). */
  loginBeforeMs?: number;
  /** Start a login by itself when one is needed. Default true. */
  autoLogin?: boolean;
  /**
   * A person is at this machine (the CLI sets it for `exec` and `serve` on a terminal without `--notify`): a needed
   * login opens the browser on the approval page (authorization code with PKCE, as `aws sso login`) when a browser can
   * be opened, falling back to the device flow. Default false: the device flow, whose URL and code can be approved
   * from any device (a notify hook, a phone).
   */
  interactiveLogin?: boolean;
  /** The AWS config file. Default: `AWS_CONFIG_FILE`, else `~/.aws/config`. */
  configFile?: string;
  /** The config files already read (`loadAwsConfig()`): used instead of reading them. */
  config?: LoadedAwsConfig;
  /** The SSO token cache directory. Default `~/.aws/sso/cache`. */
  cacheDir?: string;
  /** Engine options of the SSO access token's own refresh (windows, jitter, retry). Default: the engine's. */
  tokenRefresh?: Omit<RefreshableOptions, "logger" | "clock" | "name">;
  /** Config of the SSO-OIDC client (endpoint…). Default: the SDK's, honouring `AWS_ENDPOINT_URL_SSO_OIDC`. */
  oidcClientConfig?: SsoOidcClientConfig;
  /** Config of the SSO portal client (endpoint…). Default: the SDK's, honouring `AWS_ENDPOINT_URL_SSO`. */
  ssoClientConfig?: Omit<SSOClientConfig, "region" | "credentials">;
  /** SDK plugins applied to the SSO portal client (a session adds its clock-skew observer). */
  clientPlugins?: ClientPlugin[];
  /** A cache lock not touched for this long is taken over (its holder died). Default 5000. */
  lockStaleMs?: number;
  /** Environment for `AWS_PROFILE` / `AWS_CONFIG_FILE`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Default: silent. */
  logger?: Logger;
  /** Default `Date`. */
  clock?: Clock;
}

/** What {@link fromSso} returns: a credential source with the SSO session's own facts attached. */
export type SsoSource = CredentialSource & {
  /** The profile name in use. */
  readonly profile: string;
  /** Predicted end of the Identity Center session and what it rests on. */
  validUntil(): Promise<SessionEnd | undefined>;
  /** Facts for `aws-refresh status`: token expiry, session end, cache file mode, refresh token… */
  status(): Promise<SourceStatusItem[]>;
  /** Receives `sso-session-ending`, `sso-login-required` and `sso-login-completed` events. */
  bindEmitter(emit: SourceEmitter): void;
  /** Stops every timer and any background login. */
  close(): void;
};

/** Validates {@link SsoInit}; throws TypeError/RangeError naming the option. */
export function validateSsoInit(init: SsoInit): void {
  if (init === null || typeof init !== "object") throw new TypeError("`options` must be an object");
  for (const k of ["profile", "configFile", "cacheDir"] as const) {
    if (init[k] !== undefined && (typeof init[k] !== "string" || init[k] === "")) {
      throw new TypeError(`\`${k}\` must be a non-empty string`);
    }
  }
  checkMs("ssoSessionDurationMs", init.ssoSessionDurationMs, 1_000);
  checkMs("loginTimeoutMs", init.loginTimeoutMs);
  checkMs("loginBeforeMs", init.loginBeforeMs);
  checkMs("lockStaleMs", init.lockStaleMs, 2_000);
  if (init.warnBeforeMs !== undefined) {
    if (!Array.isArray(init.warnBeforeMs)) throw new TypeError("`warnBeforeMs` must be an array of milliseconds");
    init.warnBeforeMs.forEach((v, i) => checkMs(`warnBeforeMs[${i}]`, v));
  }
  if (init.autoLogin !== undefined && typeof init.autoLogin !== "boolean") {
    throw new TypeError("`autoLogin` must be a boolean");
  }
  if (init.interactiveLogin !== undefined && typeof init.interactiveLogin !== "boolean") {
    throw new TypeError("`interactiveLogin` must be a boolean");
  }
  validateNotify(init.notify);
  if (init.clock !== undefined && typeof init.clock?.now !== "function") {
    throw new TypeError("`clock` must be an object with a `now()` method");
  }
}

/**
 * IAM Identity Center (SSO) role credentials for a profile of the AWS config file (`sso_session` profiles and legacy
 * ones), with the SSO access token refreshed in the background by its own engine (CreateToken, refresh_token grant),
 * written back to `~/.aws/sso/cache` atomically under a cross-process lock, in the AWS CLI v2's format. It predicts
 * the session's end, warns before it, and re-logs-in headlessly (device authorization + your notify hook) while the
 * role credentials still work.
 *
 * @example
 * ```ts
 * import { refreshable, fromSso } from "aws-refresh-session";
 * const credentials = refreshable(fromSso({ profile: "dev", notify: ["ntfy", "publish", "aws-login"] }));
 * ```
 */
export function fromSso(init: SsoInit = {}): SsoSource {
  validateSsoInit(init);
  const env = init.env ?? process.env;
  const profile = resolveProfileName(init.profile, env);
  const clock = init.clock ?? Date;
  const name = `sso:${profile}`;
  let loading: Promise<{ cfg: SsoConfig; manager: SsoTokenManager; portal: SSOClient }> | undefined;
  let emit: SourceEmitter = () => {};
  let closed = false;
  let current: { manager: SsoTokenManager; portal: SSOClient } | undefined;

  const load = (): Promise<{ cfg: SsoConfig; manager: SsoTokenManager; portal: SSOClient }> => {
    loading ??= (async () => {
      const cfg = await loadSsoConfig({
        profile,
        ...(init.configFile ? { configFile: init.configFile } : {}),
        ...(init.config ? { config: init.config } : {}),
        env,
      });
      const stated =
        init.ssoSessionDurationMs !== undefined
          ? { ms: init.ssoSessionDurationMs, source: "option" as const }
          : cfg.sessionDurationMs !== undefined
            ? { ms: cfg.sessionDurationMs, source: "config" as const }
            : undefined;
      const manager = new SsoTokenManager(cfg, {
        cacheDir: init.cacheDir,
        clock,
        logger: init.logger,
        statedDuration: stated,
        notify: init.notify,
        loginTimeoutMs: init.loginTimeoutMs ?? DEFAULT_SSO_LOGIN_TIMEOUT_MS,
        warnBeforeMs: init.warnBeforeMs ?? [...DEFAULT_SSO_WARN_BEFORE_MS],
        loginBeforeMs: init.loginBeforeMs ?? DEFAULT_SSO_LOGIN_BEFORE_MS,
        autoLogin: init.autoLogin ?? true,
        tokenRefresh: init.tokenRefresh,
        oidcClientConfig: init.oidcClientConfig,
        lockStaleMs: init.lockStaleMs,
        interactive: init.interactiveLogin ?? false,
        env,
      });
      manager.bindEmitter((e, p) => emit(e, p));
      const portal = createSdkClient(
        SSOClient,
        { ...(init.logger ? { logger: init.logger } : {}), ...init.ssoClientConfig, region: cfg.ssoRegion },
        "sso",
      );
      for (const plugin of init.clientPlugins ?? []) portal.middlewareStack.use(plugin);
      if (closed) {
        manager.close();
        portal.destroy();
      }
      current = { manager, portal };
      return { cfg, manager, portal };
    })();
    // A config error is reported to this caller; the next one reads the (perhaps fixed) config again.
    loading.catch(() => (loading = undefined));
    return loading;
  };

  const source = async (): Promise<AwsCredentialIdentity> => {
    const { cfg, manager, portal } = await load();
    const { accountId, roleName } = requireRole(cfg);
    // With a valid role credential still in hand, a needed login must not hold callers up: fail fast and let the
    // engine keep serving it (it retries ever closer to the expiry). Only once it is (nearly) gone do callers wait.
    const wait = (): boolean =>
      !manager.roleExpiration || manager.roleExpiration.getTime() - clock.now() <= ROLE_WAIT_MARGIN_MS;
    let token = await manager.accessToken(wait());
    for (let attempt = 0; ; attempt++) {
      let out;
      try {
        out = await portal.send(new GetRoleCredentialsCommand({ accessToken: token, accountId, roleName }));
      } catch (err) {
        if ((err as { name?: string }).name === "UnauthorizedException" && attempt < 2) {
          token = await manager.onUnauthorized(token, wait());
          continue;
        }
        throw new RefreshSessionError(
          "SOURCE_FAILED",
          `SSO GetRoleCredentials for role "${roleName}" in account ${accountId} (${describeSsoConfig(cfg)}) failed: ` +
            `${sdkErrorText(err)}` +
            ((err as { name?: string }).name === "ForbiddenException"
              ? `. Check sso_account_id and sso_role_name in ${cfg.configFile} (list your roles with \`aws sso list-account-roles\`).`
              : ""),
          { profile: cfg.profile, source: name, cause: err },
        );
      }
      const rc = out.roleCredentials;
      if (!rc?.accessKeyId || !rc.secretAccessKey || typeof rc.expiration !== "number") {
        throw new RefreshSessionError(
          "INVALID_CREDENTIALS",
          `SSO GetRoleCredentials answered without accessKeyId, secretAccessKey or expiration (${describeSsoConfig(cfg)})`,
          { profile: cfg.profile, source: name },
        );
      }
      const expiration = new Date(rc.expiration);
      manager.roleExpiration = expiration;
      return {
        accessKeyId: rc.accessKeyId,
        secretAccessKey: rc.secretAccessKey,
        ...(rc.sessionToken ? { sessionToken: rc.sessionToken } : {}),
        expiration,
        accountId,
      };
    }
  };

  return Object.assign(source, {
    sourceName: name,
    // Once no role credential is left, a call waits for a login (up to loginTimeoutMs) before its SDK calls.
    sourceTimeoutMs: (init.loginTimeoutMs ?? DEFAULT_SSO_LOGIN_TIMEOUT_MS) + DEFAULT_SOURCE_TIMEOUT_MS,
    profile,
    async validUntil(): Promise<SessionEnd | undefined> {
      return (await load()).manager.predictEnd();
    },
    async status(): Promise<SourceStatusItem[]> {
      try {
        const { cfg, manager } = await load();
        const items = await manager.status();
        try {
          const role = requireRole(cfg);
          items.push({ key: "sso.role", label: "SSO role", value: `${role.roleName} in ${role.accountId}` });
        } catch (err) {
          items.unshift({ key: "sso.role", label: "SSO role", value: null, problem: errorMessage(err) });
        }
        return items;
      } catch (err) {
        return [
          { key: "sso.profile", label: "SSO profile", value: profile },
          { key: "sso.config", label: "SSO configuration valid", value: false, problem: errorMessage(err) },
        ];
      }
    },
    bindEmitter(fn: SourceEmitter): void {
      emit = fn;
    },
    close(): void {
      closed = true;
      current?.manager.close();
      current?.portal.destroy();
    },
  });
}
