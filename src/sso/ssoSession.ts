import type { SSOOIDCClient } from "@aws-sdk/client-sso-oidc";
import type { AwsCredentialIdentity, Logger } from "@smithy/types";
import { RefreshSessionError, errorMessage } from "../errors.js";
import type { RefreshableOptions } from "../refresh/types.js";
import type { Clock, SourceEmitter, SsoLoginRequired } from "../types.js";
import { describeTime } from "../util/timeText.js";
import {
  checkTokenFile,
  fingerprint,
  metaPathFor,
  parseCacheTime,
  readJsonFile,
  readMeta,
  writeJsonAtomic,
  type SsoSessionMeta,
  type SsoTokenFile,
} from "./cache.js";
import { describeSsoConfig, loginCommand, type SsoConfig } from "./config.js";
import { tokenPathFor } from "./login.js";
import type { SsoNotify } from "./notify.js";
import { createOidcClient, type SsoOidcClientConfig } from "./oidc.js";

/** Options of the token manager. Internal: `fromSso` validates and fills them. */
export interface SsoManagerOptions {
  cacheDir: string | undefined;
  clock: Clock;
  logger: Logger | undefined;
  statedDuration: { ms: number; source: "option" | "config" } | undefined;
  notify: SsoNotify | undefined;
  loginTimeoutMs: number;
  warnBeforeMs: number[];
  loginBeforeMs: number;
  autoLogin: boolean;
  tokenRefresh: Omit<RefreshableOptions, "logger" | "clock" | "name"> | undefined;
  oidcClientConfig: SsoOidcClientConfig | undefined;
  lockStaleMs: number | undefined;
  /** A person is at this machine: a needed login opens the browser (PKCE) when one can be opened. */
  interactive: boolean;
  /** Where the browser opener's `BROWSER`, `DISPLAY` are read. */
  env: NodeJS.ProcessEnv;
}

/** The token file as read: its content, expiry, when it was written and its mode. */
export interface ReadToken {
  token: SsoTokenFile;
  expiresAt: number;
  mtimeMs: number;
  mode: number;
}

/** A login this process is waiting for: ours (with its prompt) or another process's (`elsewhere`). */
export interface PendingLogin {
  abort: AbortController;
  prompt: SsoLoginRequired | undefined;
  reason: SsoLoginRequired["reason"];
  /** Another process holds the login lock and runs the device flow. */
  elsewhere?: boolean;
  startedAt: number;
}

const noop = (): void => {};

/**
 * What the parts of one SSO session's handling share: its config and files, the token file as read, the meta file,
 * whether the session has ended (and why), the login in progress, and the error that says what to run. Internal to
 * `sso/`; the token refresh, the re-login, the session-end warnings and the status facts each take it.
 */
export class SsoSession {
  readonly config: SsoConfig;
  readonly o: SsoManagerOptions;
  readonly tokenPath: string;
  readonly metaPath: string;
  /** The token engine's name in errors and events. */
  readonly name: string;
  emit: SourceEmitter = noop;
  closed = false;
  /** A refresh was refused (or the portal refused the token) and no newer token has shown up since. */
  endedToken: string | undefined;
  /** Why that session is over, for messages. */
  endedWhy = "the session has ended (a refresh was refused)";
  /** The login in progress, if any. */
  login: PendingLogin | undefined;
  /** Fingerprints of tokens our own logins produced, and by which flow, to say who logged in. */
  readonly ownTokens = new Map<string, "device-authorization" | "authorization-code">();
  /** Expiry of the role credential last served, for messages. */
  roleExpiration: Date | undefined;
  #oidc: SSOOIDCClient | undefined;

  constructor(config: SsoConfig, options: SsoManagerOptions) {
    this.config = config;
    this.o = options;
    this.tokenPath = tokenPathFor(config, options.cacheDir);
    this.metaPath = metaPathFor(this.tokenPath);
    this.name = `sso-token:${config.sessionName ?? config.startUrl}`;
  }

  now(): number {
    return this.o.clock.now();
  }

  /** The SSO-OIDC client, made on first use. */
  client(): SSOOIDCClient {
    return (this.#oidc ??= createOidcClient(this.config.ssoRegion, this.o.oidcClientConfig, this.o.logger));
  }

  /** The token file, checked; undefined when there is none. */
  async read(): Promise<ReadToken | undefined> {
    const ctx = { profile: this.config.profile, source: this.name, fix: loginCommand(this.config) };
    const got = await readJsonFile(this.tokenPath, ctx);
    if (!got) return undefined;
    const token = checkTokenFile(got.value, this.tokenPath, ctx);
    return { token, expiresAt: parseCacheTime(token.expiresAt) as number, mtimeMs: got.mtimeMs, mode: got.mode };
  }

  /** A token as the engine holds it. */
  identity(r: Pick<ReadToken, "token" | "expiresAt">): AwsCredentialIdentity {
    return {
      // Not a key id: a label that changes with the token, so the engine can tell a new token from the same one.
      accessKeyId: `SSOTOKEN${fingerprint(r.token.accessToken).toUpperCase()}`,
      secretAccessKey: r.token.accessToken,
      expiration: new Date(r.expiresAt),
    };
  }

  /** Rewrites the meta file through `change`; `current` is the meta already read under the same lock, if any. */
  async updateMeta(change: (m: SsoSessionMeta) => SsoSessionMeta, current?: SsoSessionMeta): Promise<void> {
    try {
      const next = change(current ?? (await readMeta(this.metaPath)));
      await writeJsonAtomic(this.metaPath, next);
    } catch (err) {
      this.o.logger?.warn(`aws-refresh-session: could not update ${this.metaPath}: ${errorMessage(err)}`);
    }
  }

  /** `SSO_LOGIN_REQUIRED`: what happened, when the role credentials expire, the login pending, and what to run. */
  loginRequiredError(_reason: SsoLoginRequired["reason"], what: string, cause?: unknown): RefreshSessionError {
    const p = this.login?.prompt;
    const pending = p
      ? ` A login is waiting for approval: open ${p.verificationUriComplete} and confirm code ${p.userCode} ` +
        `(valid until ${p.expiresAt.toISOString()}); this process continues as soon as it is approved.`
      : this.login?.elsewhere
        ? " Another process on this machine is running the login (approve the code it sent); this process " +
          "continues as soon as its token is in the cache."
        : "";
    const now = this.now();
    const role = this.roleExpiration
      ? ` The role credentials ${this.roleExpiration.getTime() > now ? "expire" : "expired"} ${describeTime(this.roleExpiration, now)}.`
      : "";
    const cli =
      this.config.profile !== undefined
        ? `aws sso login --profile ${this.config.profile}`
        : `aws sso login --sso-session ${this.config.sessionName}`;
    return new RefreshSessionError(
      "SSO_LOGIN_REQUIRED",
      `IAM Identity Center login required for ${describeSsoConfig(this.config)}: ${what}.${role}${pending} ` +
        `Run \`${loginCommand(this.config)}\` (or \`${cli}\`); a running process picks up the new login without restarting.`,
      {
        profile: this.config.profile,
        source: this.name,
        ...(this.roleExpiration ? { expiration: this.roleExpiration } : {}),
        ...(cause !== undefined ? { cause } : {}),
      },
    );
  }

  close(): void {
    this.closed = true;
    this.login?.abort.abort("closed");
    this.login = undefined;
    this.#oidc?.destroy();
  }
}
