import type { AwsCredentialIdentity } from "@smithy/types";
import { RefreshSessionError, errorMessage } from "../errors.js";
import { DEFAULT_ADVISORY_MS } from "../refresh/options.js";
import type { SsoLoginRequired, SsoSessionEnd } from "../types.js";
import { describeTime } from "../util/timeText.js";
import {
  DEFAULT_SSO_LOCK_STALE_MS,
  fingerprint,
  formatCacheTime,
  parseCacheTime,
  readMeta,
  withCacheLock,
  writeJsonAtomic,
  type SsoSessionMeta,
  type SsoTokenFile,
} from "./cache.js";
import { describeSsoConfig } from "./config.js";
import { refreshSsoToken, refusalKind, sdkErrorText } from "./oidc.js";
import { canRefresh } from "./session-end.js";
import type { ReadToken, SsoSession } from "./ssoSession.js";

/**
 * IAM Identity Center's shortest session duration (15 minutes). A refused refresh sooner than this after a login was
 * not the session running out (a revoked session, a token rotated elsewhere): nothing is learned from it.
 */
export const MIN_SSO_SESSION_DURATION_MS = 15 * 60_000;

/** What the token refresh needs from the rest of the session's handling. */
export interface TokenRefreshHooks {
  /** The token the engine holds, if any. */
  held(): AwsCredentialIdentity | undefined;
  loginNeeded(): boolean;
  loginDone(accessToken: string): void;
  startLogin(reason: SsoLoginRequired["reason"]): void;
  reschedule(): void;
  prediction(r: ReadToken, meta: SsoSessionMeta): SsoSessionEnd | undefined;
}

/**
 * The SSO access token engine's source: the cache file when someone else refreshed it (another process, another tool,
 * a new login), else CreateToken (refresh_token grant) under the cache lock, written back atomically in the AWS CLI's
 * format. A refused refresh ends the session, teaches what it can about the session's duration, and starts a login.
 */
export function ssoTokenSource(s: SsoSession, hooks: TokenRefreshHooks): () => Promise<AwsCredentialIdentity> {
  /** A token written recently enough that this process should use it rather than refresh it again. */
  const freshEnough = (r: ReadToken, now: number): boolean => {
    const lifetime = r.expiresAt - Math.min(r.mtimeMs, now);
    const advisory = Math.min(s.o.tokenRefresh?.advisoryMs ?? DEFAULT_ADVISORY_MS, lifetime / 2);
    return r.expiresAt - now > advisory;
  };

  /**
   * A token of a login made after the session ended (by another process or tool): the meta file stops describing the
   * ended login. `loginToken` is the token as the cache held it when this process first saw it.
   */
  const noticeNewLogin = async (loginToken: string, now: number): Promise<void> => {
    if (s.endedToken === undefined || s.endedToken === loginToken) return;
    const fp = fingerprint(loginToken);
    await s.updateMeta((m) => {
      const ours = m.tokenFingerprint === fp;
      const { endedAt: _e, ...rest } = m;
      return ours ? rest : { ...rest, loginAt: undefined, firstSeenAt: formatCacheTime(now) };
    });
  };

  /** A token other than the one held: another process's refresh, or a login made somewhere. */
  const adoptNew = async (r: ReadToken, now: number): Promise<AwsCredentialIdentity> => {
    await noticeNewLogin(r.token.accessToken, now);
    if (hooks.loginNeeded()) hooks.loginDone(r.token.accessToken);
    return s.identity(r);
  };

  /** SSO-OIDC refused the refresh: record what that teaches, start a login, and say what to do. */
  const refused = async (r: ReadToken, err: unknown, kind: "session" | "client"): Promise<RefreshSessionError> => {
    const now = s.now();
    s.endedToken = r.token.accessToken;
    s.endedWhy = "the session has ended (a refresh was refused)";
    await s.updateMeta((m) => {
      const next: SsoSessionMeta = { ...m, endedAt: formatCacheTime(now) };
      const loginAt = parseCacheTime(m.loginAt);
      // The session was alive when this token was last written and dead now: its duration is at least that long.
      // Shorter than any session Identity Center allows, it says nothing about the duration (a revocation).
      if (kind === "session" && loginAt !== undefined && r.mtimeMs - loginAt >= MIN_SSO_SESSION_DURATION_MS) {
        next.learnedDurationSeconds = Math.floor((r.mtimeMs - loginAt) / 1000);
        next.learnedAt = formatCacheTime(now);
      }
      return next;
    });
    s.o.logger?.warn(
      `aws-refresh-session: IAM Identity Center refused to refresh the token of ${describeSsoConfig(s.config)} ` +
        `(${sdkErrorText(err)}): the session has ended`,
    );
    hooks.reschedule();
    hooks.startLogin("session-ended");
    return s.loginRequiredError(
      "session-ended",
      kind === "session"
        ? `IAM Identity Center refused to refresh its token (${sdkErrorText(err)}): the session has ended`
        : `IAM Identity Center refused its client registration (${sdkErrorText(err)})`,
      err,
    );
  };

  /** CreateToken under the lock, unless another process refreshed while this one waited for it. */
  const refreshLocked = async (read: ReadToken): Promise<AwsCredentialIdentity> => {
    const again = (await s.read()) ?? read;
    const t = s.now();
    if (again.token.accessToken !== read.token.accessToken && again.expiresAt > t) {
      return adoptNew(again, t); // another process refreshed it while we waited for the lock
    }
    const base = again.token;
    let out;
    try {
      out = await refreshSsoToken(s.client(), {
        clientId: base.clientId as string,
        clientSecret: base.clientSecret as string,
        refreshToken: base.refreshToken as string,
      });
    } catch (err) {
      const kind = refusalKind(err);
      if (kind) throw await refused(again, err, kind);
      throw new RefreshSessionError(
        "SOURCE_FAILED",
        `Refreshing the SSO access token of ${describeSsoConfig(s.config)} failed: SSO-OIDC CreateToken: ` +
          `${sdkErrorText(err)}. The current token ${again.expiresAt > t ? "stays in use until" : "expired"} ` +
          `${describeTime(new Date(again.expiresAt), t)}; retrying.`,
        { profile: s.config.profile, source: s.name, cause: err },
      );
    }
    const at = s.now();
    const next: SsoTokenFile = {
      ...base,
      accessToken: out.accessToken,
      expiresAt: formatCacheTime(at + out.expiresInSeconds * 1000),
      ...(out.refreshToken ? { refreshToken: out.refreshToken } : {}),
    };
    const identity = s.identity({ token: next, expiresAt: parseCacheTime(next.expiresAt) as number });
    // A login made elsewhere whose token this process first saw too late to adopt as it was (past half its life):
    // refreshing it picks the login up as adopting it would, and ends the wait for one.
    const newLogin = s.endedToken !== undefined && s.endedToken !== base.accessToken;
    if (newLogin) await noticeNewLogin(base.accessToken, at);
    try {
      await writeJsonAtomic(s.tokenPath, next);
    } catch (err) {
      // The new token is good: use it even if it cannot be shared through the cache this time.
      s.o.logger?.warn(
        `aws-refresh-session: could not write the refreshed SSO token to ${s.tokenPath}: ${errorMessage(err)}`,
      );
      if (newLogin && hooks.loginNeeded()) hooks.loginDone(base.accessToken);
      return identity;
    }
    const meta = await readMeta(s.metaPath);
    const before = hooks.prediction(again, meta);
    await s.updateMeta((m) => {
      const updated: SsoSessionMeta = {
        ...m,
        tokenFingerprint: fingerprint(next.accessToken),
        lastRefreshAt: formatCacheTime(at),
      };
      delete updated.endedAt;
      if (before?.kind === "login" && before.at.getTime() < at) {
        // The session outlived its predicted end. A learned duration was too short (it came from one refused
        // refresh): forget it. Otherwise the recorded login was not the one in use.
        if (before.durationSource === "learned") {
          delete updated.learnedDurationSeconds;
          delete updated.learnedAt;
        } else {
          delete updated.loginAt;
          updated.firstSeenAt = formatCacheTime(at);
        }
      }
      return updated;
    }, meta);
    if (newLogin && hooks.loginNeeded()) hooks.loginDone(base.accessToken);
    return identity;
  };

  return async (): Promise<AwsCredentialIdentity> => {
    const read = await s.read();
    const now = s.now();
    if (!read) throw s.loginRequiredError("no-token", `there is no cached SSO token (${s.tokenPath})`);
    const held = hooks.held();
    const heldExp = held?.expiration?.getTime();
    const changed = held?.secretAccessKey !== read.token.accessToken;
    if (
      read.expiresAt > now &&
      changed &&
      read.token.accessToken !== s.endedToken &&
      (heldExp === undefined || read.expiresAt >= heldExp) &&
      (freshEnough(read, now) || !canRefresh(read.token, now))
    ) {
      return adoptNew(read, now);
    }
    if (s.endedToken !== undefined && read.token.accessToken === s.endedToken) {
      throw s.loginRequiredError("session-ended", s.endedWhy);
    }
    if (!canRefresh(read.token, now)) {
      if (read.expiresAt > now) return s.identity(read);
      s.endedToken = read.token.accessToken; // any other token now means a new login
      s.endedWhy =
        `its access token expired at ${new Date(read.expiresAt).toISOString()} and cannot be refreshed (` +
        `${read.token.refreshToken ? "the client registration expired" : "a legacy token has no refresh token"})`;
      throw s.loginRequiredError("session-ended", s.endedWhy);
    }
    return withCacheLock(s.tokenPath, () => refreshLocked(read), {
      staleMs: s.o.lockStaleMs ?? DEFAULT_SSO_LOCK_STALE_MS,
      ...(s.o.logger ? { logger: s.o.logger } : {}),
      source: s.name,
    });
  };
}
