import type { Command } from "commander";
import { startEmulator, type Emulator, type EmulatorOptions } from "../emulator/emulator.js";
import type { RegisterCommand } from "./commands.js";

/** Input of {@link runEmulate}. */
export interface EmulateInput extends EmulatorOptions {
  json?: boolean;
}

/** What the command needs from its surroundings; tests pass a signal of their own. */
export interface EmulateDeps {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Resolves when the emulator should stop (the CLI: on SIGINT or SIGTERM). */
  until: Promise<unknown>;
  /** Called once the emulator listens. */
  onReady?: (emu: Emulator) => void;
}

/** The environment lines that point an SDK or CLI at the emulator with its root credentials. */
export function emulatorEnv(emu: Emulator): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: emu.region,
    AWS_ACCESS_KEY_ID: emu.rootCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: emu.rootCredentials.secretAccessKey,
  };
}

/**
 * Runs the emulator until `deps.until` resolves. Prints its URL and the environment lines to use it (the root keys
 * open only this local emulator; they are not AWS secrets).
 *
 * @example
 * ```ts
 * await runEmulate({ credentialLifetimeSeconds: 5 }, { stdout: process.stdout, stderr: process.stderr, until: once(process, "SIGINT") });
 * ```
 */
export async function runEmulate(input: EmulateInput, deps: EmulateDeps): Promise<number> {
  const { json, ...options } = input;
  let emu: Emulator;
  try {
    emu = await startEmulator(options);
  } catch (err) {
    deps.stderr.write(`aws-refresh emulate: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const env = emulatorEnv(emu);
  if (json) {
    deps.stdout.write(`${JSON.stringify({ url: emu.url, region: emu.region, accountId: emu.accountId, env })}\n`);
  } else {
    deps.stdout.write(
      `# emulator listening at ${emu.url} (STS, S3; credentials live ${emu.credentialLifetimeSeconds()}s)\n` +
        Object.entries(env)
          .map(([k, v]) => `export ${k}=${v}`)
          .join("\n") +
        "\n",
    );
    deps.stderr.write("Press Ctrl-C to stop.\n");
  }
  deps.onReady?.(emu);
  await deps.until;
  await emu.close();
  return 0;
}

function number(name: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** Registers `aws-refresh emulate`. */
export const registerEmulate: RegisterCommand = (program: Command, setExitCode) => {
  program
    .command("emulate")
    .description(
      "Run a local STS + S3 endpoint that issues short-lived credentials, checks every SigV4 signature and answers " +
        "with AWS's own errors, so you can prove a job survives credential rotation in seconds. Prints the environment " +
        "to point an SDK or the AWS CLI at it.",
    )
    .option("--port <n>", "port to listen on (0 = any free port)", number("--port"), 0)
    .option("--host <address>", "loopback address to listen on", "127.0.0.1")
    .option("--lifetime <seconds>", "lifetime of the credentials it issues", number("--lifetime"), 3600)
    .option(
      "--clock-offset <ms>",
      "run the server clock this far ahead (negative: behind)",
      number("--clock-offset"),
      0,
    )
    .option("--region <region>", "region it reports", "us-east-1")
    .option("--json", "print the URL and environment as JSON")
    .action(
      async (opts: {
        port: number;
        host: string;
        lifetime: number;
        clockOffset: number;
        region: string;
        json?: boolean;
      }) => {
        const until = new Promise((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        setExitCode(
          await runEmulate(
            {
              port: opts.port,
              host: opts.host,
              credentialLifetimeSeconds: opts.lifetime,
              clockOffsetMs: opts.clockOffset,
              region: opts.region,
              ...(opts.json ? { json: true } : {}),
            },
            { stdout: process.stdout, stderr: process.stderr, until },
          ),
        );
      },
    );
};
