import type { Command } from "commander";
import { startEmulator, type Emulator, type EmulatorOptions } from "../emulator/emulator.js";
import type { SsoOidcOptions } from "../emulator/sso-oidc.js";
import { addSsoServices, type EmulatorSso } from "../emulator/sso-portal.js";
import { parseDuration } from "./duration.js";
import type { RegisterCommand } from "./commands.js";

/** Input of {@link runEmulate}. */
export interface EmulateInput extends EmulatorOptions {
  json?: boolean;
  /** The SSO-OIDC / access portal part: session duration, access-token lifetime, auto-approval. */
  sso?: SsoOidcOptions;
}

/** What the command needs from its surroundings; tests pass a signal of their own. */
export interface EmulateDeps {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Resolves when the emulator should stop (the CLI: on SIGINT or SIGTERM). */
  until: Promise<unknown>;
  /** Called once the emulator listens. */
  onReady?: (emu: Emulator, sso: EmulatorSso) => void;
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
  const { json, sso: ssoOptions, ...options } = input;
  let emu: Emulator;
  let sso: EmulatorSso;
  try {
    emu = await startEmulator(options);
    try {
      sso = addSsoServices(emu, ssoOptions ?? {});
    } catch (err) {
      await emu.close();
      throw err;
    }
  } catch (err) {
    deps.stderr.write(`aws-refresh emulate: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const env = emulatorEnv(emu);
  const deviceUrl = `${emu.url}/device`;
  if (json) {
    deps.stdout.write(
      `${JSON.stringify({ url: emu.url, region: emu.region, accountId: emu.accountId, env, sso: { deviceUrl, roles: ["AdministratorAccess", "ReadOnlyAccess"] } })}\n`,
    );
  } else {
    deps.stdout.write(
      `# emulator listening at ${emu.url} (STS, S3, SSO-OIDC, SSO portal; credentials live ${emu.credentialLifetimeSeconds()}s)\n` +
        Object.entries(env)
          .map(([k, v]) => `export ${k}=${v}`)
          .join("\n") +
        "\n" +
        `# SSO: any sso_start_url works; roles AdministratorAccess and ReadOnlyAccess in account ${emu.accountId}.\n` +
        `# Approve device logins at ${deviceUrl} (or: curl -d user_code=CODE ${deviceUrl}).\n`,
    );
    deps.stderr.write("Press Ctrl-C to stop.\n");
  }
  deps.onReady?.(emu, sso);
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
      "Run a local STS + S3 + SSO (SSO-OIDC and access portal) endpoint that issues short-lived credentials and SSO " +
        "tokens, checks every SigV4 signature and answers with AWS's own errors, so you can prove a job survives " +
        "credential rotation and SSO session ends in seconds. Prints the environment to point an SDK or the AWS CLI at it.",
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
    .option("--sso-session-duration <duration>", "IAM Identity Center session duration, e.g. 8h or 30s", "8h")
    .option("--sso-token-lifetime <duration>", "lifetime of SSO access tokens, e.g. 1h or 5s", "1h")
    .option("--sso-auto-approve", "approve every SSO device login at once (no user needed)")
    .option("--json", "print the URL and environment as JSON")
    .action(
      async (opts: {
        port: number;
        host: string;
        lifetime: number;
        clockOffset: number;
        region: string;
        json?: boolean;
        ssoSessionDuration: string;
        ssoTokenLifetime: string;
        ssoAutoApprove?: boolean;
      }) => {
        const seconds = (text: string, flag: string): number =>
          Math.max(1, Math.round(parseDuration(text, flag) / 1000));
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
              sso: {
                sessionDurationSeconds: seconds(opts.ssoSessionDuration, "--sso-session-duration"),
                accessTokenLifetimeSeconds: seconds(opts.ssoTokenLifetime, "--sso-token-lifetime"),
                ...(opts.ssoAutoApprove ? { autoApprove: true } : {}),
              },
            },
            { stdout: process.stdout, stderr: process.stderr, until },
          ),
        );
      },
    );
};
