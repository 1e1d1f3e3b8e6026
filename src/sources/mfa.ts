import { RefreshSessionError } from "../errors.js";
import { CommandError, commandName, runCommand, type CommandSpec } from "../util/childProcess.js";

/** How long an MFA command may run before it is killed. */
export const DEFAULT_MFA_TIMEOUT_MS = 60_000;

/**
 * Where MFA codes come from: an async function (given the device's serial, e.g. for a prompt), a command as an argv
 * array run without a shell, or `{ shell: "…" }`, a command line run by `/bin/sh -c` (what `aws-refresh
 * --mfa-command` takes).
 */
export type MfaTokenCode = ((serialNumber: string) => Promise<string>) | readonly string[] | { readonly shell: string };

const CODE = /(?<![0-9])[0-9]{6}(?![0-9])/g;

/** Validates an MFA token-code option up front; throws TypeError naming the option. */
export function validateMfaTokenCode(option: string, value: unknown): asserts value is MfaTokenCode {
  if (typeof value === "function") return;
  if (Array.isArray(value) && value.length > 0 && value.every((a) => typeof a === "string") && value[0] !== "") return;
  const shell = (value as { shell?: unknown } | null)?.shell;
  if (typeof shell === "string" && shell.trim() !== "") return;
  throw new TypeError(
    `\`${option}\` must be an async function, a non-empty argv array of strings (run without a shell) or ` +
      '`{ shell: "command line" }`',
  );
}

/**
 * Gets one MFA code: calls the function, or runs the command and reads the last standalone 6-digit number from its
 * stdout. Fails with code `MFA_FAILED` when there is none, the command fails or it times out.
 *
 * @example
 * ```ts
 * const code = await getMfaCode(["ykman", "oath", "accounts", "code", "--single", "aws"], { serialNumber, timeoutMs: 30_000 });
 * ```
 */
export async function getMfaCode(
  tokenCode: MfaTokenCode,
  context: { serialNumber: string; timeoutMs?: number; source?: string },
): Promise<string> {
  const source = context.source ?? `mfa:${context.serialNumber}`;
  const fail = (message: string, cause?: unknown): RefreshSessionError =>
    new RefreshSessionError("MFA_FAILED", `MFA for ${context.serialNumber}: ${message}`, { source, cause });
  if (typeof tokenCode === "function") {
    let code: unknown;
    try {
      code = await tokenCode(context.serialNumber);
    } catch (err) {
      throw fail(`the token-code function failed: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    if (typeof code !== "string" || !/^[0-9]{6}$/.test(code.trim())) {
      throw fail("the token-code function did not return a 6-digit code");
    }
    return code.trim();
  }
  const spec: CommandSpec = Array.isArray(tokenCode)
    ? { argv: tokenCode as readonly string[] }
    : { shell: (tokenCode as { shell: string }).shell };
  const file = commandName(spec);
  const timeoutMs = context.timeoutMs ?? DEFAULT_MFA_TIMEOUT_MS;
  let stdout: string;
  try {
    // Its own process group: a hung command is killed with everything it started.
    ({ stdout } = await runCommand(spec, { timeoutMs }));
  } catch (err) {
    const e = err as CommandError;
    if (e.reason === "timeout") {
      throw fail(`the MFA command \`${file}\` did not finish within ${timeoutMs} ms and was killed`, err);
    }
    if (e.reason === "not-found") throw fail(`the MFA command \`${file}\` was not found`, err);
    if (e.reason === "exit") throw fail(`the MFA command \`${file}\` failed (exit ${String(e.exitCode)})`, err);
    throw fail(`the MFA command \`${file}\`: ${e.message}`, err);
  }
  const codes = stdout.match(CODE);
  if (!codes || codes.length === 0) {
    // Never echo the output: it may hold other secrets.
    throw fail(`the MFA command \`${file}\` printed no standalone 6-digit code on stdout`);
  }
  return codes[codes.length - 1] as string;
}
