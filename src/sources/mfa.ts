import { execFile } from "node:child_process";
import { RefreshSessionError } from "../errors.js";

/** How long an MFA command may run before it is killed. */
export const DEFAULT_MFA_TIMEOUT_MS = 60_000;

/** Where MFA codes come from: an async function, or a command as an argv array run without a shell. */
export type MfaTokenCode = (() => Promise<string>) | readonly string[];

const CODE = /(?<![0-9])[0-9]{6}(?![0-9])/g;

/** Validates an MFA token-code option up front; throws TypeError naming the option. */
export function validateMfaTokenCode(option: string, value: unknown): asserts value is MfaTokenCode {
  if (typeof value === "function") return;
  if (Array.isArray(value) && value.length > 0 && value.every((a) => typeof a === "string") && value[0] !== "") return;
  throw new TypeError(
    `\`${option}\` must be an async function or a non-empty argv array of strings (run without a shell)`,
  );
}

/**
 * Gets one MFA code: calls the function, or runs the argv command (no shell) and reads the last standalone 6-digit
 * number from its stdout. Fails with code `MFA_FAILED` when there is none, the command fails or it times out.
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
      code = await tokenCode();
    } catch (err) {
      throw fail(`the token-code function failed: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    if (typeof code !== "string" || !/^[0-9]{6}$/.test(code.trim())) {
      throw fail("the token-code function did not return a 6-digit code");
    }
    return code.trim();
  }
  const [file, ...args] = tokenCode;
  const timeoutMs = context.timeoutMs ?? DEFAULT_MFA_TIMEOUT_MS;
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      file as string,
      args,
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 1024 * 1024, windowsHide: true },
      (err, out) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
          if (e.killed)
            reject(fail(`the MFA command \`${file}\` did not finish within ${timeoutMs} ms and was killed`));
          else if (e.code === "ENOENT") reject(fail(`the MFA command \`${file}\` was not found`, err));
          else reject(fail(`the MFA command \`${file}\` failed (exit ${String(e.code)})`, err));
          return;
        }
        resolve(String(out));
      },
    );
  });
  const codes = stdout.match(CODE);
  if (!codes || codes.length === 0) {
    // Never echo the output: it may hold other secrets.
    throw fail(`the MFA command \`${file}\` printed no standalone 6-digit code on stdout`);
  }
  return codes[codes.length - 1] as string;
}
