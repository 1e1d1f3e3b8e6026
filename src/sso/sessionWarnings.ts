import type { SsoLoginRequired, SsoSessionEnd, SsoSessionEnding } from "../types.js";
import { describeTime } from "../util/timeText.js";
import { formatCacheTime, readMeta, type SsoSessionMeta } from "./cache.js";
import { describeSsoConfig } from "./config.js";
import { canRefresh, predictSsoSessionEnd } from "./session-end.js";
import type { ReadToken, SsoSession } from "./ssoSession.js";

/** setTimeout's longest delay; longer waits are done in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * An SSO session's predicted end and what follows from it: the `sso-session-ending` warnings at each lead time, and
 * the early background login `loginBeforeMs` ahead of the end. Re-planned whenever the token changes.
 */
export class SsoSessionWarnings {
  readonly #s: SsoSession;
  readonly #startLogin: (reason: SsoLoginRequired["reason"]) => void;
  #timers: NodeJS.Timeout[] = [];
  readonly #fired = new Set<string>();

  constructor(session: SsoSession, startLogin: (reason: SsoLoginRequired["reason"]) => void) {
    this.#s = session;
    this.#startLogin = startLogin;
  }

  /** The prediction for a token as read, with the session marked ended when a refresh was refused in this process. */
  prediction(r: ReadToken | undefined, meta: SsoSessionMeta): SsoSessionEnd | undefined {
    if (!r) return undefined;
    const s = this.#s;
    if (s.endedToken !== undefined && meta.endedAt === undefined) {
      meta = { ...meta, endedAt: formatCacheTime(s.now()) };
    }
    return predictSsoSessionEnd({
      token: r.token,
      tokenWrittenAt: r.mtimeMs,
      meta,
      stated: s.o.statedDuration,
      now: s.now(),
    });
  }

  /** The predicted session end; records when this library first saw a session whose login it did not perform. */
  async predictEnd(): Promise<SsoSessionEnd | undefined> {
    const s = this.#s;
    const r = await s.read();
    if (!r) return undefined;
    let meta = await readMeta(s.metaPath);
    if (canRefresh(r.token, s.now()) && meta.loginAt === undefined && meta.firstSeenAt === undefined) {
      meta = { ...meta, version: 1, firstSeenAt: formatCacheTime(Math.min(r.mtimeMs, s.now())) };
      const seen = meta.firstSeenAt;
      await s.updateMeta((m) =>
        m.loginAt === undefined && m.firstSeenAt === undefined ? { ...m, firstSeenAt: seen } : m,
      );
    }
    return this.prediction(r, meta);
  }

  /** Re-plans the warnings and the early re-login for the current prediction. */
  async reschedule(): Promise<SsoSessionEnd | undefined> {
    const s = this.#s;
    if (s.closed) return undefined;
    const end = await this.predictEnd();
    this.#clear();
    if (!end || s.closed) return end;
    const now = s.now();
    const endAt = end.at.getTime();
    const leads = [...s.o.warnBeforeMs].sort((a, b) => a - b);
    const due = leads.filter((l) => endAt - l <= now && !this.#fired.has(`${endAt}:${l}`));
    if (due.length > 0 && end.kind !== "ended") {
      for (const l of due) this.#fired.add(`${endAt}:${l}`);
      this.#warn(end, due[0] as number);
    }
    for (const l of leads) {
      if (endAt - l > now)
        this.#later(endAt - l, () => {
          if (this.#fired.has(`${endAt}:${l}`)) return;
          this.#fired.add(`${endAt}:${l}`);
          this.#warn(end, l);
        });
    }
    if (end.kind !== "ended") {
      const loginAt = endAt - s.o.loginBeforeMs;
      if (loginAt <= now) this.#startLogin("session-ending");
      else this.#later(loginAt, () => this.#startLogin("session-ending"));
    }
    return end;
  }

  #later(at: number, fn: () => void): void {
    const wait = at - this.#s.now();
    const t = setTimeout(
      () => {
        this.#timers = this.#timers.filter((x) => x !== t);
        if (this.#s.closed) return;
        // Timers may fire a little early, and long waits are done in steps: only act once the time has come.
        if (this.#s.now() < at) this.#later(at, fn);
        else fn();
      },
      Math.max(1, Math.min(wait, MAX_TIMER_MS)),
    );
    t.unref();
    this.#timers.push(t);
  }

  #warn(end: SsoSessionEnd, leadMs: number): void {
    const s = this.#s;
    const remainingMs = end.at.getTime() - s.now();
    s.o.logger?.warn(
      `aws-refresh-session: the IAM Identity Center session of ${describeSsoConfig(s.config)} ends ` +
        `${describeTime(end.at, s.now())} (${end.basis})`,
    );
    s.emit("sso-session-ending", {
      profile: s.config.profile,
      ssoSession: s.config.sessionName,
      endsAt: end.at,
      basis: end.basis,
      remainingMs,
      leadMs,
    } satisfies SsoSessionEnding);
  }

  #clear(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
  }

  close(): void {
    this.#clear();
  }
}
