import { RefreshSessionError, describeTime, formatDuration } from "../errors.js";
import type { SessionEnd } from "../session/methods.js";
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
 * Checks that the source can keep credentials valid for `requireMs` from now: the predicted end of its underlying
 * session (an SSO session, an MFA session) must lie beyond it. Sources without such an end (static keys, a role over
 * keys, web identity) refresh without limit and pass.
 */
export async function checkRequirement(
  resolved: ResolvedSource,
  requireMs: number,
  now: number = Date.now(),
): Promise<RequirementCheck> {
  const end = await resolved.session.validUntil();
  const wanted = formatDuration(requireMs);
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
  if (resolved.kind === "sso") {
    fix =
      `Log in again now for a fresh session (\`aws sso login --profile ${resolved.profile ?? "<profile>"}\`), ` +
      "pass --notify CMD so a new login can be approved while the job runs, ask your administrator for a longer " +
      "session duration in IAM Identity Center, or lower --require.";
  } else if (/MFA/i.test(end.basis)) {
    fix =
      "Ask for a longer MFA session with --mfa-duration (up to 36h), give an --mfa-command that can produce codes " +
      "unattended, or lower --require.";
  } else {
    fix = "Renew the underlying session before starting, or lower --require.";
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
