import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";

/**
 * Asks for an MFA code on the controlling terminal (`/dev/tty`), so it works even when stdin and stdout belong to a
 * child or to a program that runs `credential_process`. Fails when there is no terminal (the MFA source wraps the
 * error with the device's name and code `MFA_FAILED`).
 */
export function promptMfaCode(serialNumber: string, timeoutMs = 120_000): Promise<string> {
  const noTty = (cause?: unknown): Error =>
    new Error(
      "there is no terminal to ask for the code on; pass --mfa-command CMD (a command that prints the code, " +
        "e.g. `ykman oath accounts code -s aws`)",
      { cause },
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
      () => done(new Error(`no code was typed within ${Math.round(timeoutMs / 1000)} s`)),
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
        else done(new Error("the code typed was not 6 digits"));
      });
    });
  });
}
