import type { Logger } from "@smithy/types";
import type { RefreshableSession } from "../session/RefreshableSession.js";
import { DEFAULT_SSO_LOGIN_TIMEOUT_MS } from "../sources/sso.js";
import { formatDuration } from "../util/duration.js";

/**
 * A logger that writes the engine's warnings and errors to `stderr` and drops the rest. While `quiet()` returns true
 * nothing is written (a failing first fetch is reported once, by the command, not also by the engine). Records that
 * are not text are dropped: the SDK clients inside a source (the SSO portal, SSO-OIDC) log one object per failed
 * call, which would print as `[object Object]`, and whose failure the engine reports in words anyway.
 */
export function stderrLogger(stderr: NodeJS.WritableStream, quiet: () => boolean = () => false): Logger {
  const write = (...parts: unknown[]): void => {
    if (quiet() || typeof parts[0] !== "string") return;
    stderr.write(`${parts.map(String).join(" ")}\n`);
  };
  return { debug: () => {}, info: () => {}, warn: write, error: write };
}

/**
 * While `holding()` (before the command starts, or before the server serves), the engine's log lines are held back,
 * and with them the SSO source's login prompt: a profile whose session has ended would wait for a login nobody was
 * told about. This says it on stderr instead (URL, code, how long it waits), and when the login is picked up.
 */
export function announceSsoLogins(
  session: RefreshableSession,
  say: (line: string) => void,
  holding: () => boolean,
  loginTimeoutMs: number = DEFAULT_SSO_LOGIN_TIMEOUT_MS,
): void {
  session.on("sso-login-required", (e) => {
    if (!holding()) return; // the engine's logger says it now
    const wait =
      `waiting up to ${formatDuration(loginTimeoutMs)} (--login-timeout), or log in elsewhere (\`aws-refresh login\`, ` +
      "`aws sso login`)";
    if (e.flow === "authorization-code") {
      say(
        `IAM Identity Center login needed for profile ${e.profile ?? "?"} (${e.reason}): a browser is opening on ` +
          `this machine to approve it (until ${e.expiresAt.toISOString()}); ${wait}`,
      );
      return;
    }
    say(
      `IAM Identity Center login needed for profile ${e.profile ?? "?"} (${e.reason}): open ` +
        `${e.verificationUriComplete} and confirm code ${e.userCode} before ${e.expiresAt.toISOString()}; waiting up ` +
        `to ${formatDuration(loginTimeoutMs)} (--login-timeout), or log in elsewhere (\`aws-refresh login\`, ` +
        "`aws sso login`)",
    );
  });
  session.on("sso-login-completed", (e) => {
    if (holding()) say(`IAM Identity Center login picked up for profile ${e.profile ?? "?"}; carrying on`);
  });
}
