import type { Clock, LoginSessionEnd } from "../types.js";
import { formatDuration } from "../util/duration.js";
import type { LoginCacheRead } from "./loginCache.js";

/** setTimeout's longest delay; longer waits are done in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The predicted end of an `aws login` session: `ended` once the service refused the refresh token (exact), else the
 * cached idToken's `iat` plus the session duration, else when this process first saw the login plus the duration
 * (both upper bounds). Undefined before the cache was read. Internal.
 */
export function predictLoginSessionEnd(input: {
  loginSession: string;
  durationMs: number;
  ended: { at: number; reason: string } | undefined;
  read: LoginCacheRead | undefined;
  firstSeenAt: number;
}): LoginSessionEnd | undefined {
  const { loginSession, durationMs, ended, read } = input;
  const loginAt = read?.loginAt !== undefined ? new Date(read.loginAt) : undefined;
  if (ended) {
    return {
      source: "login",
      kind: "ended",
      exact: true,
      at: new Date(ended.at),
      basis: ended.reason,
      loginSession,
      loginAt,
    };
  }
  if (!read) return undefined;
  const h = formatDuration(durationMs);
  if (loginAt !== undefined) {
    return {
      source: "login",
      kind: "login",
      exact: false,
      at: new Date(loginAt.getTime() + durationMs),
      basis: `login at ${loginAt.toISOString()} (the cached idToken's iat) + ${h}, the longest an \`aws login\` session lasts`,
      loginSession,
      loginAt,
    };
  }
  return {
    source: "login",
    kind: "first-seen",
    exact: false,
    at: new Date(input.firstSeenAt + durationMs),
    basis:
      `first seen at ${new Date(input.firstSeenAt).toISOString()} + ${h}, the longest an \`aws login\` session lasts ` +
      "(the cache holds no login time)",
    loginSession,
    loginAt: undefined,
  };
}

/**
 * The `login-session-ending` warnings of an `aws login` session: one at each lead time before its predicted end,
 * re-planned whenever the prediction may have changed (each credential served, a new login). A lead already passed
 * when planning warns at once (the shortest of them only); each (end, lead) pair warns once. Internal.
 */
export class LoginSessionWarnings {
  readonly #leads: number[];
  readonly #clock: Clock;
  readonly #warn: (end: LoginSessionEnd, leadMs: number) => void;
  #timers: NodeJS.Timeout[] = [];
  readonly #fired = new Set<string>();
  #closed = false;

  constructor(leadsMs: readonly number[], clock: Clock, warn: (end: LoginSessionEnd, leadMs: number) => void) {
    this.#leads = [...leadsMs].sort((a, b) => a - b);
    this.#clock = clock;
    this.#warn = warn;
  }

  /** Re-plans for `end`; an ended (or unknown) session clears the plan. */
  plan(end: LoginSessionEnd | undefined): void {
    this.clear();
    if (!end || this.#closed || end.kind === "ended") return;
    const now = this.#clock.now();
    const endAt = end.at.getTime();
    const due = this.#leads.filter((l) => endAt - l <= now && !this.#fired.has(`${endAt}:${l}`));
    if (due.length > 0 && endAt > now) {
      for (const l of due) this.#fired.add(`${endAt}:${l}`);
      this.#warn(end, due[0] as number);
    }
    for (const l of this.#leads) {
      if (endAt - l > now) {
        this.#later(endAt - l, () => {
          if (this.#fired.has(`${endAt}:${l}`)) return;
          this.#fired.add(`${endAt}:${l}`);
          this.#warn(end, l);
        });
      }
    }
  }

  #later(at: number, fn: () => void): void {
    const t = setTimeout(
      () => {
        this.#timers = this.#timers.filter((x) => x !== t);
        if (this.#closed) return;
        // Timers may fire a little early, and long waits are done in steps: only act once the time has come.
        if (this.#clock.now() < at) this.#later(at, fn);
        else fn();
      },
      Math.max(1, Math.min(at - this.#clock.now(), MAX_TIMER_MS)),
    );
    t.unref();
    this.#timers.push(t);
  }

  clear(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
  }

  close(): void {
    this.#closed = true;
    this.clear();
  }
}
