import { RefreshSessionError } from "../errors.js";
import { describeSsoConfig, loginCommand, type SsoConfig } from "./config.js";

/**
 * The `SSO_LOGIN_FAILED` error every login flow raises: what failed, for which profile or sso-session, and the
 * command to try again. `what` must hold no secret.
 */
export function loginFailed(cfg: SsoConfig, what: string, cause?: unknown): RefreshSessionError {
  return new RefreshSessionError(
    "SSO_LOGIN_FAILED",
    `IAM Identity Center login for ${describeSsoConfig(cfg)} failed: ${what}. Run \`${loginCommand(cfg)}\` to try again.`,
    { profile: cfg.profile, cause },
  );
}

/** The error of a login its caller aborted. */
export function loginAborted(cfg: SsoConfig, signal: AbortSignal): RefreshSessionError {
  return loginFailed(cfg, `cancelled (${String(signal.reason ?? "aborted")})`);
}
