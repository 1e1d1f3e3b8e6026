// One file past ~400 lines: what the source served, the login it last saw, whether the service ended the session, the
// watch and the warnings are one closure's state that every path (a call, the lock's re-read, a refused refresh, the
// watch, status) reads and writes. The cache format, the token call and the session-end prediction live in
// loginCache.ts, loginTokenClient.ts and loginSessionEnd.ts.
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { SigninClientConfig } from "@aws-sdk/nested-clients/signin";
import type { AwsCredentialIdentity, Logger } from "@smithy/types";
import { RefreshSessionError, errorMessage } from "../errors.js";
import type { ClientPlugin } from "../middleware/clientPlugin.js";
import type {
  Clock,
  CredentialSource,
  LoginSessionEnd,
  LoginCompleted,
  LoginSessionEnding,
  SourceEmitter,
  SourceStatusItem,
} from "../types.js";
import { formatIsoSeconds } from "../util/awsDate.js";
import { parseDpopKey } from "../util/dpop.js";
import { formatDuration } from "../util/duration.js";
import { DEFAULT_LOCK_STALE_MS, withLock } from "../util/lock.js";
import { describeTime } from "../util/timeText.js";
import {
  loginCacheDir,
  loginCachePath,
  readLoginCache,
  writeLoginCache,
  type LoginCacheContext,
  type LoginCacheRead,
  type LoginTokenFile,
} from "./loginCache.js";
import { LoginTokenClient } from "./loginTokenClient.js";
import { LoginSessionWarnings, predictLoginSessionEnd } from "./loginSessionEnd.js";
import { checkMs } from "../util/checkMs.js";

/** The longest an `aws login` session lasts: 12 hours (the console session's maximum). */
export const DEFAULT_LOGIN_SESSION_DURATION_MS = 12 * 3_600_000;
/** Lead times of the `login-session-ending` warnings: 1 hour and 10 minutes before the predicted end. */
export const DEFAULT_LOGIN_WARN_BEFORE_MS: readonly number[] = [3_600_000, 600_000];
/** How long a process waits for another one's refresh (the cache lock) before this refresh counts as failed. */
export const DEFAULT_LOGIN_LOCK_WAIT_MS = 30_000;
/** What the sign-in service's answer omits `expiresIn` for: 15 minutes, as the SDK and botocore assume. */
const DEFAULT_EXPIRES_IN_SECONDS = 900;
/** A cached credential with less than this left is refreshed rather than served (the SDK's threshold: 5 minutes). */
const MAX_FRESH_MS = 5 * 60_000;

/** Options of {@link fromLogin} (and of `new RefreshableSession({ method: "login", … })`). */
export interface LoginInit {
  /** The profile's `login_session` value: the console session's ARN, which `aws login` writes there. Required. */
  loginSession: string;
  /** The profile it comes from, for messages and the fix they name. Default: none (`aws login` then). */
  profile?: string;
  /**
   * Region of the sign-in service. Default: the cache file's `signInRegion`, else the profile's `region`, else
   * `AWS_REGION`, else `AWS_DEFAULT_REGION`.
   */
  region?: string;
  /** The cache directory. Default: `AWS_LOGIN_CACHE_DIRECTORY`, else `~/.aws/login/cache`. */
  cacheDir?: string;
  /**
   * Config of the sign-in client (`endpoint`, `maxAttempts`, `requestHandler`…). Default endpoint:
   * `AWS_ENDPOINT_URL_SIGNIN`, else `AWS_ENDPOINT_URL`, else the SDK's regional sign-in endpoint.
   */
  signinClientConfig?: Omit<SigninClientConfig, "region" | "credentials">;
  /** How long a login lasts, for the predicted end and its warnings. Default 43200000 (12 h). */
  sessionDurationMs?: number;
  /** When to emit `login-session-ending`, in ms before the predicted end. Default [3600000, 600000] (1 h, 10 min). */
  warnBeforeMs?: number[];
  /** A cache lock not touched for this long is taken over (its holder died). Default 5000. */
  lockStaleMs?: number;
  /** How long to wait for another process's refresh. Default 30000. */
  lockWaitMs?: number;
  /** Watch the cache file, so a new `aws login` is noticed (and the `login-completed` event raised) at once. Default true. */
  watch?: boolean;
  /** SDK plugins applied to the sign-in client (a session adds its clock-skew observer). */
  clientPlugins?: ClientPlugin[];
  /** Environment for the cache directory, region and endpoint variables. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Default: silent. */
  logger?: Logger;
  /** Default `Date`. */
  clock?: Clock;
}

/** What {@link fromLogin} returns: a credential source with the `aws login` session's own facts attached. */
export type LoginSource = CredentialSource & {
  readonly loginSession: string;
  /** The token file it reads and rewrites. */
  readonly cacheFile: string;
  /** Predicted (or known) end of the `aws login` session. */
  validUntil(): Promise<LoginSessionEnd | undefined>;
  /** Facts for `aws-refresh status`: the session, the cache file, the credential's expiry, the session's end. */
  status(): Promise<SourceStatusItem[]>;
  /** Receives `login-session-ending` and `login-completed`. */
  bindEmitter(emit: SourceEmitter): void;
  /** Stops the timers and the file watch; closes the sign-in client. */
  close(): void;
};

function validate(init: LoginInit): void {
  if (init === null || typeof init !== "object") throw new TypeError("`options` must be an object");
  if (typeof init.loginSession !== "string" || init.loginSession.trim() === "") {
    throw new TypeError("`loginSession` must be the profile's `login_session` value (a non-empty string)");
  }
  for (const k of ["profile", "region", "cacheDir"] as const) {
    if (init[k] !== undefined && (typeof init[k] !== "string" || init[k] === "")) {
      throw new TypeError(`\`${k}\` must be a non-empty string`);
    }
  }
  checkMs("sessionDurationMs", init.sessionDurationMs, 1_000);
  checkMs("lockStaleMs", init.lockStaleMs, 2_000);
  checkMs("lockWaitMs", init.lockWaitMs);
  if (init.warnBeforeMs !== undefined) {
    if (!Array.isArray(init.warnBeforeMs)) throw new TypeError("`warnBeforeMs` must be an array of milliseconds");
    init.warnBeforeMs.forEach((v, i) => checkMs(`warnBeforeMs[${i}]`, v));
  }
  if (init.watch !== undefined && typeof init.watch !== "boolean") throw new TypeError("`watch` must be a boolean");
  if (init.clock !== undefined && typeof init.clock?.now !== "function") {
    throw new TypeError("`clock` must be an object with a `now()` method");
  }
}

/**
 * Console credentials from `aws login` (AWS CLI 2.32+): reads the profile's cached session from
 * `~/.aws/login/cache/<sha256 of login_session>.json`, refreshes its 15-minute credentials with the DPoP-bound refresh
 * token (the sign-in service's `CreateOAuth2Token`, through the SDK's own sign-in client) and writes the rotated refresh
 * token back atomically under a cross-process lock, so processes sharing the cache make one refresh per rotation and
 * never present a spent token. A credential another process (or the AWS CLI) already refreshed is taken from the file.
 * It predicts the session's end (12 h after the login), warns before it, and when the session is over fails with
 * `LOGIN_REQUIRED` naming `aws login --profile …`; a new login is picked up without a restart.
 *
 * @example
 * ```ts
 * import { refreshable, fromLogin } from "aws-refresh-session";
 * const credentials = refreshable(
 *   fromLogin({ loginSession: "arn:aws:sts::123456789012:assumed-role/Admin/me", profile: "console", region: "eu-west-1" }),
 * );
 * ```
 */
export function fromLogin(init: LoginInit): LoginSource {
  validate(init);
  const env = init.env ?? process.env;
  const clock = init.clock ?? Date;
  const { loginSession, profile, logger } = init;
  const cacheFile = loginCachePath(loginSession, init.cacheDir ?? loginCacheDir(env));
  const fix = profile !== undefined && profile !== "default" ? `aws login --profile ${profile}` : "aws login";
  const ctx: LoginCacheContext = { profile, loginSession, fix };
  const name = `login:${profile ?? loginSession}`;
  const who = `${profile ? `profile "${profile}"` : "the login"} (login_session ${loginSession})`;
  const durationMs = init.sessionDurationMs ?? DEFAULT_LOGIN_SESSION_DURATION_MS;
  const leads = init.warnBeforeMs ?? DEFAULT_LOGIN_WARN_BEFORE_MS;
  const lockStaleMs = init.lockStaleMs ?? DEFAULT_LOCK_STALE_MS;
  const lockWaitMs = init.lockWaitMs ?? DEFAULT_LOGIN_LOCK_WAIT_MS;

  let emit: SourceEmitter = () => {};
  let closed = false;
  /** The credential last handed out: a cached one is served only when it is another, newer one. */
  let served: { accessKeyId: string; expiresAt: number; loginId: string } | undefined;
  let last: LoginCacheRead | undefined;
  /** The login (DPoP key fingerprint) this process last saw, and when it first saw it. */
  let seen: { loginId: string; firstSeenAt: number } | undefined;
  /** Set when the sign-in service refused the refresh token: the session is over until a new login. */
  let ended: { at: number; loginId: string; refreshId: string; reason: string } | undefined;
  let lastRefreshAt: number | undefined;
  let lastError: string | undefined;
  let watcher: FSWatcher | undefined;
  const tokens = new LoginTokenClient({
    env,
    clock,
    logger,
    signinClientConfig: init.signinClientConfig,
    clientPlugins: init.clientPlugins,
  });
  const warnings = new LoginSessionWarnings(leads, clock, (end, leadMs) => warn(end, leadMs));

  const note = (r: LoginCacheRead): void => {
    last = r;
    if (seen?.loginId !== r.loginId) {
      const isNew = seen !== undefined;
      seen = { loginId: r.loginId, firstSeenAt: Math.min(clock.now(), r.mtimeMs) };
      if (isNew) {
        logger?.info?.(`aws-refresh-session: a new \`aws login\` for ${who} was picked up from ${cacheFile}`);
        emit("login-completed", { profile, loginSession } satisfies LoginCompleted);
      }
    }
    if (ended && ended.loginId !== r.loginId) ended = undefined;
  };

  const read = async (): Promise<LoginCacheRead> => {
    const r = await readLoginCache(cacheFile, ctx);
    note(r);
    startWatch();
    return r;
  };

  /**
   * Whether the cached credential may be served instead of refreshing: another one than the credential last served (a
   * refresh by another process, or a new login), expiring no earlier, with life left.
   */
  const fresh = (r: LoginCacheRead): boolean => {
    const now = clock.now();
    if (served !== undefined) {
      const newLogin = r.loginId !== served.loginId;
      if (!newLogin && (r.token.accessToken.accessKeyId === served.accessKeyId || r.expiresAt < served.expiresAt)) {
        return false;
      }
    }
    const lifetime = r.mtimeMs < r.expiresAt ? r.expiresAt - r.mtimeMs : MAX_FRESH_MS * 3;
    return r.expiresAt - now > Math.min(MAX_FRESH_MS, lifetime / 2);
  };

  const serve = (r: LoginCacheRead): AwsCredentialIdentity => {
    served = { accessKeyId: r.token.accessToken.accessKeyId, expiresAt: r.expiresAt, loginId: r.loginId };
    warnings.plan(predict());
    const a = r.token.accessToken;
    return {
      accessKeyId: a.accessKeyId,
      secretAccessKey: a.secretAccessKey,
      sessionToken: a.sessionToken,
      expiration: new Date(r.expiresAt),
      ...(typeof a.accountId === "string" && a.accountId !== "" ? { accountId: a.accountId } : {}),
    };
  };

  const sessionOver = (reason: string, cause?: unknown): RefreshSessionError => {
    const held = served !== undefined ? new Date(served.expiresAt) : undefined;
    return new RefreshSessionError(
      "LOGIN_REQUIRED",
      `The \`aws login\` session of ${who} is over: ${reason}. ` +
        (held
          ? `The credential in hand ${held.getTime() > clock.now() ? "expires" : "expired"} ${describeTime(held, clock.now())}. `
          : "") +
        `Run \`${fix}\` to sign in again; a running process picks the new login up from ${cacheFile} without a restart.`,
      { ...(profile ? { profile } : {}), source: name, ...(held ? { expiration: held } : {}), cause },
    );
  };

  /** CreateOAuth2Token with the refresh token and a DPoP proof signed by the cached key; the updated file content. */
  const refreshWith = async (r: LoginCacheRead): Promise<LoginTokenFile> => {
    const region = [r.token.signInRegion, init.region, env.AWS_REGION, env.AWS_DEFAULT_REGION].find(
      (v): v is string => typeof v === "string" && v !== "",
    );
    if (region === undefined) {
      throw new RefreshSessionError(
        "CONFIG_INVALID",
        `No region for the sign-in service of ${who}: set \`region\` in the profile (as \`aws login\` does) or AWS_REGION.`,
        { ...(profile ? { profile } : {}), source: name },
      );
    }
    let key;
    try {
      key = parseDpopKey(r.token.dpopKey);
    } catch (err) {
      throw new RefreshSessionError(
        "LOGIN_CACHE_INVALID",
        `The \`aws login\` cache file ${cacheFile} (${who}) holds a \`dpopKey\` that is not a P-256 private key ` +
          `(${errorMessage(err)}). It was left as it is. Run \`${fix}\` to write a new one.`,
        { ...(profile ? { profile } : {}), source: name },
      );
    }
    let out;
    try {
      out = await tokens.refresh({ region, clientId: r.token.clientId, refreshToken: r.token.refreshToken, key });
    } catch (err) {
      throw classify(err, r);
    }
    const o = out.tokenOutput;
    const at = o?.accessToken;
    if (!at?.accessKeyId || !at.secretAccessKey || !at.sessionToken || !o?.refreshToken) {
      throw new RefreshSessionError(
        "INVALID_CREDENTIALS",
        `The sign-in service answered the refresh of ${who} without credentials or a refresh token`,
        { ...(profile ? { profile } : {}), source: name },
      );
    }
    const expiresAt = clock.now() + (o.expiresIn ?? DEFAULT_EXPIRES_IN_SECONDS) * 1000;
    return {
      ...r.token,
      accessToken: {
        ...r.token.accessToken,
        accessKeyId: at.accessKeyId,
        secretAccessKey: at.secretAccessKey,
        sessionToken: at.sessionToken,
        // As the AWS CLI writes it: whole seconds.
        expiresAt: formatIsoSeconds(expiresAt),
      },
      refreshToken: o.refreshToken,
    };
  };

  const classify = (err: unknown, r: LoginCacheRead): Error => {
    const e = err as { name?: string; error?: string; message?: string };
    const text = e?.name && e.message ? `${e.name}: ${e.message}` : errorMessage(err);
    if (e?.name === "AccessDeniedException") {
      if (e.error === "TOKEN_EXPIRED" || e.error === "USER_CREDENTIALS_CHANGED") {
        const reason =
          e.error === "TOKEN_EXPIRED"
            ? "the sign-in service refused to refresh it (TOKEN_EXPIRED: the console session ended)"
            : "the sign-in service refused to refresh it (USER_CREDENTIALS_CHANGED: the password was changed)";
        ended = { at: clock.now(), loginId: r.loginId, refreshId: r.refreshId, reason };
        warnings.clear();
        return sessionOver(reason, err);
      }
      if (e.error === "INSUFFICIENT_PERMISSIONS") {
        return new RefreshSessionError(
          "ACCESS_DENIED",
          `The sign-in service refused to refresh ${who}: INSUFFICIENT_PERMISSIONS. The console identity needs ` +
            "`signin:CreateOAuth2Token` (the SignInLocalDevelopmentAccess managed policy grants it).",
          { ...(profile ? { profile } : {}), source: name, cause: err },
        );
      }
    }
    return new RefreshSessionError(
      "SOURCE_FAILED",
      `Refreshing the \`aws login\` credentials of ${who} failed: ${text}`,
      { ...(profile ? { profile } : {}), source: name, cause: err },
    );
  };

  const source = async (): Promise<AwsCredentialIdentity> => {
    if (closed)
      throw new RefreshSessionError("CLOSED", `The \`aws login\` source of ${who} is closed`, { source: name });
    try {
      const first = await read();
      if (fresh(first)) return serve(first);
      if (ended && ended.refreshId === first.refreshId) throw sessionOver(ended.reason);
      return await withLock(
        cacheFile,
        async () => {
          // Another process may have refreshed while this one waited: its credential, not a spent token.
          const r = await read();
          if (fresh(r)) return serve(r);
          if (ended && ended.refreshId === r.refreshId) throw sessionOver(ended.reason);
          const updated = await refreshWith(r);
          await writeLoginCache(cacheFile, updated);
          lastRefreshAt = clock.now();
          lastError = undefined;
          return serve(await read());
        },
        {
          staleMs: lockStaleMs,
          waitMs: lockWaitMs,
          ...(logger ? { logger } : {}),
          onTimeout: (waited) =>
            new RefreshSessionError(
              "SOURCE_FAILED",
              `Another process has held the lock on ${cacheFile} for ${formatDuration(waited)} while refreshing ${who}; ` +
                "this refresh counts as failed and is retried",
              { ...(profile ? { profile } : {}), source: name },
            ),
        },
      );
    } catch (err) {
      lastError = errorMessage(err);
      throw err;
    }
  };

  const predict = (): LoginSessionEnd | undefined =>
    predictLoginSessionEnd({
      loginSession,
      durationMs,
      ended,
      read: last,
      firstSeenAt: seen?.firstSeenAt ?? clock.now(),
    });

  const warn = (end: LoginSessionEnd, leadMs: number): void => {
    const now = clock.now();
    logger?.warn(
      `aws-refresh-session: the \`aws login\` session of ${who} ends ${describeTime(end.at, now)} (${end.basis}). ` +
        `Run \`${fix}\` before then to carry on.`,
    );
    emit("login-session-ending", {
      profile,
      loginSession,
      endsAt: end.at,
      basis: end.basis,
      remainingMs: end.at.getTime() - now,
      leadMs,
    } satisfies LoginSessionEnding);
  };

  function startWatch(): void {
    if (watcher || closed || init.watch === false) return;
    try {
      let pending: NodeJS.Timeout | undefined;
      watcher = watch(dirname(cacheFile), { persistent: false }, (_event, file) => {
        if (file !== null && file !== basename(cacheFile)) return;
        // A rename over the file comes with a burst of events: read once it has settled.
        clearTimeout(pending);
        pending = setTimeout(() => {
          readLoginCache(cacheFile, ctx).then(note, () => undefined);
        }, 50);
        pending.unref();
      });
      watcher.on("error", () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // no watch: the file is read again at every refresh anyway
    }
  }

  return Object.assign(source, {
    sourceName: name,
    sourceTimeoutMs: lockWaitMs + 30_000,
    loginSession,
    cacheFile,
    async validUntil(): Promise<LoginSessionEnd | undefined> {
      if (!last) await read().catch(() => undefined);
      return predict();
    },
    async status(): Promise<SourceStatusItem[]> {
      const items: SourceStatusItem[] = [
        { key: "login.session", label: "`aws login` session", value: loginSession },
        { key: "login.cacheFile", label: "`aws login` cache file", value: cacheFile },
      ];
      let r: LoginCacheRead | undefined;
      try {
        r = await read();
      } catch (err) {
        items.push({
          key: "login.cacheValid",
          label: "`aws login` cache usable",
          value: false,
          problem: errorMessage(err),
        });
        return items;
      }
      const now = clock.now();
      items.push({
        key: "login.credentialExpiresAt",
        label: "`aws login` credential expires",
        value: new Date(r.expiresAt).toISOString(),
      });
      if (r.shared) {
        items.push({
          key: "login.cacheFileMode",
          label: "`aws login` cache file private",
          value: false,
          problem: `${cacheFile} is readable by others: \`chmod 600 ${cacheFile}\``,
        });
      }
      const end = predict();
      if (end) {
        items.push({
          key: "login.sessionEndsAt",
          label: end.exact ? "`aws login` session ended" : "`aws login` session ends (at the latest)",
          value: end.at.toISOString(),
          ...(end.kind === "ended" || end.at.getTime() <= now ? { problem: `${end.basis}. Run \`${fix}\`.` } : {}),
        });
      }
      if (lastRefreshAt !== undefined) {
        items.push({
          key: "login.lastRefreshAt",
          label: "`aws login` last refresh",
          value: new Date(lastRefreshAt).toISOString(),
        });
      }
      if (lastError !== undefined && !ended) {
        items.push({ key: "login.lastError", label: "`aws login` last refresh failed", value: lastError });
      }
      return items;
    },
    bindEmitter(fn: SourceEmitter): void {
      emit = fn;
    },
    close(): void {
      closed = true;
      warnings.close();
      watcher?.close();
      watcher = undefined;
      tokens.close();
    },
  });
}
