/**
 * The parsed AWS config and credentials files turned into {@link LoadedAwsConfig}'s profiles and sessions, whoever
 * parsed them: the SDK's loader (./awsConfig.ts) or ./sdkIni.ts, its rules reproduced for the CLI's quick paths.
 */
import type { LoadedAwsConfig, ProfileSection } from "./awsConfig.js";
import type { AwsConfigPaths } from "./configPaths.js";

/** A config file's `[profile NAME]` header, as the SDK's parser reads it. */
const PROFILE_HEADER = /^profile\s(["'])?([\w-@+.%:/]+)\1$/;

/** A file as the SDK's INI parser returns it: section name to keys. */
export type ParsedIni = Record<string, Record<string, string | undefined>>;

function sections(parsed: ParsedIni, prefix?: string): Map<string, ProfileSection> {
  const out = new Map<string, ProfileSection>();
  for (const [key, value] of Object.entries(parsed)) {
    if (prefix === undefined) {
      if (key.startsWith("sso-session.") || key.startsWith("services.")) continue;
      out.set(key, { ...value });
    } else if (key.startsWith(prefix)) {
      out.set(key.slice(prefix.length), { ...value });
    }
  }
  return out;
}

/** What {@link loadedAwsConfig} is built from: each file's text (undefined: missing), headers (checked) and parse. */
export interface ConfigFilesParsed {
  paths: AwsConfigPaths;
  env: NodeJS.ProcessEnv;
  texts: { config: string | undefined; credentials: string | undefined };
  /** Section headers in order, as `checkIniText` returns them. */
  headers: { config: string[]; credentials: string[] };
  /** The config file as the SDK's `loadSharedConfigFiles` returns it (`configFile`), and the credentials file. */
  parsed: { config: ParsedIni; credentials: ParsedIni };
}

/**
 * The profiles as the AWS CLI and the SDKs merge them (the config file's keys overridden key by key by the
 * credentials file's), the `[sso-session]` sections, and the files' text.
 *
 * @example
 * ```ts
 * const config = loadedAwsConfig({ paths, env, texts, headers, parsed });
 * ```
 */
export function loadedAwsConfig(files: ConfigFilesParsed): LoadedAwsConfig {
  const { paths, env, texts, headers, parsed } = files;
  const configProfiles = texts.config === undefined ? new Map<string, ProfileSection>() : sections(parsed.config);
  const credentialsProfiles =
    texts.credentials === undefined ? new Map<string, ProfileSection>() : sections(parsed.credentials);
  // A profile section without keys is still a profile (botocore finds it, and finds no credentials in it).
  for (const header of headers.config) {
    const name = header === "default" ? header : PROFILE_HEADER.exec(header)?.[2];
    if (name !== undefined && !configProfiles.has(name)) configProfiles.set(name, {});
  }
  for (const header of headers.credentials) if (!credentialsProfiles.has(header)) credentialsProfiles.set(header, {});
  const profiles = new Map<string, ProfileSection>();
  for (const [name, data] of configProfiles) profiles.set(name, { ...data });
  for (const [name, data] of credentialsProfiles) profiles.set(name, { ...profiles.get(name), ...data });
  return {
    paths,
    exists: { config: texts.config !== undefined, credentials: texts.credentials !== undefined },
    profiles,
    configProfiles,
    credentialsProfiles,
    ssoSessions: texts.config === undefined ? new Map() : sections(parsed.config, "sso-session."),
    env,
    text: texts,
  };
}
