import { formatDuration } from "../util/duration.js";
import type { SsoDurationSource, SsoSessionEnd } from "../types.js";
import { fingerprint, parseCacheTime, type SsoSessionMeta, type SsoTokenFile } from "./cache.js";

/** IAM Identity Center's default session duration (8 h), assumed when nothing better is known. */
export const DEFAULT_SSO_SESSION_DURATION_MS = 8 * 3_600_000;

export type { SsoSessionEnd, SsoDurationSource } from "../types.js";

/** Inputs of {@link predictSsoSessionEnd}. */
export interface SsoPredictionInput {
  token: SsoTokenFile;
  /** mtime of the token file: when its token was last written (by anyone). */
  tokenWrittenAt: number;
  meta: SsoSessionMeta;
  /** A duration stated by the user (option or config key). */
  stated: { ms: number; source: "option" | "config" } | undefined;
  now: number;
}

const DURATION_TEXT: Record<SsoDurationSource, string> = {
  option: "the `ssoSessionDurationMs` option",
  config: "the aws_refresh_sso_session_duration config key",
  learned: "learned when an earlier session's refresh was refused",
  default: "Identity Center's 8h default; state yours with ssoSessionDurationMs or aws_refresh_sso_session_duration",
};

/** The session duration in force and where it came from. */
export function sessionDuration(
  stated: SsoPredictionInput["stated"],
  meta: SsoSessionMeta,
): { ms: number; source: SsoDurationSource } {
  if (stated) return { ms: stated.ms, source: stated.source };
  if (meta.learnedDurationSeconds !== undefined && meta.learnedDurationSeconds > 0) {
    return { ms: meta.learnedDurationSeconds * 1000, source: "learned" };
  }
  return { ms: DEFAULT_SSO_SESSION_DURATION_MS, source: "default" };
}

/** Whether the token could be refreshed at all (refresh token and an unexpired client registration). */
export function canRefresh(token: SsoTokenFile, now: number): boolean {
  if (!token.refreshToken || !token.clientId || !token.clientSecret) return false;
  const reg = parseCacheTime(token.registrationExpiresAt);
  return reg === undefined || reg > now;
}

/**
 * Predicts when an SSO session ends. AWS does not publish a refreshable session's end, so this says what it rests
 * on: the legacy token's expiry, a refused refresh, the recorded login time plus a stated / learned / default
 * duration, or (login time unknown) the first time this library saw the session.
 *
 * @example
 * ```ts
 * const end = predictSsoSessionEnd({ token, tokenWrittenAt, meta, stated: undefined, now: Date.now() });
 * console.log(`${end.at.toISOString()} (${end.basis})`);
 * ```
 */
export function predictSsoSessionEnd(input: SsoPredictionInput): SsoSessionEnd {
  const { token, meta, now } = input;
  const expiresAt = parseCacheTime(token.expiresAt) as number;
  if (!canRefresh(token, now)) {
    const why = token.refreshToken
      ? `its client registration expired at ${token.registrationExpiresAt}, so it cannot be refreshed`
      : "a legacy token without a refresh token";
    return {
      source: "sso",
      at: new Date(expiresAt),
      basis: `access token expiry (${why}): the session ends when the token does`,
      kind: "legacy-token",
      exact: true,
      loginAt: undefined,
      durationMs: undefined,
      durationSource: undefined,
    };
  }
  const endedAt = parseCacheTime(meta.endedAt);
  if (endedAt !== undefined && input.tokenWrittenAt <= endedAt + 1000) {
    return {
      source: "sso",
      at: new Date(endedAt),
      basis: `a refresh was refused at ${new Date(endedAt).toISOString()}: the session has ended; log in again`,
      kind: "ended",
      exact: true,
      loginAt: undefined,
      durationMs: undefined,
      durationSource: undefined,
    };
  }
  const d = sessionDuration(input.stated, meta);
  const loginAt = parseCacheTime(meta.loginAt);
  if (loginAt !== undefined) {
    const ours = meta.tokenFingerprint === fingerprint(token.accessToken);
    return {
      source: "sso",
      at: new Date(loginAt + d.ms),
      basis:
        `login at ${new Date(loginAt).toISOString()} (recorded by aws-refresh` +
        (ours ? "" : "; the token was rewritten by another tool since, so a later login may extend it") +
        `) + ${formatDuration(d.ms)} session duration (${DURATION_TEXT[d.source]})`,
      kind: "login",
      exact: false,
      loginAt: new Date(loginAt),
      durationMs: d.ms,
      durationSource: d.source,
    };
  }
  const seen = parseCacheTime(meta.firstSeenAt) ?? Math.min(input.tokenWrittenAt, now);
  return {
    source: "sso",
    at: new Date(seen + d.ms),
    basis:
      `login time unknown (logged in by another tool): at most ${formatDuration(d.ms)} (${DURATION_TEXT[d.source]}) ` +
      `after aws-refresh first saw this session at ${new Date(seen).toISOString()}; log in with \`aws-refresh login\` ` +
      "to have the login time recorded",
    kind: "first-seen",
    exact: false,
    loginAt: undefined,
    durationMs: d.ms,
    durationSource: d.source,
  };
}
