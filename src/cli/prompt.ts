import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { RefreshSessionError } from "../errors.js";

/**
 * Asks for an MFA code on the controlling terminal (`/dev/tty`), so it works even when stdin and stdout belong to a
 * child or to a program that runs `credential_process`. Fails with `MFA_FAILED` when there is no terminal.
 */
export function promptMfaCode(serialNumber: string, timeoutMs = 120_000): Promise<string> {
  const noTty = (cause?: unknown): RefreshSessionError =>
    new RefreshSessionError(
      "MFA_FAILED",
      `MFA for ${serialNumber}: there is no terminal to ask for the code on; ` +
        "pass --mfa-command CMD (a command that prints the code, e.g. `ykman oath accounts code -s aws`)",
      { source: `mfa:${serialNumber}`, cause },
    );
  if (process.platform === "win32") return Promise.reject(noTty());
  return new Promise<string>((resolve, reject) => {
    const input = createReadStream("/dev/tty");
    const output = createWriteStream("/dev/tty");
    let settled = false;
    const done = (err: Error | undefined, code?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      rl?.close();
      input.destroy();
      output.end();
      if (err) reject(err);
      else resolve(code as string);
    };
    const timer = setTimeout(
      () =>
        done(
          new RefreshSessionError("MFA_FAILED", `MFA for ${serialNumber}: no code was typed within ${timeoutMs} ms`, {
            source: `mfa:${serialNumber}`,
          }),
        ),
      timeoutMs,
    );
    input.once("error", (err) => done(noTty(err)));
    output.once("error", (err) => done(noTty(err)));
    let rl: ReturnType<typeof createInterface> | undefined;
    input.once("open", () => {
      rl = createInterface({ input, output, terminal: false });
      output.write(`aws-refresh: MFA code for ${serialNumber}: `);
      rl.once("line", (line) => {
        const code = line.trim();
        if (/^[0-9]{6}$/.test(code)) done(undefined, code);
        else
          done(
            new RefreshSessionError("MFA_FAILED", `MFA for ${serialNumber}: the code must be 6 digits`, {
              source: `mfa:${serialNumber}`,
            }),
          );
      });
    });
  });
}
