import type { LoadedAwsConfig } from "../config/awsConfig.js";
import { RefreshSessionError } from "../errors.js";
import type { ProfileEntry } from "./types.js";

/** Keys whose values are secrets: never quoted in a message. */
const SECRET_KEY = /secret|session_token|password|pin/i;

/** The file a profile's key was read from (the credentials file wins when both have it). */
export function fileOf(entry: ProfileEntry, config: LoadedAwsConfig, key?: string): string {
  if (key !== undefined && entry.inCredentials[key] !== undefined) return config.paths.credentials;
  if (key === undefined) {
    // The file with the profile's keys; a profile with none is where its (empty) section is, the config file first.
    const inConfig =
      Object.keys(entry.inConfig).length > 0 ||
      (Object.keys(entry.inCredentials).length === 0 && config.configProfiles.has(entry.name));
    return inConfig ? config.paths.config : config.paths.credentials;
  }
  return config.paths.config;
}

/** How a profile's section is written in the file its key is in: `[profile dev]`, `[default]` or `[dev]`. */
export function sectionName(entry: ProfileEntry, config: LoadedAwsConfig, key?: string): string {
  const inCredentials = fileOf(entry, config, key) === config.paths.credentials;
  return inCredentials || entry.name === "default" ? `[${entry.name}]` : `[profile ${entry.name}]`;
}

/** A `CONFIG_INVALID` error about one key of a profile: names the profile, the key, its value (unless secret) and the file. */
export function keyError(
  entry: ProfileEntry,
  config: LoadedAwsConfig,
  key: string,
  problem: string,
  fix: string,
): RefreshSessionError {
  const raw = entry.section[key];
  const shown = raw === undefined ? `\`${key}\`` : SECRET_KEY.test(key) ? `\`${key}\`` : `\`${key} = ${raw}\``;
  return new RefreshSessionError(
    "CONFIG_INVALID",
    `Profile "${entry.name}" (${sectionName(entry, config, key)} in ${fileOf(entry, config, key)}): ${shown} ${problem}. ${fix}`,
    { profile: entry.name },
  );
}

/** A `CONFIG_INVALID` error about a profile as a whole. */
export function profileError(entry: ProfileEntry, config: LoadedAwsConfig, problem: string): RefreshSessionError {
  return new RefreshSessionError(
    "CONFIG_INVALID",
    `Profile "${entry.name}" (${sectionName(entry, config)} in ${fileOf(entry, config)}) ${problem}`,
    { profile: entry.name },
  );
}

/** A key holding whole seconds within a range; undefined when absent. */
export function secondsKey(
  entry: ProfileEntry,
  config: LoadedAwsConfig,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const raw = entry.section[key];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < min || n > max) {
    throw keyError(entry, config, key, `must be whole seconds from ${min} to ${max}`, `e.g. \`${key} = 3600\`.`);
  }
  return n;
}

/** An IAM role ARN, as STS accepts it. */
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[\w+=,.@/-]{1,512}$/;
/** A role session name, as STS accepts it. */
export const ROLE_SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/** A role ARN key, checked. */
export function roleArnKey(entry: ProfileEntry, config: LoadedAwsConfig, key = "role_arn"): string {
  const arn = entry.section[key] as string;
  if (!ROLE_ARN.test(arn)) {
    throw keyError(
      entry,
      config,
      key,
      "is not an IAM role ARN",
      "It must look like arn:aws:iam::123456789012:role/NAME.",
    );
  }
  return arn;
}

/** `role_session_name`, checked; undefined when absent. */
export function sessionNameKey(entry: ProfileEntry, config: LoadedAwsConfig): string | undefined {
  const name = entry.section.role_session_name;
  if (name === undefined) return undefined;
  if (!ROLE_SESSION_NAME.test(name)) {
    throw keyError(
      entry,
      config,
      "role_session_name",
      "is not a valid role session name",
      "Use 2 to 64 letters, digits and +=,.@_-.",
    );
  }
  return name;
}

/** Static keys in one of a profile's sections, or undefined when it has none. */
export function staticKeysIn(
  section: Readonly<Record<string, string | undefined>>,
):
  | { accessKeyId: string | undefined; secretAccessKey: string | undefined; sessionToken: string | undefined }
  | undefined {
  if (section.aws_access_key_id === undefined && section.aws_secret_access_key === undefined) return undefined;
  return {
    accessKeyId: section.aws_access_key_id,
    secretAccessKey: section.aws_secret_access_key,
    sessionToken: section.aws_session_token,
  };
}
