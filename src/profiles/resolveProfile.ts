import type { LoadedAwsConfig } from "../config/awsConfig.js";
import { RefreshSessionError } from "../errors.js";
import { assumeRoleKind } from "./assumeRole.js";
import { credentialProcessKind } from "./credentialProcess.js";
import { loginSessionKind } from "./loginSession.js";
import { signingHelperKind } from "./signingHelper.js";
import { fileOf, sectionName } from "./profileKeys.js";
import { ssoKind } from "./ssoProfile.js";
import { staticConfigFileKind, staticCredentialsFileKind } from "./staticKeys.js";
import type { ProfileContext, ProfileEntry, ProfileInit, ProfileKindModule, ProfileNode } from "./types.js";
import { webIdentityKind } from "./webIdentity.js";

/**
 * The kinds a profile's own credentials can be, in the order the AWS CLI v2 (botocore's ProfileProviderBuilder) tries
 * them: web identity, SSO, static keys in the credentials file, `aws login` (`login_session`), credential_process (an
 * aws_signing_helper one served natively first), static keys in the config file. (The SDK for JavaScript tries
 * `login_session` last, after static keys anywhere, credential_process and SSO; the AWS CLI's order is the one its
 * users see, so it is the one followed here.)
 * A role (`role_arn` without a web identity token) is tried before all of them at the top of a chain, and as a
 * `source_profile` only when that profile has no static keys.
 */
export const PROFILE_KINDS: readonly ProfileKindModule[] = [
  webIdentityKind,
  ssoKind,
  staticCredentialsFileKind,
  loginSessionKind,
  signingHelperKind,
  credentialProcessKind,
  staticConfigFileKind,
];

function unsupported(entry: ProfileEntry, config: LoadedAwsConfig): RefreshSessionError {
  const supported =
    "role_arn with source_profile or credential_source, role_arn with web_identity_token_file, sso_session or " +
    "sso_start_url, aws_access_key_id with aws_secret_access_key, login_session (`aws login`), or credential_process";
  const where = `Profile "${entry.name}" (${sectionName(entry, config)} in ${fileOf(entry, config)})`;
  const keys = Object.keys(entry.section);
  return new RefreshSessionError(
    "PROFILE_UNSUPPORTED",
    `${where} holds no credentials: it needs ${supported}` +
      (keys.length > 0 ? ` (it has ${keys.map((k) => `\`${k}\``).join(", ")})` : " (it is empty)") +
      ".",
    { profile: entry.name },
  );
}

function notFound(name: string, config: LoadedAwsConfig, via: string | undefined): RefreshSessionError {
  const { paths, exists } = config;
  const known = [...config.profiles.keys()].sort();
  const which = via !== undefined ? ` (the source_profile of "${via}")` : "";
  const files =
    !exists.config && !exists.credentials
      ? `Neither ${paths.config} nor ${paths.credentials} exists: create the profile (\`aws configure --profile ${name}\`, ` +
        "`aws configure sso`), or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at your files."
      : `${known.length > 0 ? `Profiles there: ${known.join(", ")}.` : "Neither file has a profile."} ` +
        "Check the name, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE.";
  return new RefreshSessionError(
    "PROFILE_NOT_FOUND",
    `Profile "${name}"${which} is not in ${paths.config} or ${paths.credentials}. ${files}`,
    { profile: name },
  );
}

/**
 * Builds the sources for a profile and every profile it draws on, as the AWS CLI v2 resolves them: the dispatcher of
 * the profile kinds (the shape of the SDK's `credential-provider-ini`). Throws a typed error naming the profile, the
 * key and the file for anything it cannot serve; nothing is left running when it throws.
 */
export function resolveProfileNode(name: string, config: LoadedAwsConfig, init: ProfileInit): ProfileNode {
  const built: ProfileNode[] = [];
  const entryFor = (profile: string, chain: readonly string[]): ProfileEntry => {
    const section = config.profiles.get(profile);
    if (section === undefined) throw notFound(profile, config, chain.at(-1));
    return {
      name: profile,
      section,
      inConfig: config.configProfiles.get(profile) ?? {},
      inCredentials: config.credentialsProfiles.get(profile) ?? {},
      chain,
    };
  };
  const own = (entry: ProfileEntry): ProfileNode => {
    const kind = PROFILE_KINDS.find((k) => k.matches(entry));
    if (!kind) throw unsupported(entry, config);
    return kind.build(entry, ctx);
  };
  const keep = (node: ProfileNode): ProfileNode => {
    built.push(node);
    return node;
  };
  const ctx: ProfileContext = {
    config,
    init,
    sourceProfile: (profile, chain) => {
      const entry = entryFor(profile, chain);
      const hasKeys =
        entry.section.aws_access_key_id !== undefined || entry.section.aws_secret_access_key !== undefined;
      // As botocore: a source profile with static keys gives those keys, even if it also names a role.
      return keep(!hasKeys && assumeRoleKind.matches(entry) ? assumeRoleKind.build(entry, ctx) : own(entry));
    },
  };
  try {
    const entry = entryFor(name, []);
    return assumeRoleKind.matches(entry) ? assumeRoleKind.build(entry, ctx) : own(entry);
  } catch (err) {
    for (const node of built.reverse()) node.close?.();
    throw err;
  }
}
