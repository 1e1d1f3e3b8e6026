import { loadAwsConfig, type LoadedAwsConfig } from "../config/awsConfig.js";
import { RefreshSessionError } from "../errors.js";
import { parseDuration } from "../util/duration.js";

/**
 * Config key (in an `[sso-session NAME]` section, or in a legacy SSO profile) stating the Identity Center session
 * duration your administrator set, e.g. `aws_refresh_sso_session_duration = 12h`. AWS does not publish it.
 */
export const SSO_SESSION_DURATION_CONFIG_KEY = "aws_refresh_sso_session_duration";

/** An IAM Identity Center profile or sso-session, resolved from the AWS config file. */
export interface SsoConfig {
  /** The profile, when resolved from one. */
  profile: string | undefined;
  /** The config file it was read from. */
  configFile: string;
  /** The `sso_session` name; undefined for a legacy profile (`sso_start_url` in the profile itself). */
  sessionName: string | undefined;
  startUrl: string;
  ssoRegion: string;
  accountId: string | undefined;
  roleName: string | undefined;
  /** The profile's `region` (for the clients), not the SSO region. */
  region: string | undefined;
  /** `sso_registration_scopes`, comma-split as the AWS CLI does; undefined when not set. */
  registrationScopes: string[] | undefined;
  /** {@link SSO_SESSION_DURATION_CONFIG_KEY}, in ms; undefined when not set. */
  sessionDurationMs: number | undefined;
}

/** Where to read an SSO profile or sso-session from. */
export interface SsoConfigInit {
  /** Profile name. Default: `AWS_PROFILE`, else `default` (ignored when only `ssoSession` is given). */
  profile?: string;
  /** An `[sso-session NAME]` to use directly (for `aws-refresh login --sso-session NAME`). */
  ssoSession?: string;
  /** Default: `AWS_CONFIG_FILE`, else `~/.aws/config`. */
  configFile?: string;
  /** Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The config files already read ({@link loadAwsConfig}): used instead of reading them again. */
  config?: LoadedAwsConfig;
}

/** The profile name the SDKs use: the given one, else `AWS_PROFILE` (when not empty), else `default`. */
export function resolveProfileName(profile: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return profile || env.AWS_PROFILE || "default";
}

/** `sso_registration_scopes` as the AWS CLI parses it: comma-separated, trimmed, empties dropped. */
export function parseScopes(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function configError(message: string, profile: string | undefined): RefreshSessionError {
  return new RefreshSessionError("SSO_CONFIG_INVALID", message, { profile });
}

function durationFrom(
  section: Record<string, string | undefined>,
  where: string,
  file: string,
  profile: string | undefined,
): number | undefined {
  const raw = section[SSO_SESSION_DURATION_CONFIG_KEY];
  if (raw === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(raw, SSO_SESSION_DURATION_CONFIG_KEY);
  } catch {
    ms = NaN;
  }
  if (!(ms >= 1_000)) {
    throw configError(
      `${where} in ${file} has \`${SSO_SESSION_DURATION_CONFIG_KEY} = ${raw}\`, which is not a duration of at least 1s. ` +
        "Use the Identity Center session duration your administrator set, e.g. 8h, 12h or 7d.",
      profile,
    );
  }
  return ms;
}

/**
 * Reads an SSO profile (both the `sso_session` format and the legacy one with `sso_start_url` in the profile) or an
 * `[sso-session NAME]` from the AWS config file, parsed by the SDK's own loader. Raises `SSO_CONFIG_INVALID` naming
 * the file, the section and the missing key.
 *
 * @example
 * ```ts
 * const cfg = await loadSsoConfig({ profile: "dev" });
 * console.log(cfg.startUrl, cfg.sessionName ?? "(legacy profile)");
 * ```
 */
export async function loadSsoConfig(init: SsoConfigInit = {}): Promise<SsoConfig> {
  const env = init.env ?? init.config?.env ?? process.env;
  const onlySession = init.ssoSession !== undefined && init.profile === undefined;
  const profile = onlySession ? undefined : resolveProfileName(init.profile, env);
  const loaded =
    init.config ??
    (await loadAwsConfig({ env, ...(init.configFile ? { configFile: init.configFile } : {}) }).catch((err: unknown) => {
      // The config is in use here for SSO: report it as such, with the file's own message.
      throw configError((err as Error).message, profile);
    }));
  const configFile = loaded.paths.config;
  if (!loaded.exists.config) {
    throw configError(
      `The AWS config file ${configFile} does not exist, so ${profile ? `profile "${profile}"` : `sso-session "${init.ssoSession}"`} ` +
        "cannot be read. Create it with `aws configure sso`, or point AWS_CONFIG_FILE at your config file.",
      profile,
    );
  }
  const sessionSection = (name: string): Record<string, string | undefined> | undefined => {
    const s = loaded.ssoSessions.get(name);
    return s === undefined ? undefined : { ...s };
  };

  let section: Record<string, string | undefined> = {};
  let sessionName = init.ssoSession;
  if (profile !== undefined) {
    const p = loaded.profiles.get(profile) as Record<string, string | undefined> | undefined;
    if (!p) {
      throw configError(
        `Profile "${profile}" is not in the AWS config file ${configFile}. Add a [${profile === "default" ? "default" : `profile ${profile}`}] ` +
          "section with sso_session, sso_account_id and sso_role_name (or run `aws configure sso`).",
        profile,
      );
    }
    section = p;
    if (init.ssoSession === undefined) sessionName = p.sso_session;
    if (sessionName === undefined && p.sso_start_url === undefined) {
      throw configError(
        `Profile "${profile}" in ${configFile} is not an IAM Identity Center (SSO) profile: it has neither ` +
          "`sso_session` nor `sso_start_url`. Add `sso_session = NAME` and an [sso-session NAME] section " +
          "(or run `aws configure sso --profile " +
          profile +
          "`).",
        profile,
      );
    }
  }

  let startUrl: string | undefined;
  let ssoRegion: string | undefined;
  let scopes: string[] | undefined;
  let durationMs: number | undefined;
  if (sessionName !== undefined) {
    const s = sessionSection(sessionName);
    if (!s) {
      throw configError(
        (profile !== undefined
          ? `Profile "${profile}" in ${configFile} refers to sso_session "${sessionName}", but`
          : `The sso-session "${sessionName}" is unknown:`) +
          ` ${configFile} has no [sso-session ${sessionName}] section. Add one with sso_start_url and sso_region.`,
        profile,
      );
    }
    for (const key of ["sso_start_url", "sso_region"] as const) {
      if (!s[key]) {
        throw configError(
          `The [sso-session ${sessionName}] section of ${configFile} is missing \`${key}\`. ` +
            (key === "sso_start_url"
              ? "Set it to your AWS access portal URL, e.g. https://my-org.awsapps.com/start."
              : "Set it to the region of your IAM Identity Center instance, e.g. us-east-1."),
          profile,
        );
      }
    }
    // botocore refuses a profile whose own sso_start_url / sso_region disagree with its sso-session.
    for (const key of ["sso_start_url", "sso_region"] as const) {
      if (section[key] !== undefined && section[key] !== s[key]) {
        throw configError(
          `Profile "${profile}" in ${configFile} sets \`${key} = ${section[key]}\`, which differs from ` +
            `[sso-session ${sessionName}] (\`${s[key]}\`). Remove it from the profile.`,
          profile,
        );
      }
    }
    startUrl = s.sso_start_url;
    ssoRegion = s.sso_region;
    scopes = parseScopes(s.sso_registration_scopes);
    durationMs = durationFrom(s, `[sso-session ${sessionName}]`, configFile, profile);
  } else {
    for (const key of ["sso_start_url", "sso_region"] as const) {
      if (!section[key]) {
        throw configError(
          `Profile "${profile}" in ${configFile} is a legacy SSO profile but is missing \`${key}\`. ` +
            "Add it, or move to the sso_session format with `aws configure sso`.",
          profile,
        );
      }
    }
    startUrl = section.sso_start_url;
    ssoRegion = section.sso_region;
    durationMs = durationFrom(section, `Profile "${profile}"`, configFile, profile);
  }
  try {
    new URL(startUrl as string);
  } catch {
    throw configError(
      `\`sso_start_url = ${startUrl}\` in ${configFile} is not a URL; use your AWS access portal URL, ` +
        "e.g. https://my-org.awsapps.com/start.",
      profile,
    );
  }
  const accountId = section.sso_account_id;
  if (accountId !== undefined && !/^[0-9]{12}$/.test(accountId)) {
    throw configError(
      `Profile "${profile}" in ${configFile} has \`sso_account_id = ${accountId}\`; it must be a 12-digit AWS account id.`,
      profile,
    );
  }
  return {
    profile,
    configFile,
    sessionName,
    startUrl: startUrl as string,
    ssoRegion: ssoRegion as string,
    accountId,
    roleName: section.sso_role_name,
    region: section.region,
    registrationScopes: scopes,
    sessionDurationMs: durationMs,
  };
}

/** Checks that a profile names the account and role to get credentials for. */
export function requireRole(cfg: SsoConfig): { accountId: string; roleName: string } {
  for (const key of ["sso_account_id", "sso_role_name"] as const) {
    const v = key === "sso_account_id" ? cfg.accountId : cfg.roleName;
    if (!v) {
      throw configError(
        `Profile "${cfg.profile}" in ${cfg.configFile} is missing \`${key}\`, needed for role credentials. ` +
          `Add it (list yours with \`aws sso list-account-roles\`), or run \`aws configure sso --profile ${cfg.profile}\`.`,
        cfg.profile,
      );
    }
  }
  return { accountId: cfg.accountId as string, roleName: cfg.roleName as string };
}

/** How to name an SSO config in messages: `profile "dev" (sso-session "corp")`. */
export function describeSsoConfig(cfg: Pick<SsoConfig, "profile" | "sessionName" | "startUrl">): string {
  if (cfg.profile !== undefined && cfg.sessionName !== undefined) {
    return `profile "${cfg.profile}" (sso-session "${cfg.sessionName}")`;
  }
  if (cfg.profile !== undefined) return `profile "${cfg.profile}" (legacy SSO, ${cfg.startUrl})`;
  return `sso-session "${cfg.sessionName}"`;
}

/** The command that logs this config in, for messages. */
export function loginCommand(cfg: Pick<SsoConfig, "profile" | "sessionName">): string {
  return cfg.profile !== undefined
    ? `aws-refresh login --profile ${cfg.profile}`
    : `aws-refresh login --sso-session ${cfg.sessionName}`;
}
