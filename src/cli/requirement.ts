import { RefreshSessionError } from "../errors.js";
import { describeTime } from "../util/timeText.js";
import { formatDuration } from "../util/duration.js";
import type { SessionEnd, SsoSessionEnd } from "../types.js";
import type { ResolvedSource } from "./profile.js";

/** Outcome of {@link checkRequirement}. */
export interface RequirementCheck {
  ok: boolean;
  /** The predicted end of the underlying session, when the source can tell. */
  end: SessionEnd | undefined;
  /** Set when the requirement cannot be met: what is wrong and what to do (`problem` and `fix` together). */
  error?: RefreshSessionError;
  /** What is wrong, when the requirement is not met. */
  problem?: string;
  /** What to do about it. */
  fix?: string;
  /** Set when the source cannot predict its end: what was (not) checked. */
  note?: string;
}

/**
 * A `--require` duration as people write a job's length: in hours past a day (`30h`, not `1d6h`), since the flag is
 * usually given in hours.
 *
 * @example
 * ```ts
 * formatRequirement(30 * 3_600_000); // "30h"
 * ```
 */
export function formatRequirement(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  if (hours < 24) return formatDuration(ms);
  const rest = ms - hours * 3_600_000;
  return `${hours}h${rest >= 1000 ? formatDuration(rest) : ""}`;
}

/** Options of {@link checkRequirement}. */
export interface RequirementOptions {
  /** Default `Date.now()`. */
  now?: number;
  /** Whether a notify hook (`--notify`) will ask for new SSO logins while the job runs (changes the advice only). */
  notify?: boolean;
  /** The session end already asked of the source (`status` has it), so it is not read again. */
  end?: SessionEnd | undefined;
}

/**
 * Checks that the source can keep credentials valid for `requireMs` from now: the predicted end of its underlying
 * session (an SSO session, an MFA session) must lie beyond it. Sources without such an end (static keys, a role over
 * keys, web identity) refresh without limit and pass.
 */
export async function checkRequirement(
  resolved: ResolvedSource,
  requireMs: number,
  options: RequirementOptions = {},
): Promise<RequirementCheck> {
  const now = options.now ?? Date.now();
  const end = "end" in options ? options.end : await resolved.session.validUntil();
  const wanted = formatRequirement(requireMs);
  if (end === undefined) {
    const unbounded = resolved.kind === "assume-role" || resolved.kind === "web-identity" || resolved.kind === "static";
    return {
      ok: true,
      end,
      ...(unbounded
        ? {}
        : {
            note: `${resolved.description}: this source does not say when its session ends, so --require ${wanted} was not checked against it`,
          }),
    };
  }
  if (end.at.getTime() >= now + requireMs) return { ok: true, end };
  const who = resolved.profile ? `Profile "${resolved.profile}"` : "The source";
  let fix: string;
  switch (end.source) {
    case "sso":
      fix = ssoFix(resolved, end, requireMs, now, options.notify === true);
      break;
    case "mfa":
      fix =
        "Ask for a longer MFA session with --mfa-duration (up to 36h), give an --mfa-command that can produce codes " +
        "unattended, or lower --require.";
      break;
    case "certificate":
      fix =
        `Renew the certificate before ${end.at.toISOString()} and write it, with its key, to ${end.location}: the ` +
        "source reads it again at every refresh, so the job carries on with the renewed one. Or lower --require.";
      break;
    case "login": {
      const profile = resolved.profile ?? "<profile>";
      fix =
        end.kind === "ended"
          ? `Run \`aws login --profile ${profile}\` and start again.`
          : `An \`aws login\` session lasts at most 12h: run \`aws login --profile ${profile}\` now for the longest one, ` +
            "and again before it ends (the running job picks each new login up), or lower --require.";
      break;
    }
  }
  const problem =
    `${who} cannot keep credentials valid for ${wanted}: ${end.basis}, at ${describeTime(end.at, now)}, ` +
    `${formatDuration(Math.max(0, now + requireMs - end.at.getTime()))} short of --require ${wanted}`;
  return {
    ok: false,
    end,
    problem,
    fix,
    error: new RefreshSessionError("SESSION_TOO_SHORT", `${problem}. ${fix}`, {
      ...(resolved.profile ? { profile: resolved.profile } : {}),
      source: resolved.session.credentials.sourceName,
    }),
  };
}

/** What to do when an SSO session ends before `--require`: a fresh login helps only if a session can last that long. */
function ssoFix(resolved: ResolvedSource, end: SsoSessionEnd, requireMs: number, now: number, notify: boolean): string {
  const profile = resolved.profile ?? "<profile>";
  // The SSO source's prediction says how long a session lasts here (stated, learned or the 8h default).
  const durationMs = end.durationMs;
  const left = formatDuration(Math.max(0, end.at.getTime() - now));
  const relogin = notify
    ? "--notify will ask for a new login before the session ends, but --require counts only the current session: " +
      `drop --require, or lower it to ${left} or less`
    : "run the job with --notify CMD so a new login can be approved (from a phone) while it runs, and without " +
      `--require, or lower --require to ${left} or less`;
  if (typeof durationMs === "number" && durationMs < requireMs) {
    // Only a duration someone stated is known; a learned one is a lower bound from one refused refresh, and the
    // default a guess: neither proves that no session can last long enough.
    if (end.durationSource === "option" || end.durationSource === "config") {
      return (
        `No IAM Identity Center session lasts ${formatRequirement(requireMs)} here (the session duration is ` +
        `${formatDuration(durationMs)}, as ${end.durationSource === "config" ? "aws_refresh_sso_session_duration" : "ssoSessionDurationMs"} ` +
        `states), so logging in again will not help. To run the job anyway: ${relogin}; or ask your administrator for ` +
        "a longer session duration in IAM Identity Center (and state it with aws_refresh_sso_session_duration)."
      );
    }
    return (
      `A fresh session is predicted to last ${formatDuration(durationMs)} (${
        end.durationSource === "learned"
          ? "learned when an earlier session's refresh was refused: a lower bound"
          : "Identity Center's 8h default"
      }). If your sessions last longer, state it with aws_refresh_sso_session_duration in the sso-session, log in ` +
      `again (\`aws-refresh login --profile ${profile}\`) and retry. Or ${relogin}.`
    );
  }
  return (
    `Log in again now for a fresh session: \`aws-refresh login --profile ${profile}\` (it records the login time, ` +
    `which this prediction rests on; \`aws sso login --profile ${profile}\` works too). Or ${relogin}.`
  );
}
