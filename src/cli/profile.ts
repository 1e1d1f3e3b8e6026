import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  fromContainerMetadata,
  fromIni,
  fromInstanceMetadata,
  fromNodeProviderChain,
  fromProcess,
} from "@aws-sdk/credential-providers";
import { loadSharedConfigFiles } from "@smithy/shared-ini-file-loader";
import type { AwsCredentialIdentityProvider, Logger } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";
import type { RefreshableOptions } from "../refresh/refreshable.js";
import { RefreshableSession, type RefreshableSessionOptions } from "../session/RefreshableSession.js";
import type { MethodOptions } from "../session/methods.js";
import type { AssumeRoleParams, MfaOptions } from "../sources/sts.js";
import { promptMfaCode } from "./prompt.js";

/** Where credentials come from, as the CLI's source flags describe it. */
export interface SourceInput {
  /** `--profile`: any profile the AWS CLI understands. */
  profile?: string;
  /** `--role-arn`: assume this role (from `profile`'s credentials when both are given, else the default chain). */
  roleArn?: string;
  roleSessionName?: string;
  durationSeconds?: number;
  externalId?: string;
  /** MFA device for `--role-arn`, or to override a profile's `mfa_serial`. */
  mfaSerial?: string;
  /** Shell command printing an MFA code; without it the code is asked for on the terminal. */
  mfaCommand?: string;
  /** Lifetime of the MFA session (GetSessionToken), seconds. */
  mfaDurationSeconds?: number;
  /** Overrides every other region setting. */
  region?: string;
  /** SSO profiles: shell command run when a new login needs approving. */
  notify?: string;
  /** SSO profiles: how long to wait for a login to be approved. */
  loginTimeoutMs?: number;
  /** SSO profiles: start a device authorization by itself when a login is needed. Default true. */
  autoLogin?: boolean;
}

/** How the session gets its credentials, for messages and `status`. */
export type SourceKind =
  "assume-role" | "web-identity" | "sso" | "credential-process" | "static" | "environment" | "default-chain";

/** A session built from {@link SourceInput}. */
export interface ResolvedSource {
  session: RefreshableSession;
  /** Name to serve it under: the profile, `role` for a bare `--role-arn`, or `default`. */
  name: string;
  profile: string | undefined;
  kind: SourceKind;
  /** One line, e.g. `profile ml: assume role arn:… from profile base (static keys)`. */
  description: string;
  /** The region programs should use, when known. */
  region: string | undefined;
  /** The config files read. */
  files: { config: string; credentials: string };
  /** A digest of everything that decides the credential (no secret in clear): a cache key. */
  fingerprint: string;
  /** Closes the session and every session the chain needed. */
  close(): void;
}

/** What the resolver needs from its surroundings. */
export interface SourceContext {
  env: NodeJS.ProcessEnv;
  /** Engine options of the session (the CLI's server commands pass wider windows). */
  refresh?: Omit<RefreshableOptions, "logger">;
  logger?: Logger;
  /** Asks for an MFA code when no `mfaCommand` is given. Default: a prompt on the terminal. */
  promptMfa?: (serialNumber: string) => Promise<string>;
}

type ProfileData = Record<string, string | undefined>;

interface Built {
  options: MethodOptions;
  kind: SourceKind;
  description: string;
  /** Profile sections the credential depends on, for the fingerprint. */
  chain: ProfileData[];
}

const CREDENTIAL_KEYS = [
  "role_arn",
  "sso_session",
  "sso_start_url",
  "credential_process",
  "aws_access_key_id",
  "web_identity_token_file",
];
const SECRET_KEY = /secret|session_token/;

/**
 * The source input for a command that answers once and exits (`status`, `credential-process`): an SSO profile that
 * needs a new login fails at once, saying what to run, instead of starting a device authorization whose URL nobody
 * may see (botocore captures a credential_process's stderr) and waiting up to 10 minutes for it. `--notify` or
 * `--login-timeout` opt back in to the login and the wait.
 */
export function oneShotInput(input: SourceInput): SourceInput {
  if (input.notify !== undefined || input.loginTimeoutMs !== undefined) return input;
  return { ...input, loginTimeoutMs: 0, autoLogin: false };
}

/** Paths of the AWS config and credentials files, as the AWS CLI and SDKs find them. */
export function configPaths(env: NodeJS.ProcessEnv): { config: string; credentials: string } {
  const home = env.HOME || env.USERPROFILE || homedir();
  const expand = (p: string): string => (p.startsWith("~/") ? join(home, p.slice(2)) : p);
  return {
    config: expand(env.AWS_CONFIG_FILE || join(home, ".aws", "config")),
    credentials: expand(env.AWS_SHARED_CREDENTIALS_FILE || join(home, ".aws", "credentials")),
  };
}

/** Every profile in the config and credentials files, each merged as the SDKs merge them (credentials file wins). */
export async function loadProfiles(env: NodeJS.ProcessEnv): Promise<Map<string, ProfileData>> {
  const files = configPaths(env);
  const { configFile, credentialsFile } = await loadSharedConfigFiles({
    filepath: files.credentials,
    configFilepath: files.config,
    ignoreCache: true,
  });
  const profiles = new Map<string, ProfileData>();
  for (const [name, data] of Object.entries(configFile)) {
    if (name.startsWith("sso-session.") || name.startsWith("services.")) continue;
    profiles.set(name, { ...data });
  }
  for (const [name, data] of Object.entries(credentialsFile)) {
    profiles.set(name, { ...profiles.get(name), ...data });
  }
  return profiles;
}

/** Whether a profile holds a way to get credentials (static keys, a role, SSO, a process, web identity). */
export function hasCredentials(data: ProfileData | undefined): boolean {
  return data !== undefined && CREDENTIAL_KEYS.some((k) => data[k] !== undefined);
}

function integerSeconds(name: string, raw: string | undefined, profile: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) {
    throw new RefreshSessionError("CONFIG_INVALID", `Profile "${profile}": \`${name}\` must be whole seconds`, {
      profile,
    });
  }
  return n;
}

/**
 * Builds a {@link RefreshableSession} from the CLI's source flags: `--profile` (any profile the AWS CLI understands:
 * role_arn with source_profile or credential_source, web identity, SSO, credential_process, static keys; role chains
 * of any depth), `--role-arn` with its options, or, with neither, what the AWS CLI would use (environment keys,
 * `AWS_PROFILE`, the `default` profile, then the SDK's default chain).
 */
export async function resolveSource(input: SourceInput, ctx: SourceContext): Promise<ResolvedSource> {
  const env = ctx.env;
  const files = configPaths(env);
  const profiles = await loadProfiles(env);
  const closers: (() => void)[] = [];
  const sessionOptions = (options: MethodOptions, region?: string): RefreshableSessionOptions =>
    ({
      ...options,
      ...(region ? { region } : {}),
      ...(ctx.refresh ? { refresh: ctx.refresh } : {}),
      ...(ctx.logger ? { logger: ctx.logger } : {}),
    }) as RefreshableSessionOptions;
  const newSession = (options: MethodOptions, region?: string): RefreshableSession => {
    const s = new RefreshableSession(sessionOptions(options, region));
    closers.push(() => s.close());
    return s;
  };
  const mfaTokenCode = (serial: string): MfaOptions["tokenCode"] =>
    input.mfaCommand
      ? process.platform === "win32"
        ? ["cmd.exe", "/d", "/s", "/c", input.mfaCommand]
        : ["/bin/sh", "-c", input.mfaCommand]
      : () => (ctx.promptMfa ?? promptMfaCode)(serial);
  const mfaFor = (serial: string | undefined): MfaOptions | undefined =>
    serial === undefined
      ? undefined
      : {
          serialNumber: serial,
          tokenCode: mfaTokenCode(serial),
          ...(input.mfaDurationSeconds !== undefined ? { sessionDurationSeconds: input.mfaDurationSeconds } : {}),
        };
  const iniInit = { filepath: files.credentials, configFilepath: files.config, ignoreCache: true };
  // Keys from `env` (not necessarily process.env), read at each call as the SDK's fromEnv does.
  const fromEnvKeys: AwsCredentialIdentityProvider = async () => {
    if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) {
      throw new RefreshSessionError("SOURCE_FAILED", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
    }
    const expiration = env.AWS_CREDENTIAL_EXPIRATION ? new Date(env.AWS_CREDENTIAL_EXPIRATION) : undefined;
    return {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
      ...(expiration && Number.isFinite(expiration.getTime()) ? { expiration } : {}),
    };
  };

  const notFound = (name: string, via?: string): RefreshSessionError => {
    const known = [...profiles.keys()].sort();
    return new RefreshSessionError(
      "PROFILE_NOT_FOUND",
      `Profile "${name}"${via ? ` (the source_profile of "${via}")` : ""} is not in ${files.config} or ` +
        `${files.credentials}. ${known.length ? `Profiles there: ${known.join(", ")}.` : "Neither file has a profile."} ` +
        "Check the name, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE.",
      { profile: name },
    );
  };

  /** A provider for a profile used as another's `source_profile`. */
  const providerFor = (name: string, chain: string[]): { provider: AwsCredentialIdentityProvider; built: Built } => {
    const built = build(name, chain);
    if (built.kind === "static" || built.kind === "credential-process") {
      // Called only when the role above refreshes; no engine of their own needed.
      return { provider: (built.options as { provider: AwsCredentialIdentityProvider }).provider, built };
    }
    return { provider: newSession(built.options).credentials, built };
  };

  function build(name: string, chain: string[], via?: string): Built {
    const data = profiles.get(name);
    if (!data) throw notFound(name, via);
    if (chain.includes(name)) {
      throw new RefreshSessionError(
        "CONFIG_INVALID",
        `Profile "${name}" is its own source through ${[...chain, name].join(" → ")}; break the loop in ${files.config}`,
        { profile: name },
      );
    }
    const invalid = (what: string): RefreshSessionError =>
      new RefreshSessionError("CONFIG_INVALID", `Profile "${name}": ${what} (in ${files.config})`, { profile: name });
    const region = data.region;
    const stsClientConfig = data.endpoint_url ? { endpoint: data.endpoint_url } : undefined;

    if (data.role_arn && data.web_identity_token_file) {
      return {
        options: {
          method: "web-identity",
          roleArn: data.role_arn,
          webIdentityTokenFile: data.web_identity_token_file,
          ...(data.role_session_name ? { roleSessionName: data.role_session_name } : {}),
          ...(data.duration_seconds
            ? { durationSeconds: integerSeconds("duration_seconds", data.duration_seconds, name) }
            : {}),
          ...(region ? { region } : {}),
          ...(stsClientConfig ? { stsClientConfig } : {}),
          env,
        },
        kind: "web-identity",
        description: `web identity: assume ${data.role_arn} with the token in ${data.web_identity_token_file}`,
        chain: [data],
      };
    }
    if (data.role_arn) {
      let base: AwsCredentialIdentityProvider;
      let baseText: string;
      const chainData: ProfileData[] = [data];
      if (data.source_profile !== undefined && data.credential_source !== undefined) {
        throw invalid("has both `source_profile` and `credential_source`; keep one");
      }
      if (data.source_profile === name) {
        if (!data.aws_access_key_id || !data.aws_secret_access_key) {
          throw invalid("is its own `source_profile` but holds no aws_access_key_id / aws_secret_access_key");
        }
        const keys = {
          accessKeyId: data.aws_access_key_id,
          secretAccessKey: data.aws_secret_access_key,
          ...(data.aws_session_token ? { sessionToken: data.aws_session_token } : {}),
        };
        base = async () => keys;
        baseText = "its own static keys";
      } else if (data.source_profile !== undefined) {
        const parent = providerFor(data.source_profile, [...chain, name]);
        base = parent.provider;
        baseText = `profile ${data.source_profile} (${parent.built.description})`;
        chainData.push(...parent.built.chain);
      } else if (data.credential_source !== undefined) {
        const cs = data.credential_source;
        if (cs === "Environment") base = fromEnvKeys;
        else if (cs === "Ec2InstanceMetadata") base = fromInstanceMetadata();
        else if (cs === "EcsContainer") base = fromContainerMetadata();
        else throw invalid(`\`credential_source\` must be Environment, Ec2InstanceMetadata or EcsContainer, got ${cs}`);
        baseText = `credential_source ${cs}`;
      } else {
        throw invalid("has `role_arn` without `source_profile`, `credential_source` or `web_identity_token_file`");
      }
      const serial = input.mfaSerial ?? data.mfa_serial;
      const assumeRole: AssumeRoleParams = { RoleArn: data.role_arn };
      if (data.role_session_name) assumeRole.RoleSessionName = data.role_session_name;
      if (data.external_id) assumeRole.ExternalId = data.external_id;
      const d = integerSeconds("duration_seconds", data.duration_seconds, name);
      if (d !== undefined) assumeRole.DurationSeconds = d;
      const mfa = mfaFor(serial);
      return {
        options: {
          method: "sts",
          assumeRole,
          sourceCredentials: base,
          ...(mfa ? { mfa } : {}),
          ...(region ? { region } : {}),
          ...(stsClientConfig ? { stsClientConfig } : {}),
        },
        kind: "assume-role",
        description: `assume ${data.role_arn}${serial ? ` with MFA ${serial}` : ""} from ${baseText}`,
        chain: chainData,
      };
    }
    if (data.sso_session !== undefined || data.sso_start_url !== undefined) {
      const description = `IAM Identity Center (SSO)${data.sso_session ? ` session ${data.sso_session}` : ""}${
        data.sso_account_id ? `, account ${data.sso_account_id}` : ""
      }${data.sso_role_name ? `, role ${data.sso_role_name}` : ""}`;
      return {
        options: {
          method: "sso",
          profile: name,
          // The files and environment this resolver read, not ones fromSso would work out again.
          configFile: files.config,
          env,
          ...(input.notify !== undefined ? { notify: input.notify } : {}),
          ...(input.loginTimeoutMs !== undefined ? { loginTimeoutMs: input.loginTimeoutMs } : {}),
          ...(input.autoLogin !== undefined ? { autoLogin: input.autoLogin } : {}),
        },
        kind: "sso",
        description,
        chain: [data],
      };
    }
    if (data.aws_access_key_id !== undefined) {
      if (!data.aws_secret_access_key) throw invalid("has `aws_access_key_id` without `aws_secret_access_key`");
      return {
        options: { method: "provider", provider: fromIni({ ...iniInit, profile: name }) },
        kind: "static",
        description: `static keys${data.aws_session_token ? " with a session token" : ""}`,
        chain: [data],
      };
    }
    if (data.credential_process !== undefined) {
      return {
        options: { method: "provider", provider: fromProcess({ ...iniInit, profile: name }) },
        kind: "credential-process",
        description: `credential_process \`${data.credential_process.split(/\s+/)[0]}\``,
        chain: [data],
      };
    }
    throw invalid(
      "holds no credentials: it needs aws_access_key_id, role_arn, sso_session / sso_start_url, credential_process " +
        "or web_identity_token_file",
    );
  }

  const regionOf = (profileRegion?: string): string | undefined =>
    input.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || profileRegion || undefined;

  let built: Built;
  let name: string;
  let profile: string | undefined;
  let region: string | undefined;
  try {
    if (input.roleArn) {
      let base: AwsCredentialIdentityProvider = fromNodeProviderChain();
      let baseText = "the default credential chain";
      const chainData: ProfileData[] = [];
      if (input.profile) {
        const parent = providerFor(input.profile, []);
        base = parent.provider;
        baseText = `profile ${input.profile} (${parent.built.description})`;
        chainData.push(...parent.built.chain);
      }
      const assumeRole: AssumeRoleParams = { RoleArn: input.roleArn };
      if (input.roleSessionName) assumeRole.RoleSessionName = input.roleSessionName;
      if (input.externalId) assumeRole.ExternalId = input.externalId;
      if (input.durationSeconds !== undefined) assumeRole.DurationSeconds = input.durationSeconds;
      const mfa = mfaFor(input.mfaSerial);
      built = {
        options: { method: "sts", assumeRole, sourceCredentials: base, ...(mfa ? { mfa } : {}) },
        kind: "assume-role",
        description: `assume ${input.roleArn}${input.mfaSerial ? ` with MFA ${input.mfaSerial}` : ""} from ${baseText}`,
        chain: chainData,
      };
      name = input.profile ?? "role";
      profile = input.profile;
      region = regionOf(input.profile ? profiles.get(input.profile)?.region : undefined);
    } else {
      const envKeys = !input.profile && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY;
      const implicit = env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || (profiles.has("default") ? "default" : undefined);
      profile = input.profile || (envKeys ? undefined : implicit);
      if (profile) {
        built = build(profile, []);
        name = profile;
        region = regionOf(profiles.get(profile)?.region);
      } else if (envKeys) {
        built = {
          options: { method: "provider", provider: fromEnvKeys },
          kind: "environment",
          description: `keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY${env.AWS_SESSION_TOKEN ? " / AWS_SESSION_TOKEN" : ""}`,
          chain: [],
        };
        name = "default";
        region = regionOf(profiles.get("default")?.region);
      } else {
        built = {
          options: { method: "provider", provider: fromNodeProviderChain() },
          kind: "default-chain",
          description: "the SDK's default chain (no profile or keys configured: web identity, container, instance)",
          chain: [],
        };
        name = "default";
        region = regionOf();
      }
    }
    if (input.mfaSerial && built.kind !== "assume-role") {
      throw new TypeError("`--mfa-serial` applies to roles only (a profile with role_arn, or --role-arn)");
    }
    const session = newSession(built.options, region);
    const fingerprint = createHash("sha256")
      .update(
        JSON.stringify({
          input: { ...input, notify: undefined, loginTimeoutMs: undefined, autoLogin: undefined },
          kind: built.kind,
          chain: built.chain.map((d) =>
            Object.fromEntries(
              Object.entries(d).filter(([k]) => !SECRET_KEY.test(k) || k === "web_identity_token_file"),
            ),
          ),
          // Rotated static keys must not hit an old cache entry: the key id (not the secret) is enough.
          keys: built.chain.map((d) => d.aws_access_key_id ?? null),
        }),
      )
      .digest("hex");
    return {
      session,
      name,
      profile,
      kind: built.kind,
      description: `${profile ? `profile ${profile}: ` : ""}${built.description}`,
      region,
      files,
      fingerprint,
      close: () => {
        for (const c of closers.reverse()) c();
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) c();
    throw err;
  }
}
