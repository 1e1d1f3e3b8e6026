import { stat } from "node:fs/promises";
import type { SSOOIDCClient } from "@aws-sdk/client-sso-oidc";
import type { AwsCredentialIdentity, Logger } from "@smithy/types";
import { RefreshSessionError, describeTime, errorMessage, formatDuration } from "../errors.js";
import {
  refreshable,
  DEFAULT_ADVISORY_MS,
  type Clock,
  type RefreshableCredentials,
  type RefreshableOptions,
} from "../refresh/refreshable.js";
import { isSharedMode } from "../server/secretFile.js";
import type { SourceStatusItem } from "../session/methods.js";
import {
  DEFAULT_SSO_LOCK_STALE_MS,
  checkTokenFile,
  fingerprint,
  formatCacheTime,
  metaPathFor,
  parseCacheTime,
  readJsonFile,
  readMeta,
  tryLock,
  withCacheLock,
  writeJsonAtomic,
  type SsoSessionMeta,
  type SsoTokenFile,
} from "./cache.js";
import { describeSsoConfig, loginCommand, type SsoConfig } from "./config.js";
import { deviceLogin, tokenPathFor } from "./login.js";
import { runSsoNotify, type SsoLoginRequired, type SsoNotify } from "./notify.js";
import { createOidcClient, refreshSsoToken, refusalKind, sdkErrorText, type SsoOidcClientConfig } from "./oidc.js";
import { canRefresh, predictSsoSessionEnd, type SsoSessionEnd } from "./session-end.js";

/** Payload of the `sso-session-ending` event. */
export interface SsoSessionEnding {
  profile: string | undefined;
  ssoSession: string | undefined;
  /** Predicted end of the session. */
  endsAt: Date;
  /** What the prediction rests on. */
  basis: string;
  /** Time left when the event fired. */
  remainingMs: number;
  /** The `warnBeforeMs` lead time this warning is for. */
  leadMs: number;
}

/** Payload of the `sso-login-completed` event: a new login was picked up. */
export interface SsoLoginCompleted {
  profile: string | undefined;
  ssoSession: string | undefined;
  /** `aws-refresh` performed it (device flow), or another tool / process wrote the cache. */
  by: "device-authorization" | "cache";
  sessionEndsAt: Date | undefined;
}

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
}

/** How often a session waiting for a login looks at the cache file for a token another tool wrote. */
const WATCH_MS = 250;
/** setTimeout's longest delay; longer waits are done in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface ReadToken {
  token: SsoTokenFile;
  expiresAt: number;
  mtimeMs: number;
  mode: number;
}

interface PendingLogin {
  abort: AbortController;
  prompt: SsoLoginRequired | undefined;
  reason: SsoLoginRequired["reason"];
  /** Another process holds the login lock and runs the device flow. */
  elsewhere?: boolean;
  startedAt: number;
}

const noop = (): void => {};

/**
 * Owns one SSO session's access token for a process: its own refresh engine (CreateToken ahead of expiry, one per
 * refresh across processes thanks to the cache lock), pick-up of tokens other tools write, the session-end
 * prediction and warnings, and the headless re-login.
 */
export class SsoTokenManager {
  readonly config: SsoConfig;
  readonly tokenPath: string;
  readonly metaPath: string;
  readonly engine: RefreshableCredentials;
  readonly #o: SsoManagerOptions;
  readonly #name: string;
  #oidc: SSOOIDCClient | undefined;
  #emit: (event: string, payload: unknown) => void = noop;
  #closed = false;
  /** A refresh was refused (or the portal refused the token) and no newer token has shown up since. */
  #endedToken: string | undefined;
  /** Why that session is over, for messages. */
  #endedWhy = "the session has ended (a refresh was refused)";
  #login: PendingLogin | undefined;
  #waiters = new Set<() => void>();
  #watchTimer: NodeJS.Timeout | undefined;
  #watchMtime = 0;
  #timers: NodeJS.Timeout[] = [];
  #firedWarnings = new Set<string>();
  /** Fingerprints of tokens our own device logins produced, to say who logged in. */
  #ownTokens = new Set<string>();
  /** Expiry of the role credential last served, for messages. */
  roleExpiration: Date | undefined;

  constructor(config: SsoConfig, options: SsoManagerOptions) {
    this.config = config;
    this.#o = options;
    this.tokenPath = tokenPathFor(config, options.cacheDir);
    this.metaPath = metaPathFor(this.tokenPath);
    this.#name = `sso-token:${config.sessionName ?? config.startUrl}`;
    const source = Object.assign(() => this.#tokenSource(), { sourceName: this.#name });
    this.engine = refreshable(source, {
      ...options.tokenRefresh,
      clock: options.clock,
      ...(options.logger ? { logger: options.logger } : {}),
      name: this.#name,
    });
    this.engine.on("refresh", () => void this.#reschedule().catch(noop));
  }

  bindEmitter(emit: (event: string, payload: unknown) => void): void {
    this.#emit = emit;
  }

  #now(): number {
    return this.#o.clock.now();
  }

  #client(): SSOOIDCClient {
    return (this.#oidc ??= createOidcClient(this.config.ssoRegion, this.#o.oidcClientConfig, this.#o.logger));
  }

  async #read(): Promise<ReadToken | undefined> {
    const ctx = { profile: this.config.profile, source: this.#name, fix: loginCommand(this.config) };
    const got = await readJsonFile(this.tokenPath, ctx);
    if (!got) return undefined;
    const token = checkTokenFile(got.value, this.tokenPath, ctx);
    return { token, expiresAt: parseCacheTime(token.expiresAt) as number, mtimeMs: got.mtimeMs, mode: got.mode };
  }

  #identity(r: Pick<ReadToken, "token" | "expiresAt">): AwsCredentialIdentity {
    return {
      // Not a key id: a label that changes with the token, so the engine can tell a new token from the same one.
      accessKeyId: `SSOTOKEN${fingerprint(r.token.accessToken).toUpperCase()}`,
      secretAccessKey: r.token.accessToken,
      expiration: new Date(r.expiresAt),
    };
  }

  /** A token written recently enough that this process should use it rather than refresh it again. */
  #freshEnough(r: ReadToken, now: number): boolean {
    const lifetime = r.expiresAt - Math.min(r.mtimeMs, now);
    const advisory = Math.min(this.#o.tokenRefresh?.advisoryMs ?? DEFAULT_ADVISORY_MS, lifetime / 2);
    return r.expiresAt - now > advisory;
  }

  /** Rewrites the meta file through `change`; `current` is the meta already read under the same lock, if any. */
  async #updateMeta(change: (m: SsoSessionMeta) => SsoSessionMeta, current?: SsoSessionMeta): Promise<void> {
    try {
      const next = change(current ?? (await readMeta(this.metaPath)));
      await writeJsonAtomic(this.metaPath, next);
    } catch (err) {
      this.#o.logger?.warn(`aws-refresh-session: could not update ${this.metaPath}: ${errorMessage(err)}`);
    }
  }

  /**
   * Whether the session cannot go on without a new login (ended, no token, or someone waits for one), as opposed to an
   * early login started before a predicted end, which a token refreshed elsewhere does not satisfy.
   */
  #loginNeeded(): boolean {
    return (
      this.#endedToken !== undefined ||
      this.#waiters.size > 0 ||
      (this.#login !== undefined && this.#login.reason !== "session-ending")
    );
  }

  /** A token other than the one held: another process's refresh, or a login made somewhere. */
  async #adoptNew(r: ReadToken, now: number): Promise<AwsCredentialIdentity> {
    if (this.#endedToken !== undefined && this.#endedToken !== r.token.accessToken) {
      const fp = fingerprint(r.token.accessToken);
      await this.#updateMeta((m) => {
        const ours = m.tokenFingerprint === fp;
        const { endedAt: _e, ...rest } = m;
        return ours ? rest : { ...rest, loginAt: undefined, firstSeenAt: formatCacheTime(now) };
      });
    }
    if (this.#loginNeeded()) this.#loginDone(r.token.accessToken);
    return this.#identity(r);
  }

  /** The token engine's source: the cache file if someone refreshed it, else CreateToken under the lock. */
  async #tokenSource(): Promise<AwsCredentialIdentity> {
    const read = await this.#read();
    const now = this.#now();
    if (!read) {
      throw this.#loginRequiredError("no-token", `there is no cached SSO token (${this.tokenPath})`);
    }
    const held = this.engine.peek();
    const heldExp = held?.expiration?.getTime();
    const changed = held?.secretAccessKey !== read.token.accessToken;
    if (
      read.expiresAt > now &&
      changed &&
      read.token.accessToken !== this.#endedToken &&
      (heldExp === undefined || read.expiresAt >= heldExp) &&
      (this.#freshEnough(read, now) || !canRefresh(read.token, now))
    ) {
      return this.#adoptNew(read, now);
    }
    if (this.#endedToken !== undefined && read.token.accessToken === this.#endedToken) {
      throw this.#loginRequiredError("session-ended", this.#endedWhy);
    }
    if (!canRefresh(read.token, now)) {
      if (read.expiresAt > now) return this.#identity(read);
      this.#endedToken = read.token.accessToken; // any other token now means a new login
      this.#endedWhy =
        `its access token expired at ${new Date(read.expiresAt).toISOString()} and cannot be refreshed (` +
        `${read.token.refreshToken ? "the client registration expired" : "a legacy token has no refresh token"})`;
      throw this.#loginRequiredError("session-ended", this.#endedWhy);
    }
    return withCacheLock(
      this.tokenPath,
      async () => {
        const again = (await this.#read()) ?? read;
        const t = this.#now();
        if (again.token.accessToken !== read.token.accessToken && again.expiresAt > t) {
          return this.#adoptNew(again, t); // another process refreshed it while we waited for the lock
        }
        const base = again.token;
        let out;
        try {
          out = await refreshSsoToken(this.#client(), {
            clientId: base.clientId as string,
            clientSecret: base.clientSecret as string,
            refreshToken: base.refreshToken as string,
          });
        } catch (err) {
          const kind = refusalKind(err);
          if (kind) throw await this.#refused(again, err, kind);
          throw new RefreshSessionError(
            "SOURCE_FAILED",
            `Refreshing the SSO access token of ${describeSsoConfig(this.config)} failed: SSO-OIDC CreateToken: ` +
              `${sdkErrorText(err)}. The current token ${again.expiresAt > t ? "stays in use until" : "expired"} ` +
              `${describeTime(new Date(again.expiresAt), t)}; retrying.`,
            { profile: this.config.profile, source: this.#name, cause: err },
          );
        }
        const at = this.#now();
        const next: SsoTokenFile = {
          ...base,
          accessToken: out.accessToken,
          expiresAt: formatCacheTime(at + out.expiresInSeconds * 1000),
          ...(out.refreshToken ? { refreshToken: out.refreshToken } : {}),
        };
        try {
          await writeJsonAtomic(this.tokenPath, next);
        } catch (err) {
          // The new token is good: use it even if it cannot be shared through the cache this time.
          this.#o.logger?.warn(
            `aws-refresh-session: could not write the refreshed SSO token to ${this.tokenPath}: ${errorMessage(err)}`,
          );
          return this.#identity({ token: next, expiresAt: parseCacheTime(next.expiresAt) as number });
        }
        const meta = await readMeta(this.metaPath);
        const before = this.#prediction(again, meta);
        await this.#updateMeta((m) => {
          const updated: SsoSessionMeta = {
            ...m,
            tokenFingerprint: fingerprint(next.accessToken),
            lastRefreshAt: formatCacheTime(at),
          };
          delete updated.endedAt;
          // The session outlived its predicted end: the recorded login was not the one in use.
          if (before?.kind === "login" && before.at.getTime() < at) {
            delete updated.loginAt;
            updated.firstSeenAt = formatCacheTime(at);
          }
          return updated;
        }, meta);
        return this.#identity({ token: next, expiresAt: parseCacheTime(next.expiresAt) as number });
      },
      {
        staleMs: this.#o.lockStaleMs ?? DEFAULT_SSO_LOCK_STALE_MS,
        ...(this.#o.logger ? { logger: this.#o.logger } : {}),
        source: this.#name,
      },
    );
  }

  /** SSO-OIDC refused the refresh: record what that teaches, start a login, and say what to do. */
  async #refused(r: ReadToken, err: unknown, kind: "session" | "client"): Promise<RefreshSessionError> {
    const now = this.#now();
    this.#endedToken = r.token.accessToken;
    this.#endedWhy = "the session has ended (a refresh was refused)";
    await this.#updateMeta((m) => {
      const next: SsoSessionMeta = { ...m, endedAt: formatCacheTime(now) };
      const loginAt = parseCacheTime(m.loginAt);
      // The session was alive when this token was last written and dead now: its duration is at least that long.
      if (kind === "session" && loginAt !== undefined && r.mtimeMs - loginAt >= 1000) {
        next.learnedDurationSeconds = Math.floor((r.mtimeMs - loginAt) / 1000);
        next.learnedAt = formatCacheTime(now);
      }
      return next;
    });
    this.#o.logger?.warn(
      `aws-refresh-session: IAM Identity Center refused to refresh the token of ${describeSsoConfig(this.config)} ` +
        `(${sdkErrorText(err)}): the session has ended`,
    );
    void this.#reschedule().catch(noop);
    this.startLogin("session-ended");
    return this.#loginRequiredError(
      "session-ended",
      kind === "session"
        ? `IAM Identity Center refused to refresh its token (${sdkErrorText(err)}): the session has ended`
        : `IAM Identity Center refused its client registration (${sdkErrorText(err)})`,
      err,
    );
  }

  #loginRequiredError(reason: SsoLoginRequired["reason"], what: string, cause?: unknown): RefreshSessionError {
    const p = this.#login?.prompt;
    const pending = p
      ? ` A login is waiting for approval: open ${p.verificationUriComplete} and confirm code ${p.userCode} ` +
        `(valid until ${p.expiresAt.toISOString()}); this process continues as soon as it is approved.`
      : this.#login?.elsewhere
        ? " Another process on this machine is running the login (approve the code it sent); this process " +
          "continues as soon as its token is in the cache."
        : "";
    const role = this.roleExpiration
      ? ` The role credentials ${this.roleExpiration.getTime() > this.#now() ? "expire" : "expired"} ${describeTime(this.roleExpiration, this.#now())}.`
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
        source: this.#name,
        ...(this.roleExpiration ? { expiration: this.roleExpiration } : {}),
        ...(cause !== undefined ? { cause } : {}),
      },
    );
  }

  /**
   * A valid access token. When the session needs a login, `wait` (no valid role credential is left) waits up to
   * `loginTimeoutMs` for one; without it, this fails at once so the still-valid role credential keeps being served.
   */
  async accessToken(wait: boolean): Promise<string> {
    try {
      return (await this.engine()).secretAccessKey;
    } catch (err) {
      // Only a session that needs a login is waited for; any other failure is the role engine's to retry.
      if (!(err instanceof RefreshSessionError) || err.code !== "SSO_LOGIN_REQUIRED") throw err;
      return this.#waitForLogin(err, wait);
    }
  }

  /** The portal refused `badToken`: refresh it, and if that does not help, the session is over. */
  async onUnauthorized(badToken: string, wait: boolean): Promise<string> {
    try {
      const id = await this.engine.refresh();
      if (id.secretAccessKey !== badToken) return id.secretAccessKey;
    } catch (err) {
      if (!(err instanceof RefreshSessionError) || err.code !== "SSO_LOGIN_REQUIRED") throw err;
      return this.#waitForLogin(err, wait);
    }
    this.#endedToken = badToken;
    this.#endedWhy = "the AWS access portal refused its access token (UnauthorizedException)";
    await this.#updateMeta((m) => ({ ...m, endedAt: formatCacheTime(this.#now()) }));
    return this.#waitForLogin(
      this.#loginRequiredError(
        "session-ended",
        "the AWS access portal refused its access token (UnauthorizedException)",
      ),
      wait,
    );
  }

  async #waitForLogin(err: RefreshSessionError, wait: boolean): Promise<string> {
    const reason = this.#endedToken !== undefined ? "session-ended" : "no-token";
    this.startLogin(reason);
    if (!wait || this.#o.loginTimeoutMs <= 0 || this.#closed) throw err;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(done);
        // Issued now, so it names the login that is pending (URL and code).
        reject(
          this.#loginRequiredError(
            reason,
            `no new login was approved within ${formatDuration(this.#o.loginTimeoutMs)} ` +
              (reason === "no-token" ? `and there is no cached token (${this.tokenPath})` : "after the session ended"),
            err,
          ),
        );
      }, this.#o.loginTimeoutMs); // not unref()ed: a caller is waiting on it
      this.#waiters.add(done);
    });
    return (await this.engine()).secretAccessKey;
  }

  /** Looks at the cache file while a login is needed: a token another tool (or our device flow) wrote ends the wait. */
  #watch(): void {
    if (this.#watchTimer || this.#closed) return;
    const tick = async (): Promise<void> => {
      this.#watchTimer = undefined;
      if (this.#closed || (!this.#login && this.#waiters.size === 0)) return;
      try {
        const info = await stat(this.tokenPath);
        if (info.mtimeMs !== this.#watchMtime) {
          this.#watchMtime = info.mtimeMs;
          const r = await this.#read();
          const held = this.engine.peek();
          if (r && r.expiresAt > this.#now() && r.token.accessToken !== this.#endedToken && this.#loginNeeded()) {
            const id = r.token.accessToken === held?.secretAccessKey ? held : await this.engine.refresh();
            this.#loginDone(id.secretAccessKey);
          }
        }
      } catch {
        /* not there yet, or being replaced */
      }
      if (!this.#closed && (this.#login || this.#waiters.size > 0)) {
        this.#watchTimer = setTimeout(() => void tick(), WATCH_MS);
        this.#watchTimer.unref();
      }
    };
    this.#watchTimer = setTimeout(() => void tick(), WATCH_MS);
    this.#watchTimer.unref();
  }

  /** A token that ends the need for a login was adopted: release the waiters, stop our device flow, tell listeners. */
  #loginDone(accessToken: string): void {
    const login = this.#login;
    if (!login && this.#endedToken === undefined && this.#waiters.size === 0) return;
    const by: SsoLoginCompleted["by"] = this.#ownTokens.has(fingerprint(accessToken))
      ? "device-authorization"
      : "cache";
    this.#login = undefined;
    login?.abort.abort("a new login was picked up");
    this.#endedToken = undefined;
    for (const w of [...this.#waiters]) w();
    this.#waiters.clear();
    void this.#reschedule()
      .catch(() => undefined)
      .then((end) =>
        this.#emit("sso-login-completed", {
          profile: this.config.profile,
          ssoSession: this.config.sessionName,
          by,
          sessionEndsAt: end?.at,
        } satisfies SsoLoginCompleted),
      )
      .catch(noop);
  }

  /**
   * Whether another process's login has already made ours unnecessary: the cache holds a valid token other than the
   * ended one, or (for an early login) one that a login recorded after `since` produced.
   */
  async #loggedInSince(since: number): Promise<boolean> {
    const r = await this.#read().catch(() => undefined);
    if (!r || r.expiresAt <= this.#now() || r.token.accessToken === this.#endedToken) return false;
    if (this.#endedToken !== undefined || this.engine.peek() === undefined) return true;
    const meta = await readMeta(this.metaPath);
    const loginAt = parseCacheTime(meta.loginAt);
    return (
      loginAt !== undefined && loginAt >= since - 1000 && meta.tokenFingerprint === fingerprint(r.token.accessToken)
    );
  }

  /** Starts the device authorization flow in the background (once), and watches the cache for a login elsewhere. */
  startLogin(reason: SsoLoginRequired["reason"]): void {
    if (this.#closed) return;
    this.#watch();
    if (this.#login) {
      if (reason !== "session-ending") this.#login.reason = reason;
      return;
    }
    if (!this.#o.autoLogin) return;
    const login: PendingLogin = { abort: new AbortController(), prompt: undefined, reason, startedAt: this.#now() };
    this.#login = login;
    void (async () => {
      for (;;) {
        // One device flow per SSO session on the machine: the other processes wait for its token in the cache.
        let release: (() => Promise<void>) | undefined;
        try {
          release = await tryLock(this.tokenPath.replace(/\.json$/, ".login"), {
            staleMs: this.#o.lockStaleMs ?? DEFAULT_SSO_LOCK_STALE_MS,
            ...(this.#o.logger ? { logger: this.#o.logger } : {}),
          });
        } catch (err) {
          this.#o.logger?.warn(`aws-refresh-session: could not take the SSO login lock: ${errorMessage(err)}`);
        }
        if (!release) {
          if (!login.elsewhere) {
            login.elsewhere = true;
            this.#o.logger?.info(
              `aws-refresh-session: another process is running the IAM Identity Center login for ` +
                `${describeSsoConfig(this.config)}; waiting for its token in ${this.tokenPath}`,
            );
          }
          await new Promise((r) => setTimeout(r, 1000).unref());
          if (this.#login !== login || this.#closed) return;
          continue;
        }
        login.elsewhere = false;
        try {
          // The process that held the lock may have just logged in: then there is nothing left to do.
          if (await this.#loggedInSince(login.startedAt)) {
            const id = await this.engine.refresh();
            this.#loginDone(id.secretAccessKey);
            return;
          }
          await deviceLogin({
            config: this.config,
            ...(this.#o.cacheDir !== undefined ? { cacheDir: this.#o.cacheDir } : {}),
            ...(this.#o.oidcClientConfig ? { oidcClientConfig: this.#o.oidcClientConfig } : {}),
            clock: this.#o.clock,
            ...(this.#o.logger ? { logger: this.#o.logger } : {}),
            keepAlive: false,
            signal: login.abort.signal,
            onPrompt: (p) => this.#prompt(login, p),
            onTokenIssued: (fp) => this.#ownTokens.add(fp),
          });
          if (this.#login !== login) return; // already picked up from the cache
          const id = await this.engine.refresh();
          this.#loginDone(id.secretAccessKey);
          return;
        } catch (err) {
          if (this.#login !== login || this.#closed) return;
          const still = this.#endedToken !== undefined || login.reason !== "session-ending";
          this.#o.logger?.warn(`aws-refresh-session: background SSO login: ${errorMessage(err)}`);
          if (!still) {
            this.#login = undefined;
            return;
          }
          // A code that expired unapproved, or a transient failure: offer a new code after a pause.
          await new Promise((r) => setTimeout(r, 1000).unref());
          if (this.#login !== login || this.#closed) return;
        } finally {
          await release();
        }
      }
    })();
  }

  async #prompt(
    login: PendingLogin,
    p: { verificationUri: string; verificationUriComplete: string; userCode: string; expiresAt: Date },
  ): Promise<void> {
    const end = await this.predictEnd().catch(() => undefined);
    const info: SsoLoginRequired = {
      profile: this.config.profile,
      ssoSession: this.config.sessionName,
      startUrl: this.config.startUrl,
      ...p,
      reason: login.reason,
      sessionEndsAt: end?.at,
    };
    login.prompt = info;
    const text =
      `aws-refresh-session: IAM Identity Center login needed for ${describeSsoConfig(this.config)} (${info.reason}): ` +
      `open ${info.verificationUriComplete} and confirm code ${info.userCode} before ${info.expiresAt.toISOString()}`;
    if (this.#o.logger) this.#o.logger.warn(text);
    else if (this.#o.notify === undefined) process.stderr.write(`${text}\n`);
    this.#emit("sso-login-required", info);
    if (this.#o.notify !== undefined) {
      await runSsoNotify(this.#o.notify, info, this.#o.logger ? { logger: this.#o.logger } : {});
    }
  }

  #prediction(r: ReadToken | undefined, meta: SsoSessionMeta): SsoSessionEnd | undefined {
    if (!r) return undefined;
    if (this.#endedToken !== undefined && meta.endedAt === undefined) {
      meta = { ...meta, endedAt: formatCacheTime(this.#now()) };
    }
    return predictSsoSessionEnd({
      token: r.token,
      tokenWrittenAt: r.mtimeMs,
      meta,
      stated: this.#o.statedDuration,
      now: this.#now(),
    });
  }

  /** The predicted session end; records when this library first saw a session whose login it did not perform. */
  async predictEnd(): Promise<SsoSessionEnd | undefined> {
    const r = await this.#read();
    if (!r) return undefined;
    let meta = await readMeta(this.metaPath);
    if (canRefresh(r.token, this.#now()) && meta.loginAt === undefined && meta.firstSeenAt === undefined) {
      meta = { ...meta, version: 1, firstSeenAt: formatCacheTime(Math.min(r.mtimeMs, this.#now())) };
      const seen = meta.firstSeenAt;
      await this.#updateMeta((m) =>
        m.loginAt === undefined && m.firstSeenAt === undefined ? { ...m, firstSeenAt: seen } : m,
      );
    }
    return this.#prediction(r, meta);
  }

  /** Re-plans the `sso-session-ending` warnings and the early re-login for the current prediction. */
  async #reschedule(): Promise<SsoSessionEnd | undefined> {
    if (this.#closed) return undefined;
    const end = await this.predictEnd();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    if (!end || this.#closed) return end;
    const now = this.#now();
    const endAt = end.at.getTime();
    const leads = [...this.#o.warnBeforeMs].sort((a, b) => a - b);
    const due = leads.filter((l) => endAt - l <= now && !this.#firedWarnings.has(`${endAt}:${l}`));
    if (due.length > 0 && end.kind !== "ended") {
      for (const l of due) this.#firedWarnings.add(`${endAt}:${l}`);
      this.#warn(end, due[0] as number);
    }
    for (const l of leads) {
      if (endAt - l > now)
        this.#later(endAt - l, () => {
          if (this.#firedWarnings.has(`${endAt}:${l}`)) return;
          this.#firedWarnings.add(`${endAt}:${l}`);
          this.#warn(end, l);
        });
    }
    if (end.kind !== "ended") {
      const loginAt = endAt - this.#o.loginBeforeMs;
      if (loginAt <= now) this.startLogin("session-ending");
      else this.#later(loginAt, () => this.startLogin("session-ending"));
    }
    return end;
  }

  #later(at: number, fn: () => void): void {
    const wait = at - this.#now();
    const t = setTimeout(
      () => {
        this.#timers = this.#timers.filter((x) => x !== t);
        if (this.#closed) return;
        // Timers may fire a little early, and long waits are done in steps: only act once the time has come.
        if (this.#now() < at) this.#later(at, fn);
        else fn();
      },
      Math.max(1, Math.min(wait, MAX_TIMER_MS)),
    );
    t.unref();
    this.#timers.push(t);
  }

  #warn(end: SsoSessionEnd, leadMs: number): void {
    const remainingMs = end.at.getTime() - this.#now();
    this.#o.logger?.warn(
      `aws-refresh-session: the IAM Identity Center session of ${describeSsoConfig(this.config)} ends ` +
        `${describeTime(end.at, this.#now())} (${end.basis})`,
    );
    this.#emit("sso-session-ending", {
      profile: this.config.profile,
      ssoSession: this.config.sessionName,
      endsAt: end.at,
      basis: end.basis,
      remainingMs,
      leadMs,
    } satisfies SsoSessionEnding);
  }

  /** Facts for `aws-refresh status`. */
  async status(): Promise<SourceStatusItem[]> {
    const items: SourceStatusItem[] = [
      { key: "sso.profile", label: "SSO profile", value: this.config.profile ?? null },
      { key: "sso.session", label: "SSO session", value: this.config.sessionName ?? "(legacy profile)" },
      { key: "sso.startUrl", label: "SSO start URL", value: this.config.startUrl },
      { key: "sso.cacheFile", label: "SSO token cache file", value: this.tokenPath },
    ];
    let r: ReadToken | undefined;
    try {
      r = await this.#read();
    } catch (err) {
      items.push({ key: "sso.cacheValid", label: "SSO token cache valid", value: false, problem: errorMessage(err) });
      return items;
    }
    const now = this.#now();
    if (!r) {
      (items[3] as SourceStatusItem).problem = `No cached SSO token: run \`${loginCommand(this.config)}\``;
      return items;
    }
    const mode = r.mode.toString(8).padStart(4, "0");
    items.push({
      key: "sso.cacheFileMode",
      label: "SSO token cache file mode",
      value: mode,
      ...(isSharedMode(r.mode)
        ? { problem: `The token cache file is mode ${mode}, readable by others; run \`chmod 600 ${this.tokenPath}\`` }
        : {}),
    });
    items.push({
      key: "sso.accessTokenExpiresAt",
      label: "SSO access token expires",
      value: new Date(r.expiresAt).toISOString(),
      ...(r.expiresAt <= now && !canRefresh(r.token, now)
        ? { problem: `The access token expired and cannot be refreshed: run \`${loginCommand(this.config)}\`` }
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
    const end = await this.predictEnd();
    if (end) {
      items.push({
        key: "sso.sessionEndsAt",
        label: "SSO session ends (predicted)",
        value: end.at.toISOString(),
        ...(end.at.getTime() <= now
          ? { problem: `The SSO session has ended: run \`${loginCommand(this.config)}\`` }
          : {}),
      });
      items.push({ key: "sso.sessionEndBasis", label: "SSO session end rests on", value: end.basis });
    }
    items.push({
      key: "sso.roleCredentialsExpireAt",
      label: "SSO role credentials expire",
      value: this.roleExpiration ? this.roleExpiration.toISOString() : null,
    });
    const p = this.#login?.prompt;
    if (p) {
      items.push({
        key: "sso.loginPending",
        label: "SSO login waiting for approval",
        value: `${p.verificationUriComplete} (code ${p.userCode}, until ${p.expiresAt.toISOString()})`,
      });
    }
    return items;
  }

  close(): void {
    this.#closed = true;
    this.engine.close();
    this.#login?.abort.abort("closed");
    this.#login = undefined;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    if (this.#watchTimer) clearTimeout(this.#watchTimer);
    this.#oidc?.destroy();
  }
}
