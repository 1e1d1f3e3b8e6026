import { stat } from "node:fs/promises";
import { errorMessage, type RefreshSessionError } from "../errors.js";
import type { RefreshableCredentials } from "../refresh/types.js";
import type { SsoLoginCompleted, SsoLoginRequired, SsoSessionEnd } from "../types.js";
import { formatDuration } from "../util/duration.js";
import {
  DEFAULT_SSO_LOCK_STALE_MS,
  fingerprint,
  parseCacheTime,
  readMeta,
  tryLock,
  type SsoTokenFile,
} from "./cache.js";
import { canRefresh } from "./session-end.js";
import { describeSsoConfig } from "./config.js";
import { canOpenBrowser, openBrowser } from "./browser.js";
import { deviceLogin } from "./login.js";
import { pkceLogin, type AuthorizationCodePrompt } from "./pkce.js";
import { runSsoNotify } from "./notify.js";
import type { PendingLogin, SsoSession } from "./ssoSession.js";

/** How often a session waiting for a login looks at the cache file for a token another tool wrote. */
const WATCH_MS = 250;
/** Pause before offering a new code after one expired unapproved, or before looking again at another's login. */
const RETRY_MS = 1000;

const noop = (): void => {};

/** What the re-login needs from the rest of the session's handling. */
export interface ReloginHooks {
  predictEnd(): Promise<SsoSessionEnd | undefined>;
  reschedule(): Promise<SsoSessionEnd | undefined>;
}

/**
 * Whether a cached token can serve: valid now, or expired with a refresh token and client registration that are not
 * (a login made elsewhere that this process first sees after its access token's life, e.g. after a sleep).
 */
function usable(r: { token: SsoTokenFile; expiresAt: number }, now: number): boolean {
  return r.expiresAt > now || canRefresh(r.token, now);
}

/**
 * An SSO session's headless re-login: the device authorization flow in the background (one per session on the
 * machine, under a lock), the notify hook, the watch on the cache file for a login made elsewhere, and the callers
 * waiting for a login once no role credential is left.
 */
export class SsoRelogin {
  readonly #s: SsoSession;
  readonly #engine: RefreshableCredentials;
  readonly #hooks: ReloginHooks;
  readonly #waiters = new Set<() => void>();
  #watchTimer: NodeJS.Timeout | undefined;
  #watchMtime = 0;
  /** The browser flow failed once (no browser, denied, timed out): later logins use the device flow. */
  #browserFailed = false;

  constructor(session: SsoSession, engine: RefreshableCredentials, hooks: ReloginHooks) {
    this.#s = session;
    this.#engine = engine;
    this.#hooks = hooks;
  }

  /**
   * Whether the session cannot go on without a new login (ended, no token, or someone waits for one), as opposed to an
   * early login started before a predicted end, which a token refreshed elsewhere does not satisfy.
   */
  loginNeeded(): boolean {
    const s = this.#s;
    return (
      s.endedToken !== undefined ||
      this.#waiters.size > 0 ||
      (s.login !== undefined && s.login.reason !== "session-ending")
    );
  }

  /** Waits (when `wait`) up to `loginTimeoutMs` for a new login, then hands back its access token; else rethrows `err`. */
  async waitForLogin(err: RefreshSessionError, wait: boolean): Promise<string> {
    const s = this.#s;
    const reason = s.endedToken !== undefined ? "session-ended" : "no-token";
    this.startLogin(reason);
    if (!wait || s.o.loginTimeoutMs <= 0 || s.closed) throw err;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(done);
        // Issued now, so it names the login that is pending (URL and code).
        reject(
          s.loginRequiredError(
            reason,
            `no new login was approved within ${formatDuration(s.o.loginTimeoutMs)} ` +
              (reason === "no-token" ? `and there is no cached token (${s.tokenPath})` : "after the session ended"),
            err,
          ),
        );
      }, s.o.loginTimeoutMs); // not unref()ed: a caller is waiting on it
      this.#waiters.add(done);
    });
    return (await this.#engine()).secretAccessKey;
  }

  /** Looks at the cache file while a login is needed: a token another tool (or our device flow) wrote ends the wait. */
  #watch(): void {
    const s = this.#s;
    if (this.#watchTimer || s.closed) return;
    const tick = async (): Promise<void> => {
      this.#watchTimer = undefined;
      if (s.closed || (!s.login && this.#waiters.size === 0)) return;
      try {
        const info = await stat(s.tokenPath);
        if (info.mtimeMs !== this.#watchMtime) {
          this.#watchMtime = info.mtimeMs;
          const r = await s.read();
          const held = this.#engine.peek();
          if (r && usable(r, s.now()) && r.token.accessToken !== s.endedToken && this.loginNeeded()) {
            const id = r.token.accessToken === held?.secretAccessKey ? held : await this.#engine.refresh();
            this.loginDone(id.secretAccessKey);
          }
        }
      } catch {
        /* not there yet, or being replaced */
      }
      if (!s.closed && (s.login || this.#waiters.size > 0)) {
        this.#watchTimer = setTimeout(() => void tick(), WATCH_MS);
        this.#watchTimer.unref();
      }
    };
    this.#watchTimer = setTimeout(() => void tick(), WATCH_MS);
    this.#watchTimer.unref();
  }

  /** A token that ends the need for a login was adopted: release the waiters, stop our device flow, tell listeners. */
  loginDone(accessToken: string): void {
    const s = this.#s;
    const login = s.login;
    if (!login && s.endedToken === undefined && this.#waiters.size === 0) return;
    const by: SsoLoginCompleted["by"] = s.ownTokens.get(fingerprint(accessToken)) ?? "cache";
    s.login = undefined;
    login?.abort.abort("a new login was picked up");
    s.endedToken = undefined;
    // Listeners hear of the login before the callers waiting for it carry on (and, say, start a command).
    const waiting = [...this.#waiters];
    this.#waiters.clear();
    void this.#hooks
      .reschedule()
      .catch(() => undefined)
      .then((end) =>
        s.emit("sso-login-completed", {
          profile: s.config.profile,
          ssoSession: s.config.sessionName,
          by,
          sessionEndsAt: end?.at,
        } satisfies SsoLoginCompleted),
      )
      .catch(noop)
      .finally(() => {
        for (const w of waiting) w();
      });
  }

  /**
   * Whether another process's login has already made ours unnecessary: the cache holds a valid token other than the
   * ended one, or (for an early login) one that a login recorded after `since` produced.
   */
  async #loggedInSince(since: number): Promise<boolean> {
    const s = this.#s;
    const r = await s.read().catch(() => undefined);
    if (!r || !usable(r, s.now()) || r.token.accessToken === s.endedToken) return false;
    if (s.endedToken !== undefined || this.#engine.peek() === undefined) return true;
    const meta = await readMeta(s.metaPath);
    const loginAt = parseCacheTime(meta.loginAt);
    return (
      loginAt !== undefined && loginAt >= since - 1000 && meta.tokenFingerprint === fingerprint(r.token.accessToken)
    );
  }

  /** Starts the device authorization flow in the background (once), and watches the cache for a login elsewhere. */
  startLogin(reason: SsoLoginRequired["reason"]): void {
    const s = this.#s;
    if (s.closed) return;
    this.#watch();
    if (s.login) {
      if (reason !== "session-ending") s.login.reason = reason;
      return;
    }
    if (!s.o.autoLogin) return;
    const login: PendingLogin = { abort: new AbortController(), prompt: undefined, reason, startedAt: s.now() };
    s.login = login;
    void this.#run(login);
  }

  async #run(login: PendingLogin): Promise<void> {
    const s = this.#s;
    const pause = (): Promise<unknown> => new Promise((r) => setTimeout(r, RETRY_MS).unref());
    for (;;) {
      // One device flow per SSO session on the machine: the other processes wait for its token in the cache.
      let release: (() => Promise<void>) | undefined;
      try {
        release = await tryLock(s.tokenPath.replace(/\.json$/, ".login"), {
          staleMs: s.o.lockStaleMs ?? DEFAULT_SSO_LOCK_STALE_MS,
          ...(s.o.logger ? { logger: s.o.logger } : {}),
        });
      } catch (err) {
        s.o.logger?.warn(`aws-refresh-session: could not take the SSO login lock: ${errorMessage(err)}`);
      }
      if (!release) {
        if (!login.elsewhere) {
          login.elsewhere = true;
          s.o.logger?.info(
            `aws-refresh-session: another process is running the IAM Identity Center login for ` +
              `${describeSsoConfig(s.config)}; waiting for its token in ${s.tokenPath}`,
          );
        }
        await pause();
        if (s.login !== login || s.closed) return;
        continue;
      }
      login.elsewhere = false;
      try {
        // The process that held the lock may have just logged in: then there is nothing left to do.
        if (await this.#loggedInSince(login.startedAt)) {
          const id = await this.#engine.refresh();
          this.loginDone(id.secretAccessKey);
          return;
        }
        const common = {
          config: s.config,
          ...(s.o.cacheDir !== undefined ? { cacheDir: s.o.cacheDir } : {}),
          ...(s.o.oidcClientConfig ? { oidcClientConfig: s.o.oidcClientConfig } : {}),
          clock: s.o.clock,
          ...(s.o.logger ? { logger: s.o.logger } : {}),
          keepAlive: false,
        };
        if (this.#browserFlow()) {
          // Someone is at this machine: the browser opens on the approval page, as `aws sso login` does.
          try {
            await pkceLogin({
              ...common,
              signal: login.abort.signal,
              onPrompt: (p) => this.#promptBrowser(login, p),
              onTokenIssued: (fp) => s.ownTokens.set(fp, "authorization-code"),
            });
          } catch (err) {
            if (s.login !== login || s.closed) return;
            // A browser that did not open, a denial or a timeout: the device flow next, not the browser again.
            this.#browserFailed = true;
            if (login.abort.signal.aborted) login.abort = new AbortController();
            throw err;
          }
        } else {
          await deviceLogin({
            ...common,
            signal: login.abort.signal,
            onPrompt: (p) => this.#prompt(login, p),
            onTokenIssued: (fp) => s.ownTokens.set(fp, "device-authorization"),
          });
        }
        if (s.login !== login) return; // already picked up from the cache
        const id = await this.#engine.refresh();
        this.loginDone(id.secretAccessKey);
        return;
      } catch (err) {
        if (s.login !== login || s.closed) return;
        const still = s.endedToken !== undefined || login.reason !== "session-ending";
        s.o.logger?.warn(`aws-refresh-session: background SSO login: ${errorMessage(err)}`);
        if (!still) {
          s.login = undefined;
          return;
        }
        // A code that expired unapproved, or a transient failure: offer a new code after a pause.
        await pause();
        if (s.login !== login || s.closed) return;
      } finally {
        await release();
      }
    }
  }

  /** Whether this login uses the browser flow: interactive, an sso-session profile, a browser, and no failure yet. */
  #browserFlow(): boolean {
    const s = this.#s;
    return s.o.interactive && !this.#browserFailed && s.config.sessionName !== undefined && canOpenBrowser(s.o.env);
  }

  /** Opens the browser on the approval page and says so; a browser that does not open ends this try. */
  async #promptBrowser(login: PendingLogin, p: AuthorizationCodePrompt): Promise<void> {
    const s = this.#s;
    const end = await this.#hooks.predictEnd().catch(() => undefined);
    const info: SsoLoginRequired = {
      profile: s.config.profile,
      ssoSession: s.config.sessionName,
      startUrl: s.config.startUrl,
      flow: "authorization-code",
      verificationUri: p.authorizationUrl,
      verificationUriComplete: p.authorizationUrl,
      userCode: "",
      expiresAt: p.expiresAt,
      reason: login.reason,
      sessionEndsAt: end?.at,
    };
    login.prompt = info;
    s.emit("sso-login-required", info);
    if (!(await openBrowser(p.authorizationUrl, s.o.env))) {
      login.abort.abort("no browser could be opened");
      return;
    }
    s.o.logger?.warn(
      `aws-refresh-session: IAM Identity Center login needed for ${describeSsoConfig(s.config)} (${info.reason}): ` +
        `a browser was opened on this machine to approve it (until ${info.expiresAt.toISOString()})`,
    );
  }

  /**
   * Says that a login waits for approval: to the logger, to `sso-login-required` listeners and to the notify hook.
   * The library itself never writes to stderr; without a logger, listener or hook, callers still get the URL and code
   * in the `SSO_LOGIN_REQUIRED` error.
   */
  async #prompt(
    login: PendingLogin,
    p: { verificationUri: string; verificationUriComplete: string; userCode: string; expiresAt: Date },
  ): Promise<void> {
    const s = this.#s;
    const end = await this.#hooks.predictEnd().catch(() => undefined);
    const info: SsoLoginRequired = {
      profile: s.config.profile,
      ssoSession: s.config.sessionName,
      startUrl: s.config.startUrl,
      ...p,
      reason: login.reason,
      sessionEndsAt: end?.at,
    };
    login.prompt = info;
    s.o.logger?.warn(
      `aws-refresh-session: IAM Identity Center login needed for ${describeSsoConfig(s.config)} (${info.reason}): ` +
        `open ${info.verificationUriComplete} and confirm code ${info.userCode} before ${info.expiresAt.toISOString()}`,
    );
    s.emit("sso-login-required", info);
    if (s.o.notify !== undefined) {
      await runSsoNotify(s.o.notify, info, s.o.logger ? { logger: s.o.logger } : {});
    }
  }

  close(): void {
    if (this.#watchTimer) clearTimeout(this.#watchTimer);
    this.#watchTimer = undefined;
  }
}
