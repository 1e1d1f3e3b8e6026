import { RefreshSessionError } from "../errors.js";
import { refreshable } from "../refresh/refreshable.js";
import type { RefreshableCredentials } from "../refresh/types.js";
import type { SourceEmitter, SourceStatusItem, SsoLoginRequired, SsoSessionEnd } from "../types.js";
import { formatCacheTime } from "./cache.js";
import type { SsoConfig } from "./config.js";
import { SsoRelogin } from "./relogin.js";
import { SsoSessionWarnings } from "./sessionWarnings.js";
import { SsoSession, type SsoManagerOptions } from "./ssoSession.js";
import { ssoStatusFacts } from "./ssoStatus.js";
import { ssoTokenSource } from "./tokenRefresh.js";

export type { SsoSessionEnding, SsoLoginCompleted } from "../types.js";
export type { SsoManagerOptions } from "./ssoSession.js";

const noop = (): void => {};

/**
 * Owns one SSO session's access token for a process, putting its parts together: the token's own refresh engine
 * (`tokenRefresh.ts`: CreateToken ahead of expiry under the cache lock, tokens other tools write picked up), the
 * session-end prediction and warnings (`sessionWarnings.ts`), the headless re-login (`relogin.ts`) and the status
 * facts (`ssoStatus.ts`), over the state they share (`ssoSession.ts`).
 */
export class SsoTokenManager {
  readonly config: SsoConfig;
  readonly tokenPath: string;
  readonly metaPath: string;
  readonly engine: RefreshableCredentials;
  readonly #s: SsoSession;
  readonly #warnings: SsoSessionWarnings;
  readonly #relogin: SsoRelogin;

  constructor(config: SsoConfig, options: SsoManagerOptions) {
    const s = new SsoSession(config, options);
    this.#s = s;
    this.config = config;
    this.tokenPath = s.tokenPath;
    this.metaPath = s.metaPath;
    this.#warnings = new SsoSessionWarnings(s, (reason) => this.startLogin(reason));
    const source = ssoTokenSource(s, {
      held: () => this.engine.peek(),
      loginNeeded: () => this.#relogin.loginNeeded(),
      loginDone: (token) => this.#relogin.loginDone(token),
      startLogin: (reason) => this.startLogin(reason),
      reschedule: () => void this.#warnings.reschedule().catch(noop),
      prediction: (r, meta) => this.#warnings.prediction(r, meta),
    });
    this.engine = refreshable(Object.assign(source, { sourceName: s.name }), {
      ...options.tokenRefresh,
      clock: options.clock,
      ...(options.logger ? { logger: options.logger } : {}),
      name: s.name,
    });
    this.#relogin = new SsoRelogin(s, this.engine, {
      predictEnd: () => this.#warnings.predictEnd(),
      reschedule: () => this.#warnings.reschedule(),
    });
    this.engine.on("refresh", () => void this.#warnings.reschedule().catch(noop));
  }

  /** Expiry of the role credential last served, for messages. */
  get roleExpiration(): Date | undefined {
    return this.#s.roleExpiration;
  }

  set roleExpiration(at: Date | undefined) {
    this.#s.roleExpiration = at;
  }

  bindEmitter(emit: SourceEmitter): void {
    this.#s.emit = emit;
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
      return this.#relogin.waitForLogin(err, wait);
    }
  }

  /** The portal refused `badToken`: refresh it, and if that does not help, the session is over. */
  async onUnauthorized(badToken: string, wait: boolean): Promise<string> {
    const s = this.#s;
    try {
      const id = await this.engine.refresh();
      if (id.secretAccessKey !== badToken) return id.secretAccessKey;
    } catch (err) {
      if (!(err instanceof RefreshSessionError) || err.code !== "SSO_LOGIN_REQUIRED") throw err;
      return this.#relogin.waitForLogin(err, wait);
    }
    s.endedToken = badToken;
    s.endedWhy = "the AWS access portal refused its access token (UnauthorizedException)";
    await s.updateMeta((m) => ({ ...m, endedAt: formatCacheTime(s.now()) }));
    return this.#relogin.waitForLogin(s.loginRequiredError("session-ended", s.endedWhy), wait);
  }

  /** Starts the device authorization flow in the background (once), and watches the cache for a login elsewhere. */
  startLogin(reason: SsoLoginRequired["reason"]): void {
    this.#relogin.startLogin(reason);
  }

  /** The predicted session end; records when this library first saw a session whose login it did not perform. */
  predictEnd(): Promise<SsoSessionEnd | undefined> {
    return this.#warnings.predictEnd();
  }

  /** Facts for `aws-refresh status`. */
  status(): Promise<SourceStatusItem[]> {
    return ssoStatusFacts(this.#s, () => this.#warnings.predictEnd());
  }

  close(): void {
    this.engine.close();
    this.#s.close();
    this.#warnings.close();
    this.#relogin.close();
  }
}
