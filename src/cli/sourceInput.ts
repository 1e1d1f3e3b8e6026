/**
 * The CLI's source flags as data, and what can be known from them and the config files without setting anything up
 * (which profile, the cache key, the name to serve under). Loaded by every command; builds nothing, loads no SDK.
 */
import { createHash } from "node:crypto";
import type { LoadedAwsConfig, ProfileSection } from "../config/awsConfig.js";
import { profileChainSections } from "../profiles/chainSections.js";

/**
 * A certificate source from the CLI's certificate flags, as given (paths, ARNs, URIs; never a PIN or passphrase: those
 * come from AWS_REFRESH_PKCS11_PIN / AWS_REFRESH_KEY_PASSPHRASE or the files named here, read when the source is set up).
 */
export type CertificateSourceInput =
  | {
      method: "roles-anywhere";
      /** The flags as `aws_signing_helper credential-process` takes them, `--session-duration` in seconds. */
      helperFlags: [flag: string, value: string][];
      roleArn: string;
      pinFile?: string;
      passphraseFile?: string;
    }
  | {
      method: "iot";
      endpoint: string;
      roleAlias: string;
      thingName?: string;
      certificate: string;
      privateKey: string;
      intermediates?: string;
      ca?: string;
      pkcs11Lib?: string;
      pinFile?: string;
      passphraseFile?: string;
    };

/** Where credentials come from, as the CLI's source flags describe it. */
export interface SourceInput {
  /** IAM Roles Anywhere or AWS IoT from a certificate (`--certificate` and the method's flags), instead of a profile. */
  certificate?: CertificateSourceInput;
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
  /** SSO profiles: a person is at the terminal, so a needed login opens the browser (PKCE). Default false. */
  interactiveLogin?: boolean;
}

/** How the session gets its credentials, for messages and `status`. */
export type SourceKind =
  | "assume-role"
  | "web-identity"
  | "sso"
  | "credential-process"
  | "roles-anywhere"
  | "iot"
  | "static"
  | "credential-source"
  | "environment"
  | "default-chain";

/** Keys by which a profile holds a way to get credentials. */
const CREDENTIAL_KEYS = [
  "role_arn",
  "sso_session",
  "sso_start_url",
  "credential_process",
  "aws_access_key_id",
  "web_identity_token_file",
  "login_session",
];
/** Keys whose values must not reach a digest in clear. */
const SECRET_KEY = /secret|session_token/;

/** The name the CLI serves a bare `--role-arn` under. */
export const ROLE_NAME = "role";

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

/** Whether a profile holds a way to get credentials (static keys, a role, SSO, a process, web identity). */
export function hasCredentials(data: ProfileSection | undefined): boolean {
  return data !== undefined && CREDENTIAL_KEYS.some((k) => data[k] !== undefined);
}

/** The profile a command without `--profile` uses, as the AWS CLI picks it; undefined for the default chain. */
export function implicitProfile(env: NodeJS.ProcessEnv, config: LoadedAwsConfig): string | undefined {
  return env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || (config.profiles.has("default") ? "default" : undefined);
}

/** Which profile (if any) a source input resolves through, and the tag of its kind that the cache key carries. */
export function choose(
  input: SourceInput,
  env: NodeJS.ProcessEnv,
  config: LoadedAwsConfig,
): {
  profile: string | undefined;
  tag: "assume-role" | "profile" | "environment" | "default-chain" | "roles-anywhere" | "iot";
} {
  if (input.certificate) return { profile: undefined, tag: input.certificate.method };
  if (input.roleArn) return { profile: input.profile || undefined, tag: "assume-role" };
  const envKeys = !input.profile && !!env.AWS_ACCESS_KEY_ID && !!env.AWS_SECRET_ACCESS_KEY;
  const profile = input.profile || (envKeys ? undefined : implicitProfile(env, config));
  return { profile, tag: profile !== undefined ? "profile" : envKeys ? "environment" : "default-chain" };
}

/** A digest of what decides the credential: the flags, and every section of the profile chain without its secrets. */
export function fingerprintOf(
  input: SourceInput,
  kind: string,
  sections: { name: string; section: ProfileSection }[],
): string {
  return createHash("sha256")
    .update(
      JSON.stringify({
        input: {
          ...input,
          notify: undefined,
          loginTimeoutMs: undefined,
          autoLogin: undefined,
          interactiveLogin: undefined,
        },
        kind,
        chain: sections.map(({ name, section }) => [
          name,
          Object.fromEntries(Object.entries(section).filter(([k]) => !SECRET_KEY.test(k))),
        ]),
        // Rotated static keys must not hit an old cache entry: the key id (not the secret) is enough.
        keys: sections.map(({ section }) => section.aws_access_key_id ?? null),
      }),
    )
    .digest("hex");
}

/** The names the CLI serves a certificate source under (`/profiles/<name>`). */
export const CERTIFICATE_SOURCE_NAMES = { "roles-anywhere": "roles-anywhere", iot: "iot" } as const;

/**
 * The name {@link resolveSource} serves a source under: the profile, `role` for a bare `--role-arn`, `roles-anywhere`
 * or `iot` for a certificate source, else `default`.
 */
export function sourceName(input: SourceInput, env: NodeJS.ProcessEnv, config: LoadedAwsConfig): string {
  if (input.certificate) return CERTIFICATE_SOURCE_NAMES[input.certificate.method];
  const { profile, tag } = choose(input, env, config);
  return profile ?? (tag === "assume-role" ? ROLE_NAME : "default");
}

/**
 * The cache key of {@link resolveSource}'s credential, computed from the config files alone (no source is built, no
 * SDK is loaded): what `credential-process` looks up before anything else.
 */
export function sourceFingerprint(input: SourceInput, env: NodeJS.ProcessEnv, config: LoadedAwsConfig): string {
  const { profile, tag } = choose(input, env, config);
  return fingerprintOf(input, tag, profile !== undefined ? profileChainSections(profile, config) : []);
}
