import type { AwsCredentialIdentity } from "@smithy/types";
import { parseAwsConfig, startAwsConfigRead, type LoadedAwsConfig } from "../config/awsConfig.js";
import type { CredentialSource, SessionEnd, SourceEmitter, SourceStatusItem } from "../types.js";
import { allKeys, refuseUnknownKeys } from "../util/optionKeys.js";
import { resolveProfileNode } from "./resolveProfile.js";
import type { ProfileInit, ProfileKind, ProfileNode } from "./types.js";

/** What a profile resolved to, in words, for messages and `status`. */
export interface ProfileDescription {
  profile: string;
  kind: ProfileKind;
  /** One line, e.g. `assume arn:aws:iam::…:role/etl from profile base (static keys in ~/.aws/credentials)`. */
  description: string;
  /** The profile's `region`, when it sets one. */
  region: string | undefined;
  /** The files it was read from. */
  files: LoadedAwsConfig["paths"];
}

/** What {@link fromProfile} returns: a credential source with the profile's own facts attached. */
export type ProfileSource = CredentialSource & {
  /** The profile name in use. */
  readonly profile: string;
  /** Reads the files (once) and sets the profile up; rejects with the typed error a bad profile gives. */
  describe(): Promise<ProfileDescription>;
  /** The predicted end of the earliest underlying session of the chain (SSO, MFA), when one is known. */
  validUntil(): Promise<SessionEnd | undefined>;
  /** Facts for `aws-refresh status`, from every profile of the chain. */
  status(): Promise<SourceStatusItem[]>;
  /** Receives the chain's source events (`sso-session-ending`…). */
  bindEmitter(emit: SourceEmitter): void;
  /** Stops every timer and command of the chain. */
  close(): void;
};

/** Every option of {@link fromProfile} (checked against `ProfileInit` both ways). */
export const PROFILE_INIT_KEYS = allKeys<ProfileInit>()([
  "profile",
  "configFile",
  "credentialsFile",
  "env",
  "config",
  "mfa",
  "sso",
  "login",
  "stsClientConfig",
  "processTimeoutMs",
  "chainRefresh",
  "clientPlugins",
  "logger",
  "clock",
]);

function validate(init: ProfileInit): void {
  if (init === null || typeof init !== "object") throw new TypeError("`options` must be an object");
  refuseUnknownKeys(init, PROFILE_INIT_KEYS, "for fromProfile()");
  for (const key of ["profile", "configFile", "credentialsFile"] as const) {
    const v = init[key];
    if (v !== undefined && (typeof v !== "string" || v.trim() === "")) {
      throw new TypeError(`\`${key}\` must be a non-empty string`);
    }
  }
  if (init.mfa !== undefined && (init.mfa === null || typeof init.mfa !== "object")) {
    throw new TypeError("`mfa` must be an object (`{ tokenCode, serialNumber?, sessionDurationSeconds? }`)");
  }
  if (init.sso !== undefined && (init.sso === null || typeof init.sso !== "object")) {
    throw new TypeError("`sso` must be an object of SSO options");
  }
  if (init.processTimeoutMs !== undefined && !(Number.isFinite(init.processTimeoutMs) && init.processTimeoutMs > 0)) {
    throw new RangeError("`processTimeoutMs` must be a positive number of milliseconds");
  }
}

/**
 * Credentials for any profile the AWS CLI v2 understands, kept fresh by this library's own sources: static keys;
 * `role_arn` with `source_profile` (chains of any depth) or `credential_source`, with `mfa_serial` (one MFA session
 * per role), `duration_seconds`, `external_id` and `role_session_name`; `web_identity_token_file`; `sso_session` and
 * legacy SSO profiles (the token refreshed in the background, session-end warnings, headless re-login);
 * `credential_process`. The config and credentials files are read once, by the SDK's loader: the read starts when
 * the source is created, and they are checked and the profile set up when it is first used (never, when `config`
 * hands them over).
 *
 * @example
 * ```ts
 * const credentials = refreshable(fromProfile({ profile: "ml", mfa: { tokenCode: ["ykman", "oath", "accounts", "code", "-s", "aws"] } }));
 * ```
 */
export function fromProfile(init: ProfileInit = {}): ProfileSource {
  validate(init);
  const env = init.env ?? init.config?.env ?? process.env;
  const profile = init.profile || env.AWS_PROFILE || "default";
  let node: ProfileNode | undefined;
  let config: LoadedAwsConfig | undefined;
  let loading: Promise<ProfileNode> | undefined;
  let emit: SourceEmitter | undefined;
  let closed = false;

  const build = (loaded: LoadedAwsConfig): ProfileNode => {
    const n = resolveProfileNode(profile, loaded, { ...init, env });
    config = loaded;
    node = n;
    if (emit) n.bindEmitter?.(emit);
    if (closed) n.close?.();
    return n;
  };
  // Handed the files: set up now, so a bad profile fails at construction.
  if (init.config) build(init.config);

  const read = (): ReturnType<typeof startAwsConfigRead> =>
    startAwsConfigRead({
      env,
      ...(init.configFile ? { configFile: init.configFile } : {}),
      ...(init.credentialsFile ? { credentialsFile: init.credentialsFile } : {}),
    });
  // The files are read from now on (the SDK clients of a session, which resolve their region from the profile first,
  // then reuse this read); they are checked and the profile set up at first use.
  let started = init.config ? undefined : read();

  const load = (): Promise<ProfileNode> => {
    if (node) return Promise.resolve(node);
    if (!loading) {
      const files = started ?? read();
      started = undefined;
      loading = parseAwsConfig(files).then(build);
      // A bad file is reported to this caller; the next one reads the (perhaps fixed) files again.
      loading.catch(() => (loading = undefined));
    }
    return loading;
  };

  const source = async (): Promise<AwsCredentialIdentity> => (await load()).source();
  return Object.assign(source, {
    sourceName: `profile:${profile}`,
    profile,
    async describe(): Promise<ProfileDescription> {
      const n = await load();
      const loaded = config as LoadedAwsConfig;
      return {
        profile,
        kind: n.kind,
        description: n.description,
        region: loaded.profiles.get(profile)?.region,
        files: loaded.paths,
      };
    },
    async validUntil(): Promise<SessionEnd | undefined> {
      return (await load()).validUntil?.();
    },
    async status(): Promise<SourceStatusItem[]> {
      const n = await load();
      return [
        { key: "profile.source", label: "Profile source", value: n.description },
        ...((await n.status?.()) ?? []),
      ];
    },
    bindEmitter(fn: SourceEmitter): void {
      emit = fn;
      node?.bindEmitter?.(fn);
    },
    close(): void {
      closed = true;
      node?.close?.();
    },
  });
}
