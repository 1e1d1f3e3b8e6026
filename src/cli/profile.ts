import type { Logger } from "@smithy/types";
import { loadAwsConfig, type LoadedAwsConfig } from "../config/awsConfig.js";
import { profileChainSections } from "../profiles/chainSections.js";
import type { RefreshableOptions } from "../refresh/types.js";
import { RefreshableSession, type RefreshableSessionOptions } from "../session/RefreshableSession.js";
import type { MethodOptions } from "../session/methods.js";
import type { AssumeRoleParams, MfaOptions } from "../sources/sts.js";
import type { MfaTokenCode } from "../sources/mfa.js";
import { promptMfaCode } from "./prompt.js";
import { choose, fingerprintOf, ROLE_NAME, sourceName, type SourceInput, type SourceKind } from "./sourceInput.js";

export type { SourceInput, SourceKind } from "./sourceInput.js";
export { oneShotInput } from "./sourceInput.js";

/** A session built from {@link SourceInput}. */
export interface ResolvedSource {
  session: RefreshableSession;
  /** Name to serve it under: the profile, `role` for a bare `--role-arn`, or `default`. */
  name: string;
  profile: string | undefined;
  kind: SourceKind;
  /** One line, e.g. `profile ml: assume arn:… from profile base (static keys in …)`. */
  description: string;
  /** The region programs should use, when known. */
  region: string | undefined;
  /** The config files read. */
  files: { config: string; credentials: string };
  /** The config files as read, for the command's other checks (the `[default]` profile's shadow). */
  config: LoadedAwsConfig;
  /** A digest of everything that decides the credential (no secret in clear): a cache key. */
  fingerprint: string;
  /** Closes the session and every session the chain needed. */
  close(): void;
}

/** What the resolver needs from its surroundings. */
export interface SourceContext {
  env: NodeJS.ProcessEnv;
  /** The config files, when the command read them already (a command reads them once). */
  config?: LoadedAwsConfig;
  /** Engine options of the session (the CLI's server commands pass wider windows). */
  refresh?: Omit<RefreshableOptions, "logger">;
  logger?: Logger;
  /** Asks for an MFA code when no `mfaCommand` is given. Default: a prompt on the terminal. */
  promptMfa?: (serialNumber: string) => Promise<string>;
}

/**
 * Builds a {@link RefreshableSession} from the CLI's source flags: `--profile` (any profile the AWS CLI understands,
 * resolved by the library's `method: "profile"`), `--role-arn` with its options (over `--profile`'s credentials or
 * the SDK's default chain), or, with neither, what the AWS CLI would use (environment keys, `AWS_PROFILE`, the
 * `default` profile, then the SDK's default chain). The config files are read once, here, unless `ctx.config` has them.
 */
export async function resolveSource(input: SourceInput, ctx: SourceContext): Promise<ResolvedSource> {
  const env = ctx.env;
  const config = ctx.config ?? (await loadAwsConfig({ env }));
  const mfaTokenCode: MfaTokenCode = input.mfaCommand
    ? { shell: input.mfaCommand }
    : (serialNumber) => (ctx.promptMfa ?? promptMfaCode)(serialNumber);
  const sessionOptions = (options: MethodOptions, region: string | undefined): RefreshableSessionOptions =>
    ({
      ...options,
      ...(region ? { region } : {}),
      ...(ctx.refresh ? { refresh: ctx.refresh } : {}),
      ...(ctx.logger ? { logger: ctx.logger } : {}),
    }) as RefreshableSessionOptions;
  const regionOf = (profile: string | undefined): string | undefined =>
    input.region ||
    env.AWS_REGION ||
    env.AWS_DEFAULT_REGION ||
    (profile !== undefined ? config.profiles.get(profile)?.region : undefined) ||
    undefined;
  const profileOptions = (profile: string, cfg: LoadedAwsConfig): MethodOptions => ({
    method: "profile",
    profile,
    config: cfg,
    env,
    mfa: {
      tokenCode: mfaTokenCode,
      ...(input.mfaSerial !== undefined ? { serialNumber: input.mfaSerial } : {}),
      ...(input.mfaDurationSeconds !== undefined ? { sessionDurationSeconds: input.mfaDurationSeconds } : {}),
    },
    sso: {
      ...(input.notify !== undefined ? { notify: input.notify } : {}),
      ...(input.loginTimeoutMs !== undefined ? { loginTimeoutMs: input.loginTimeoutMs } : {}),
      ...(input.autoLogin !== undefined ? { autoLogin: input.autoLogin } : {}),
      ...(input.interactiveLogin !== undefined ? { interactiveLogin: input.interactiveLogin } : {}),
    },
  });

  let options: MethodOptions;
  let name: string;
  let profile: string | undefined;
  let kind: SourceKind | undefined;
  let description: string | undefined;
  let sessionRegion: string | undefined;
  if (input.certificate) {
    const { certificateMethod } = await import("./certificateSource.js");
    const c = await certificateMethod(input.certificate, env, input.region);
    options = c.options;
    kind = c.kind;
    description = c.description;
    name = sourceName(input, env, config);
    // Roles Anywhere signs for --region, else its trust anchor's region (never AWS_REGION, meant for programs).
    sessionRegion = c.kind === "roles-anywhere" ? input.region : regionOf(undefined);
  } else if (input.roleArn && input.profile) {
    // The role over the profile's credentials is a chain like any other: one more profile on top of the files read.
    const role: Record<string, string> = { role_arn: input.roleArn, source_profile: input.profile };
    if (input.roleSessionName) role.role_session_name = input.roleSessionName;
    if (input.externalId) role.external_id = input.externalId;
    if (input.durationSeconds !== undefined) role.duration_seconds = String(input.durationSeconds);
    const top = `--role-arn over ${input.profile}`;
    const profiles = new Map(config.profiles).set(top, role);
    const configProfiles = new Map(config.configProfiles).set(top, role);
    options = profileOptions(top, { ...config, profiles, configProfiles });
    name = input.profile;
    profile = input.profile;
  } else if (input.roleArn) {
    const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
    const assumeRole: AssumeRoleParams = { RoleArn: input.roleArn };
    if (input.roleSessionName) assumeRole.RoleSessionName = input.roleSessionName;
    if (input.externalId) assumeRole.ExternalId = input.externalId;
    if (input.durationSeconds !== undefined) assumeRole.DurationSeconds = input.durationSeconds;
    const mfa: MfaOptions | undefined =
      input.mfaSerial !== undefined
        ? {
            serialNumber: input.mfaSerial,
            tokenCode: mfaTokenCode,
            ...(input.mfaDurationSeconds !== undefined ? { sessionDurationSeconds: input.mfaDurationSeconds } : {}),
          }
        : undefined;
    options = { method: "sts", assumeRole, sourceCredentials: fromNodeProviderChain(), ...(mfa ? { mfa } : {}) };
    name = ROLE_NAME;
    kind = "assume-role";
    description = `assume ${input.roleArn}${input.mfaSerial ? ` with MFA ${input.mfaSerial}` : ""} from the default credential chain`;
  } else {
    const chosen = choose(input, env, config);
    profile = chosen.profile;
    if (profile !== undefined) {
      options = profileOptions(profile, config);
      name = profile;
    } else if (chosen.tag === "environment") {
      const { fromEnvironment } = await import("../sources/environment.js");
      options = { method: "custom", source: fromEnvironment({ env, name: "environment" }) };
      name = "default";
      kind = "environment";
      description = `keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY${env.AWS_SESSION_TOKEN ? " / AWS_SESSION_TOKEN" : ""}`;
    } else {
      const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
      options = { method: "provider", provider: fromNodeProviderChain() };
      name = "default";
      kind = "default-chain";
      description = "the SDK's default chain (no profile or keys configured: web identity, container, instance)";
    }
  }
  if (input.mfaSerial && profile !== undefined && !input.roleArn) {
    // --mfa-serial replaces a role profile's device; on anything else it would be silently ignored.
    const top = config.profiles.get(profile);
    if (top?.role_arn === undefined || top.web_identity_token_file !== undefined) {
      throw new TypeError("`--mfa-serial` applies to roles only (a profile with role_arn, or --role-arn)");
    }
  }
  const session = new RefreshableSession(
    sessionOptions(options, input.certificate ? sessionRegion : regionOf(profile)),
  );
  try {
    if (kind === undefined || description === undefined) {
      const d = await session.describe();
      kind = d.kind as SourceKind;
      description = d.description;
    }
    const { tag } = choose(input, env, config);
    const sections = profile !== undefined ? profileChainSections(profile, config) : [];
    return {
      session,
      name,
      profile,
      kind,
      description: input.roleArn && input.profile ? description.replace(/^profile [^:]+: /, "") : description,
      region: regionOf(profile) ?? (input.certificate ? await session.region() : undefined),
      files: config.paths,
      config,
      fingerprint: fingerprintOf(input, tag, sections),
      close: () => session.close(),
    };
  } catch (err) {
    session.close();
    throw err;
  }
}
