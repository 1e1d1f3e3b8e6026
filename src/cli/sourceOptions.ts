import { Option, type Command } from "commander";
import { parseDuration } from "./duration.js";
import type { SourceInput } from "./profile.js";

/** Raw values of the source flags as commander hands them over. */
export interface SourceFlags {
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
      .option("--role-arn <arn>", "assume this role, from --profile's credentials or the default chain")
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
    .option("--region <region>", "region for STS and for programs (default: AWS_REGION, else the profile's region)");
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
  const input: SourceInput = {};
  if (p !== undefined) {
    if (p.trim() === "") throw new TypeError("`--profile` must name a profile");
    input.profile = p;
  }
  if (flags.roleArn !== undefined) input.roleArn = flags.roleArn;
  if (flags.roleSessionName !== undefined) input.roleSessionName = flags.roleSessionName;
  const d = seconds(flags.duration, "--duration");
  if (d !== undefined) {
    if (d < 900 || d > 43_200) throw new RangeError("`--duration` must be from 15m to 12h");
    input.durationSeconds = d;
  }
  if (flags.externalId !== undefined) input.externalId = flags.externalId;
  if (flags.mfaSerial !== undefined) input.mfaSerial = flags.mfaSerial;
  if (flags.mfaCommand !== undefined) input.mfaCommand = flags.mfaCommand;
  const md = seconds(flags.mfaDuration, "--mfa-duration");
  if (md !== undefined) {
    if (md < 900 || md > 129_600) throw new RangeError("`--mfa-duration` must be from 15m to 36h");
    input.mfaDurationSeconds = md;
  }
  if (flags.region !== undefined) input.region = flags.region;
  if (flags.notify !== undefined) input.notify = flags.notify;
  if (flags.loginTimeout !== undefined) input.loginTimeoutMs = parseDuration(flags.loginTimeout, "--login-timeout");
  const roleOnly: [keyof SourceInput, string][] = [
    ["roleSessionName", "--role-session-name"],
    ["durationSeconds", "--duration"],
    ["externalId", "--external-id"],
  ];
  for (const [key, flag] of roleOnly) {
    if (input[key] !== undefined && input.roleArn === undefined) {
      throw new TypeError(`\`${flag}\` needs \`--role-arn\` (set it in the profile for a role profile)`);
    }
  }
  return input;
}
