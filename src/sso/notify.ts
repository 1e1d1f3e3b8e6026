import type { Logger } from "@smithy/types";
import { errorMessage } from "../errors.js";
import { runCommand, type CommandError } from "../util/childProcess.js";
import type { SsoLoginRequired } from "../types.js";

export type { SsoLoginRequired } from "../types.js";

/**
 * A notify hook: a shell command (`"notify-send 'AWS login' \"$AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE\""`), an
 * argv array run without a shell, or a function. Commands get the login's details in `AWS_REFRESH_SSO_*`
 * environment variables (see {@link ssoNotifyEnv}), never a token.
 */
export type SsoNotify = string | string[] | ((info: SsoLoginRequired) => void | Promise<void>);

/** A notify command is stopped if it runs longer than this. */
export const DEFAULT_SSO_NOTIFY_TIMEOUT_MS = 30_000;

/**
 * The environment variables a notify command gets:
 * `AWS_REFRESH_SSO_VERIFICATION_URI`, `AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE`, `AWS_REFRESH_SSO_USER_CODE`,
 * `AWS_REFRESH_SSO_DEADLINE` (ISO time the code expires), `AWS_REFRESH_SSO_REASON`, `AWS_REFRESH_SSO_PROFILE`,
 * `AWS_REFRESH_SSO_SESSION`, `AWS_REFRESH_SSO_START_URL` and `AWS_REFRESH_SSO_SESSION_ENDS_AT`.
 *
 * @example
 * ```ts
 * ssoNotifyEnv(info).AWS_REFRESH_SSO_USER_CODE; // "BCDF-GHJK"
 * ```
 */
export function ssoNotifyEnv(info: SsoLoginRequired): Record<string, string> {
  return {
    AWS_REFRESH_SSO_VERIFICATION_URI: info.verificationUri,
    AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE: info.verificationUriComplete,
    AWS_REFRESH_SSO_USER_CODE: info.userCode,
    AWS_REFRESH_SSO_DEADLINE: info.expiresAt.toISOString(),
    AWS_REFRESH_SSO_REASON: info.reason,
    AWS_REFRESH_SSO_PROFILE: info.profile ?? "",
    AWS_REFRESH_SSO_SESSION: info.ssoSession ?? "",
    AWS_REFRESH_SSO_START_URL: info.startUrl,
    AWS_REFRESH_SSO_SESSION_ENDS_AT: info.sessionEndsAt?.toISOString() ?? "",
  };
}

/** Validates a `notify` option; throws TypeError naming it. */
export function validateNotify(notify: unknown, name = "notify"): void {
  if (notify === undefined) return;
  if (typeof notify === "function") return;
  if (typeof notify === "string" && notify.trim() !== "") return;
  if (Array.isArray(notify) && notify.length > 0 && notify.every((a) => typeof a === "string") && notify[0] !== "") {
    return;
  }
  throw new TypeError(
    `\`${name}\` must be a shell command string, a non-empty argv array of strings, or a function; got ${
      Array.isArray(notify) ? "an invalid array" : typeof notify
    }`,
  );
}

/**
 * Runs a notify hook and waits for it (a command at most `timeoutMs`). Failures are logged, never thrown: a broken
 * hook must not break the job.
 */
export async function runSsoNotify(
  notify: SsoNotify,
  info: SsoLoginRequired,
  options: { logger?: Logger; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  const log = options.logger;
  if (typeof notify === "function") {
    try {
      await notify(info);
    } catch (err) {
      log?.warn(`aws-refresh-session: the SSO notify function failed: ${errorMessage(err)}`);
    }
    return;
  }
  const env = { ...(options.env ?? process.env), ...ssoNotifyEnv(info) };
  const timeoutMs = options.timeoutMs ?? DEFAULT_SSO_NOTIFY_TIMEOUT_MS;
  try {
    // Its own process group: a hung hook is stopped with everything it started.
    await runCommand(typeof notify === "string" ? { shell: notify } : { argv: notify }, { env, timeoutMs });
  } catch (err) {
    const e = err as CommandError;
    const detail = e.reason === "exit" && e.stderr.trim() ? `: ${e.stderr.trim().slice(-500)}` : "";
    log?.warn(
      e.reason === "timeout"
        ? `aws-refresh-session: the SSO notify command ran longer than ${timeoutMs} ms; stopped it`
        : e.reason === "exit"
          ? `aws-refresh-session: the SSO notify command exited with ${String(e.exitCode ?? e.exitSignal)}${detail}`
          : `aws-refresh-session: could not run the SSO notify command: ${e.message}`,
    );
  }
}
