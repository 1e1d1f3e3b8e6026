import { startEmulator } from "../emulator/emulator.js";
import type { Emulator, EmulatorOptions } from "../emulator/types.js";
import type { SsoOidcOptions } from "../emulator/sso-oidc.js";
import { addSsoServices, type EmulatorSso } from "../emulator/sso-portal.js";
import { parseQuota } from "../emulator/quotas.js";
import { parseDuration } from "../util/duration.js";
import { isLoopbackHost } from "../server/loopback.js";
import { parseInteger, parsePort } from "./numbers.js";
import { runParsed, type CliCommand } from "./runner.js";
import {
  certificateEndpointsText,
  startCertificateEndpoints,
  type CertificateEndpointsInfo,
  type CertificateEndpointsOptions,
} from "./emulatorCertificates.js";

/** Input of {@link runEmulate}. */
export interface EmulateInput extends EmulatorOptions {
  json?: boolean;
  /** The SSO-OIDC / access portal part: session duration, access-token lifetime, auto-approval. */
  sso?: SsoOidcOptions;
  /** IAM Roles Anywhere and AWS IoT: where the test certificates go, CAs to trust besides the test CA. */
  certificates?: CertificateEndpointsOptions | false;
}

/** What the command needs from its surroundings; tests pass a signal of their own. */
export interface EmulateDeps {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Resolves when the emulator should stop (the CLI: on SIGINT or SIGTERM). */
  until: Promise<unknown>;
  /** Called once the emulator listens. */
  onReady?: (emu: Emulator, sso: EmulatorSso, certificates: CertificateEndpointsInfo | undefined) => void;
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
  const { json, sso: ssoOptions, certificates: certOptions, ...options } = input;
  // Listen for the stop signal before anything is printed: a SIGTERM sent as soon as the output shows must still
  // close the endpoints and remove the test certificates' directory.
  const until = deps.until;
  let emu: Emulator;
  let sso: EmulatorSso;
  let certs: Awaited<ReturnType<typeof startCertificateEndpoints>> | undefined;
  try {
    emu = await startEmulator(options);
    try {
      sso = addSsoServices(emu, ssoOptions ?? {});
      if (certOptions !== false) {
        certs = await startCertificateEndpoints(emu, {
          ...certOptions,
          ...(options.host !== undefined ? { host: options.host } : {}),
        });
      }
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
      `${JSON.stringify({
        url: emu.url,
        region: emu.region,
        accountId: emu.accountId,
        env,
        sso: { deviceUrl, roles: ["AdministratorAccess", "ReadOnlyAccess"] },
        ...(certs ? { certificates: certs.info } : {}),
      })}\n`,
    );
  } else {
    deps.stdout.write(
      `# emulator listening at ${emu.url} (STS, S3, SSO-OIDC, SSO portal${certs ? ", IAM Roles Anywhere; AWS IoT at its own port" : ""}; credentials live ${emu.credentialLifetimeSeconds()}s)\n` +
        Object.entries(env)
          .map(([k, v]) => `export ${k}=${v}`)
          .join("\n") +
        "\n" +
        `# SSO: any sso_start_url works; roles AdministratorAccess and ReadOnlyAccess in account ${emu.accountId}.\n` +
        `# Approve device logins at ${deviceUrl} (or: curl -d user_code=CODE ${deviceUrl}); browser logins\n` +
        `# (authorization code with PKCE) show an Allow / Deny page at ${emu.url}/authorize.\n` +
        (certs ? certificateEndpointsText(certs.info) : ""),
    );
    deps.stderr.write("Press Ctrl-C to stop.\n");
  }
  deps.onReady?.(emu, sso, certs?.info);
  await until;
  await certs?.close();
  await emu.close();
  return 0;
}

/** Raw values of `aws-refresh emulate`'s flags. */
interface EmulateFlags {
  port?: string;
  host?: string;
  lifetime?: string;
  clockOffset?: string;
  region?: string;
  json?: boolean;
  ssoSessionDuration?: string;
  ssoTokenLifetime?: string;
  ssoAutoApprove?: boolean;
  /** Each `--quota OPERATION=RATE[:BURST]`, in order. */
  quota?: string[];
  certsDir?: string;
  iotPort?: string;
  /** Each `--trust-ca FILE`. */
  trustCa?: string[];
  /** `--no-certificates`. */
  certificates?: boolean;
}

/** `aws-refresh emulate`'s flags to its input; throws naming a bad flag. */
export function emulateInput(flags: EmulateFlags): EmulateInput {
  const seconds = (text: string, flag: string): number => Math.max(1, Math.round(parseDuration(text, flag) / 1000));
  if (flags.host !== undefined && !isLoopbackHost(flags.host)) {
    throw new RangeError(
      `\`--host\` must be a loopback address (127.0.0.1, ::1 or localhost), got ${JSON.stringify(flags.host)}: the ` +
        "emulator accepts well-known keys, so it must not be reachable from other machines",
    );
  }
  return {
    ...(flags.port !== undefined ? { port: parsePort(flags.port) } : {}),
    ...(flags.host !== undefined ? { host: flags.host } : {}),
    ...(flags.lifetime !== undefined ? { credentialLifetimeSeconds: seconds(flags.lifetime, "--lifetime") } : {}),
    ...(flags.clockOffset !== undefined ? { clockOffsetMs: parseInteger(flags.clockOffset, "--clock-offset") } : {}),
    ...(flags.region !== undefined ? { region: flags.region } : {}),
    ...(flags.quota !== undefined && flags.quota.length > 0
      ? {
          quotas: Object.fromEntries(
            flags.quota.map((text) => {
              const { operation, spec } = parseQuota(text);
              return [operation, spec];
            }),
          ),
        }
      : {}),
    ...(flags.json ? { json: true } : {}),
    certificates:
      flags.certificates === false
        ? false
        : {
            ...(flags.certsDir !== undefined ? { certsDir: flags.certsDir } : {}),
            ...(flags.iotPort !== undefined ? { port: parsePort(flags.iotPort, "--iot-port") } : {}),
            ...(flags.trustCa !== undefined && flags.trustCa.length > 0 ? { trustCa: flags.trustCa } : {}),
          },
    sso: {
      ...(flags.ssoSessionDuration !== undefined
        ? { sessionDurationSeconds: seconds(flags.ssoSessionDuration, "--sso-session-duration") }
        : {}),
      ...(flags.ssoTokenLifetime !== undefined
        ? { accessTokenLifetimeSeconds: seconds(flags.ssoTokenLifetime, "--sso-token-lifetime") }
        : {}),
      ...(flags.ssoAutoApprove ? { autoApprove: true } : {}),
    },
  };
}

/** The CLI's entry point for `aws-refresh emulate`. */
export const emulateCommand: CliCommand = (flags, _args, io) =>
  runParsed(
    "emulate",
    io,
    () => emulateInput(flags as EmulateFlags),
    (input) => runEmulate(input, io),
  );
