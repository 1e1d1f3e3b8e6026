import { Option, type Command } from "commander";
import { ROLE_ARN, ROLE_SESSION_NAME } from "../profiles/profileKeys.js";
import { parseDuration } from "../util/duration.js";
import { addCertificateOptions, certificateInputFrom, type CertificateFlags } from "./certificateFlags.js";
import type { SourceInput } from "./sourceInput.js";

/** Placeholder in `serve --env-file` replaced by the profile name (required when serving several profiles). */
export const PROFILE_PLACEHOLDER = "{profile}";

/** Raw values of the source flags as commander hands them over. */
export interface SourceFlags extends CertificateFlags {
  profile?: string | string[];
  roleArn?: string;
  roleSessionName?: string;
  duration?: string;
  externalId?: string;
  mfaSerial?: string;
  mfaCommand?: string;
  mfaDuration?: string;
  region?: string;
  notify?: string;
  loginTimeout?: string;
}

/** Which groups of source flags a command takes. */
export interface SourceFlagSet {
  /** `--role-arn` and its options. */
  role?: boolean;
  /** `--notify` and `--login-timeout` (SSO profiles). */
  sso?: boolean;
  /** `--profile` may be repeated. */
  manyProfiles?: boolean;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds the flags that choose where credentials come from. */
export function addSourceOptions(cmd: Command, set: SourceFlagSet = {}): Command {
  if (set.manyProfiles) {
    cmd.option(
      "--profile <name>",
      "profile to serve (repeat for several); any profile the AWS CLI understands",
      collect,
    );
  } else {
    cmd.option(
      "--profile <name>",
      "profile to take credentials from: role_arn + source_profile, sso, credential_process, web identity or static " +
        "keys (default: AWS_PROFILE, else the default profile, else the SDK's default chain)",
    );
  }
  if (set.role) {
    cmd
      .option(
        "--role-arn <arn>",
        "assume this role, from --profile's credentials or the default chain (with --trust-anchor-arn: the role " +
          "IAM Roles Anywhere gives)",
      )
      .option("--role-session-name <name>", "role session name (default: aws-refresh-session-<epoch ms>)")
      .option("--duration <duration>", "role session lifetime, e.g. 1h or 3600 (default: the role's, usually 1h)")
      .option("--external-id <id>", "external id the role's trust policy requires");
  }
  cmd
    .option("--mfa-serial <arn>", "MFA device ARN for the role (overrides the profile's mfa_serial)")
    .option(
      "--mfa-command <cmd>",
      "shell command printing a 6-digit MFA code, run once per MFA session (default: ask on the terminal)",
    )
    .option("--mfa-duration <duration>", "MFA session lifetime, 15m to 36h (default: 12h)")
    .option(
      "--region <region>",
      "region for STS and for programs, and IAM Roles Anywhere's signing region (default: AWS_REGION, else the " +
        "profile's region; Roles Anywhere: the trust anchor's)",
    );
  if (set.sso) {
    cmd
      .addOption(
        new Option(
          "--notify <cmd>",
          "SSO profiles: shell command run when a new login must be approved, with the URL and code in " +
            "AWS_REFRESH_SSO_VERIFICATION_URI_COMPLETE, AWS_REFRESH_SSO_USER_CODE… (never a token)",
        ),
      )
      .option(
        "--login-timeout <duration>",
        "SSO profiles: how long to wait for a login to be approved, e.g. 15m (default: 10m for exec and serve; " +
          "status and credential-process do not log in or wait unless given this or --notify)",
      );
  }
  addCertificateOptions(cmd, { roleFlags: !set.role });
  return cmd;
}

function seconds(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text, flag);
  if (ms % 1000 !== 0) throw new RangeError(`\`${flag}\` must be whole seconds, got ${JSON.stringify(text)}`);
  return ms / 1000;
}

/** Turns the flags into a {@link SourceInput} for one profile (or none); throws RangeError/TypeError naming a flag. */
export function sourceInputFrom(flags: SourceFlags, profile?: string): SourceInput {
  const p = profile ?? (Array.isArray(flags.profile) ? flags.profile[0] : flags.profile);
  const certificate = certificateInputFrom(flags);
  if (certificate) {
    // IAM Roles Anywhere's region is a flag of its own source (its signing region); AWS IoT's is the programs'.
    if (flags.region !== undefined && flags.region.trim() === "") {
      throw new TypeError(
        "`--region` is empty (an unset variable?): give a region such as us-east-1, or leave the flag out",
      );
    }
    return { certificate, ...(flags.region !== undefined ? { region: flags.region } : {}) };
  }
  const input: SourceInput = {};
  // An empty value is almost always an unset variable (`--role-arn "$ROLE_ARN"`): refuse it rather than run the job
  // on other credentials than the ones asked for.
  const given = (flag: string, value: string | undefined, what: string): string | undefined => {
    if (value === undefined) return undefined;
    if (value.trim() === "") {
      throw new TypeError(`\`${flag}\` is empty (an unset variable?): give ${what}, or leave the flag out`);
    }
    return value;
  };
  const roleOnly: [keyof SourceFlags, string][] = [
    ["roleSessionName", "--role-session-name"],
    ["duration", "--duration"],
    ["externalId", "--external-id"],
  ];
  for (const [key, flag] of roleOnly) {
    if (flags[key] !== undefined && flags.roleArn === undefined) {
      throw new TypeError(`\`${flag}\` needs \`--role-arn\` (set it in the profile for a role profile)`);
    }
  }
  if (p !== undefined) input.profile = given("--profile", p, "a profile name") as string;
  const roleArn = given("--role-arn", flags.roleArn, "a role ARN such as arn:aws:iam::123456789012:role/NAME");
  if (roleArn !== undefined) {
    if (!ROLE_ARN.test(roleArn)) {
      throw new TypeError(
        `\`--role-arn\` must be an IAM role ARN such as arn:aws:iam::123456789012:role/NAME, got ${JSON.stringify(roleArn)}`,
      );
    }
    input.roleArn = roleArn;
  }
  const sessionName = given("--role-session-name", flags.roleSessionName, "a role session name");
  if (sessionName !== undefined) {
    if (!ROLE_SESSION_NAME.test(sessionName)) {
      throw new TypeError(
        "`--role-session-name` must be 2 to 64 letters, digits and +=,.@_-, got " + JSON.stringify(sessionName),
      );
    }
    input.roleSessionName = sessionName;
  }
  const d = seconds(flags.duration, "--duration");
  if (d !== undefined) {
    if (d < 900 || d > 43_200) throw new RangeError("`--duration` must be from 15m to 12h");
    input.durationSeconds = d;
  }
  const externalId = given("--external-id", flags.externalId, "the external id the role's trust policy requires");
  if (externalId !== undefined) input.externalId = externalId;
  const mfaSerial = given("--mfa-serial", flags.mfaSerial, "the MFA device's ARN");
  if (mfaSerial !== undefined) input.mfaSerial = mfaSerial;
  const mfaCommand = given("--mfa-command", flags.mfaCommand, "a command that prints a code");
  if (mfaCommand !== undefined) input.mfaCommand = mfaCommand;
  const md = seconds(flags.mfaDuration, "--mfa-duration");
  if (md !== undefined) {
    if (md < 900 || md > 129_600) throw new RangeError("`--mfa-duration` must be from 15m to 36h");
    input.mfaDurationSeconds = md;
  }
  const region = given("--region", flags.region, "a region such as us-east-1");
  if (region !== undefined) input.region = region;
  const notify = given("--notify", flags.notify, "a command to run");
  if (notify !== undefined) input.notify = notify;
  if (flags.loginTimeout !== undefined) input.loginTimeoutMs = parseDuration(flags.loginTimeout, "--login-timeout");
  return input;
}
