/**
 * The CLI's certificate flags: IAM Roles Anywhere (spelled as `aws_signing_helper` spells them) and AWS IoT's
 * credentials provider. Declares them in their own help groups and reads them into a {@link CertificateSourceInput}
 * without reading any file or loading a source (a `credential-process` cache hit must stay cheap): shapes the library
 * checks (ARNs, endpoints) are checked when the source is set up, by the library itself.
 */
import { Option, type Command } from "commander";
import { parsePkcs11Uri } from "../certs/pkcs11Uri.js";
import { parseDuration } from "../util/duration.js";
import type { CertificateSourceInput } from "./sourceInput.js";

/** The user PIN of a `pkcs11:` `--private-key` (or give `--pin-file`): a PIN never goes on the command line. */
export const PKCS11_PIN_ENV = "AWS_REFRESH_PKCS11_PIN";
/** The passphrase of an encrypted PEM `--private-key` (or give `--passphrase-file`). */
export const KEY_PASSPHRASE_ENV = "AWS_REFRESH_KEY_PASSPHRASE";

/** Raw values of the certificate flags as commander hands them over. */
export interface CertificateFlags {
  certificate?: string;
  privateKey?: string;
  intermediates?: string;
  trustAnchorArn?: string;
  profileArn?: string;
  sessionDuration?: string;
  endpoint?: string;
  pkcs11Lib?: string;
  iotEndpoint?: string;
  roleAlias?: string;
  thingName?: string;
  ca?: string;
  pinFile?: string;
  passphraseFile?: string;
  /** Declared only to be refused without echoing the value. */
  pin?: string;
  passphrase?: string;
  pkcs8Password?: string;
}

/** The other source flags a certificate source must not be mixed with. */
interface OtherFlags {
  profile?: string | string[];
  roleArn?: string;
  roleSessionName?: string;
  duration?: string;
  externalId?: string;
  mfaSerial?: string;
  mfaCommand?: string;
  mfaDuration?: string;
  notify?: string;
  loginTimeout?: string;
}

type Key = keyof CertificateFlags;
const ROLES_ANYWHERE: [Key, string][] = [
  ["trustAnchorArn", "--trust-anchor-arn"],
  ["profileArn", "--profile-arn"],
  ["sessionDuration", "--session-duration"],
  ["endpoint", "--endpoint"],
];
const IOT: [Key, string][] = [
  ["iotEndpoint", "--iot-endpoint"],
  ["roleAlias", "--role-alias"],
  ["thingName", "--thing-name"],
  ["ca", "--ca"],
];
const SHARED: [Key, string][] = [
  ["certificate", "--certificate"],
  ["privateKey", "--private-key"],
  ["intermediates", "--intermediates"],
  ["pkcs11Lib", "--pkcs11-lib"],
  ["pinFile", "--pin-file"],
  ["passphraseFile", "--passphrase-file"],
];
const ON_ARGV: [Key, string, string][] = [
  ["pin", "--pin", `a PIN: give it in ${PKCS11_PIN_ENV}, or with --pin-file FILE`],
  ["passphrase", "--passphrase", `a passphrase: give it in ${KEY_PASSPHRASE_ENV}, or with --passphrase-file FILE`],
  [
    "pkcs8Password",
    "--pkcs8-password",
    `a passphrase: give it in ${KEY_PASSPHRASE_ENV}, or with --passphrase-file FILE`,
  ],
];

const list = (flags: string[]): string => flags.map((f) => `\`${f}\``).join(", ");

/**
 * Declares the certificate flags on `cmd` in two help groups. `roleFlags`: the command has no `--role-arn` /
 * `--role-session-name` of its own (`serve`), so they are declared here for IAM Roles Anywhere.
 *
 * @example
 * ```ts
 * addCertificateOptions(program.command("serve"), { roleFlags: true });
 * ```
 */
export function addCertificateOptions(cmd: Command, set: { roleFlags: boolean }): Command {
  cmd
    .optionsGroup("IAM Roles Anywhere (instead of a profile, with --role-arn; flags as aws_signing_helper's):")
    .option(
      "--certificate <path|pkcs11:uri>",
      "the certificate: a PEM file (the leaf, intermediates may follow), read at every refresh, or a pkcs11: URI " +
        "(RFC 7512) of a certificate on a token. AWS IoT too (PEM only)",
    )
    .option(
      "--private-key <path|pkcs11:uri>",
      "its private key: a PEM file read at every refresh, or a pkcs11: URI of a key that stays on the token " +
        "(default with a pkcs11: --certificate: the same URI). AWS IoT too",
    )
    .option(
      "--intermediates <path>",
      "PEM file of intermediate CA certificates sent with the leaf (default: none). AWS IoT too",
    )
    .option("--trust-anchor-arn <arn>", "the trust anchor, arn:aws:rolesanywhere:REGION:ACCOUNT:trust-anchor/ID")
    .option("--profile-arn <arn>", "the Roles Anywhere profile, arn:aws:rolesanywhere:REGION:ACCOUNT:profile/ID");
  if (set.roleFlags) {
    cmd
      .option("--role-arn <arn>", "the role to assume (one of the profile's)")
      .option(
        "--role-session-name <name>",
        "role session name, if the profile accepts one (default: the certificate's serial)",
      );
  }
  cmd
    .option(
      "--session-duration <duration>",
      "lifetime of each credential, 15m to 12h, e.g. 1h or 3600 (default: 1h; the profile may cut it)",
    )
    .option(
      "--endpoint <url>",
      "CreateSession endpoint (default: AWS_ENDPOINT_URL_ROLESANYWHERE, else AWS_ENDPOINT_URL, else " +
        "https://rolesanywhere.REGION.amazonaws.com; REGION: --region, else the trust anchor's)",
    )
    .option(
      "--pkcs11-lib <path>",
      "PKCS#11 module for pkcs11: URIs without module-path=, e.g. /usr/lib/softhsm/libsofthsm2.so. AWS IoT too",
    )
    .option(
      "--pin-file <path>",
      `file holding the token's user PIN for a pkcs11: --private-key, read at every refresh (default: ${PKCS11_PIN_ENV}, ` +
        "else the URI's pin-source=). Never give a PIN on the command line",
    )
    .option(
      "--passphrase-file <path>",
      `file holding the passphrase of an encrypted PEM --private-key (default: ${KEY_PASSPHRASE_ENV})`,
    )
    .optionsGroup("AWS IoT credentials provider (a device certificate; with --certificate, --private-key):")
    .option(
      "--iot-endpoint <host|url>",
      "the account's credentials endpoint (aws iot describe-endpoint --endpoint-type iot:CredentialProvider), or " +
        "an https:// URL",
    )
    .option("--role-alias <name>", "the role alias whose role the credentials are for")
    .option(
      "--thing-name <name>",
      "the thing attached to the certificate, sent as x-amzn-iot-thingname (default: none)",
    )
    .option("--ca <path>", "PEM file of CAs for the endpoint's TLS certificate (default: Node's trust store)")
    .optionsGroup("Options:");
  // Declared (hidden) so that commander's "unknown option" error cannot echo `--pin=1234`: refused below instead.
  for (const [, flag] of ON_ARGV) cmd.addOption(new Option(`${flag} <secret>`).hideHelp());
  return cmd;
}

/**
 * Reads the certificate flags into a {@link CertificateSourceInput}, or undefined when none is given. Throws a
 * TypeError/RangeError naming the flags: a mix of methods or with another source's flags, a missing flag, a PIN or
 * passphrase on the command line (never echoed).
 *
 * @example
 * ```ts
 * certificateInputFrom({ iotEndpoint: "c1.credentials.iot.eu-west-1.amazonaws.com", roleAlias: "uploader",
 *   certificate: "/etc/device/cert.pem", privateKey: "/etc/device/key.pem" })?.method; // "iot"
 * ```
 */
export function certificateInputFrom(
  flags: CertificateFlags & OtherFlags & { region?: string },
): CertificateSourceInput | undefined {
  for (const [key, flag, what] of ON_ARGV) {
    if (flags[key] !== undefined) {
      throw new TypeError(
        `\`${flag}\` is refused: a secret on the command line shows in \`ps\` and in shell history. It takes ${what}`,
      );
    }
  }
  const present = (pairs: [Key, string][]): string[] =>
    pairs.filter(([k]) => flags[k] !== undefined).map(([, flag]) => flag);
  const ra = present(ROLES_ANYWHERE);
  const iot = present(IOT);
  const shared = present(SHARED);
  if (ra.length === 0 && iot.length === 0 && shared.length === 0) return undefined;
  if (ra.length > 0 && iot.length > 0) {
    throw new TypeError(
      `${list(ra)} (IAM Roles Anywhere) and ${list(iot)} (AWS IoT) choose different sources: give the flags of one`,
    );
  }
  if (ra.length === 0 && iot.length === 0) {
    throw new TypeError(
      `${list(shared)} need${shared.length === 1 ? "s" : ""} a certificate source: IAM Roles Anywhere ` +
        "(`--trust-anchor-arn`, `--profile-arn`, `--role-arn`) or AWS IoT (`--iot-endpoint`, `--role-alias`)",
    );
  }
  const method = ra.length > 0 ? "roles-anywhere" : "iot";
  const name = method === "iot" ? "AWS IoT" : "IAM Roles Anywhere";
  const chosenBy = list(method === "iot" ? iot : ra);
  const profiles = Array.isArray(flags.profile) ? flags.profile : flags.profile !== undefined ? [flags.profile] : [];
  if (profiles.length > 0) {
    throw new TypeError(
      `\`--profile\` and ${chosenBy} (${name}) choose different sources: give a profile, or the certificate ` +
        "flags (a profile of its own can run `aws-refresh credential-process` with them)",
    );
  }
  const foreign: [keyof OtherFlags, string, string][] = [
    ["duration", "--duration", method === "iot" ? "the role alias sets the lifetime" : "use `--session-duration`"],
    ["externalId", "--external-id", "it is for --role-arn's AssumeRole"],
    ["mfaSerial", "--mfa-serial", "the certificate is the second factor"],
    ["mfaCommand", "--mfa-command", "the certificate is the second factor"],
    ["mfaDuration", "--mfa-duration", "the certificate is the second factor"],
    ["notify", "--notify", "it is for SSO logins"],
    ["loginTimeout", "--login-timeout", "it is for SSO logins"],
  ];
  if (method === "iot") {
    foreign.push(
      ["roleArn", "--role-arn", "AWS IoT takes the role from `--role-alias`"],
      ["roleSessionName", "--role-session-name", "AWS IoT names the session after the certificate"],
    );
  }
  for (const [key, flag, why] of foreign) {
    if (flags[key] !== undefined) {
      throw new TypeError(`\`${flag}\` does not apply to ${name} (chosen by ${chosenBy}): ${why}`);
    }
  }
  const value = (key: Key | "roleArn" | "roleSessionName" | "region", flag: string): string | undefined => {
    const v = (flags as Record<string, string | undefined>)[key];
    if (v === undefined) return undefined;
    if (v.trim() === "")
      throw new TypeError(`\`${flag}\` is empty (an unset variable?): give a value, or leave it out`);
    return v;
  };
  const certificate = value("certificate", "--certificate");
  const keyArg = value("privateKey", "--private-key");
  const pkcs11Lib = value("pkcs11Lib", "--pkcs11-lib");
  const pinFile = value("pinFile", "--pin-file");
  const passphraseFile = value("passphraseFile", "--passphrase-file");
  const intermediates = value("intermediates", "--intermediates");

  const uri = (flag: string, text: string | undefined): ReturnType<typeof parsePkcs11Uri> | undefined => {
    if (text === undefined || !/^pkcs11:/i.test(text)) return undefined;
    let parsed;
    try {
      parsed = parsePkcs11Uri(text);
    } catch (err) {
      throw new TypeError(`\`${flag}\`: ${(err as Error).message}`, { cause: err });
    }
    if (parsed.pinValue !== undefined) {
      throw new TypeError(
        `\`${flag}\`'s pkcs11: URI holds the PIN (pin-value=), which would show in \`ps\` and in shell history: ` +
          `remove it and give the PIN in ${PKCS11_PIN_ENV}, with --pin-file FILE, or as pin-source=file:/path in the URI`,
      );
    }
    return parsed;
  };
  const certUri = uri("--certificate", certificate);
  const keyUri = uri("--private-key", keyArg ?? (method === "roles-anywhere" ? certificate : undefined));
  if ((certUri || keyUri) && pkcs11Lib === undefined && !(certUri?.modulePath ?? keyUri?.modulePath)) {
    throw new TypeError(
      "a pkcs11: URI needs its module: give `--pkcs11-lib` (e.g. /usr/lib/softhsm/libsofthsm2.so) or module-path= in the URI",
    );
  }
  if (pkcs11Lib !== undefined && !certUri && !keyUri) {
    throw new TypeError("`--pkcs11-lib` is for pkcs11: URIs in `--certificate` or `--private-key`, and none is given");
  }
  if (pinFile !== undefined && !keyUri) {
    throw new TypeError("`--pin-file` is for a pkcs11: `--private-key` (the PIN of its token); the key is a PEM file");
  }
  if (passphraseFile !== undefined && keyUri) {
    throw new TypeError("`--passphrase-file` is for an encrypted PEM `--private-key`; the key is on a PKCS#11 token");
  }

  if (method === "roles-anywhere") {
    const roleArn = value("roleArn", "--role-arn");
    const required: [string, string | undefined][] = [
      ["--certificate", certificate],
      ["--private-key", keyArg ?? (certUri ? certificate : undefined)],
      ["--trust-anchor-arn", value("trustAnchorArn", "--trust-anchor-arn")],
      ["--profile-arn", value("profileArn", "--profile-arn")],
      ["--role-arn", roleArn],
    ];
    const missing = required.filter(([, v]) => v === undefined).map(([f]) => f);
    if (missing.length > 0) {
      throw new TypeError(
        `IAM Roles Anywhere (chosen by ${chosenBy}) needs ${list(missing)} too` +
          (missing.includes("--private-key") ? " (a PEM file, or a pkcs11: URI)" : ""),
      );
    }
    const helperFlags: [string, string][] = [];
    const add = (flag: string, v: string | undefined): void => void (v !== undefined && helperFlags.push([flag, v]));
    add("--certificate", certificate);
    add("--private-key", keyArg);
    add("--intermediates", intermediates);
    add("--trust-anchor-arn", flags.trustAnchorArn);
    add("--profile-arn", flags.profileArn);
    add("--role-arn", roleArn);
    const duration = value("sessionDuration", "--session-duration");
    if (duration !== undefined) {
      const ms = parseDuration(duration, "--session-duration");
      if (ms % 1000 !== 0 || ms < 900_000 || ms > 43_200_000) {
        throw new RangeError(
          `\`--session-duration\` must be whole seconds from 15m to 12h, got ${JSON.stringify(duration)}`,
        );
      }
      add("--session-duration", String(ms / 1000));
    }
    add("--region", value("region", "--region"));
    add("--endpoint", value("endpoint", "--endpoint"));
    add("--role-session-name", value("roleSessionName", "--role-session-name"));
    add("--pkcs11-lib", pkcs11Lib);
    return {
      method,
      helperFlags,
      roleArn: roleArn as string,
      ...(pinFile !== undefined ? { pinFile } : {}),
      ...(passphraseFile !== undefined ? { passphraseFile } : {}),
    };
  }

  const endpoint = value("iotEndpoint", "--iot-endpoint");
  const roleAlias = value("roleAlias", "--role-alias");
  const required: [string, string | undefined][] = [
    ["--iot-endpoint", endpoint],
    ["--role-alias", roleAlias],
    ["--certificate", certificate],
    ["--private-key", keyArg],
  ];
  const missing = required.filter(([, v]) => v === undefined).map(([f]) => f);
  if (missing.length > 0) throw new TypeError(`AWS IoT (chosen by ${chosenBy}) needs ${list(missing)} too`);
  if (certUri) {
    throw new TypeError(
      "AWS IoT: `--certificate` must be a PEM file (aws-crt presents it in the handshake); the key may be a pkcs11: URI",
    );
  }
  if (keyUri && keyUri.id !== undefined && keyUri.object === undefined) {
    throw new TypeError("AWS IoT finds a token's key by label: give object= in the pkcs11: URI, not id=");
  }
  const thingName = value("thingName", "--thing-name");
  const ca = value("ca", "--ca");
  return {
    method,
    endpoint: endpoint as string,
    roleAlias: roleAlias as string,
    certificate: certificate as string,
    privateKey: keyArg as string,
    ...(thingName !== undefined ? { thingName } : {}),
    ...(intermediates !== undefined ? { intermediates } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(pkcs11Lib !== undefined ? { pkcs11Lib } : {}),
    ...(pinFile !== undefined ? { pinFile } : {}),
    ...(passphraseFile !== undefined ? { passphraseFile } : {}),
  };
}
