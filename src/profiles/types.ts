import type { STSClientConfig } from "@aws-sdk/client-sts";
import type { Logger } from "@smithy/types";
import type { LoadedAwsConfig, ProfileSection } from "../config/awsConfig.js";
import type { ClientPlugin } from "../middleware/clientPlugin.js";
import type { RefreshableOptions } from "../refresh/types.js";
import type { SsoInit } from "../sources/sso.js";
import type { LoginInit } from "../sources/login.js";
import type { MfaTokenCode } from "../sources/mfa.js";
import type { Clock, SessionSource } from "../types.js";

/** The kinds of profile the AWS CLI v2 knows, as this library serves them. */
export type ProfileKind =
  | "static"
  | "assume-role"
  | "web-identity"
  | "sso"
  | "login"
  | "credential-process"
  | "credential-source"
  | "roles-anywhere";

/** MFA for the role profiles of a chain that name an `mfa_serial`: one MFA session each, prompted once per session. */
export interface ProfileMfaOptions {
  /** Where codes come from: an async function, an argv array, or `{ shell }`. Required when a profile has `mfa_serial`. */
  tokenCode?: MfaTokenCode;
  /** Use this MFA device for the top profile's role instead of its `mfa_serial`. */
  serialNumber?: string;
  /** Lifetime asked of each MFA session, 900..129600 s. Default 43200 (12 h). */
  sessionDurationSeconds?: number;
  /** How long the code command may run. Default 60000. */
  timeoutMs?: number;
}

/** Options of {@link fromProfile} (and of `new RefreshableSession({ method: "profile", … })`). */
export interface ProfileInit {
  /** The profile. Default: `AWS_PROFILE` (when not empty), else `default`. */
  profile?: string;
  /** The config file. Default: `AWS_CONFIG_FILE` when set and not empty, else `~/.aws/config`. */
  configFile?: string;
  /** The credentials file. Default: `AWS_SHARED_CREDENTIALS_FILE` when set and not empty, else `~/.aws/credentials`. */
  credentialsFile?: string;
  /** Where `AWS_PROFILE`, the file variables and `credential_source = Environment` keys are read. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The config files already read (`loadAwsConfig()`): used instead of reading them, and the profile set up at once. */
  config?: LoadedAwsConfig;
  /** MFA for role profiles with `mfa_serial`. */
  mfa?: ProfileMfaOptions;
  /** Options for the SSO profiles of the chain (notify hook, login timeout, warnings…). */
  sso?: Omit<SsoInit, "profile" | "configFile" | "config" | "env" | "logger" | "clock" | "clientPlugins">;
  /** Options for the `aws login` (`login_session`) profiles of the chain (cache directory, warnings, sign-in client…). */
  login?: Omit<LoginInit, "loginSession" | "profile" | "region" | "env" | "logger" | "clock" | "clientPlugins">;
  /** Merged into the config of every STS client the chain creates (a profile's `endpoint_url` wins for its own). */
  stsClientConfig?: Omit<STSClientConfig, "credentials">;
  /** Kill a `credential_process` command after this long. Default 60000. */
  processTimeoutMs?: number;
  /** Engine options for the intermediate credentials of a chain (a role's source). Default: the engine's. */
  chainRefresh?: Omit<RefreshableOptions, "logger" | "clock" | "name">;
  /** SDK plugins for every SDK client the chain creates (a session adds its clock-skew observer). */
  clientPlugins?: ClientPlugin[];
  logger?: Logger;
  /** Default `Date`. */
  clock?: Clock;
}

/** What a profile kind builds: a source with what it knows about itself, and words for it. */
export interface ProfileNode extends SessionSource {
  kind: ProfileKind;
  /** The profile it was built from (undefined for a `credential_source`). */
  profile: string | undefined;
  /** One line, e.g. `assume arn:aws:iam::…:role/etl from profile base (static keys)`. */
  description: string;
  /** Whether its credentials are temporary (refreshed) rather than long-term keys. */
  temporary: boolean;
}

/** What every kind's builder gets. Internal. */
export interface ProfileContext {
  config: LoadedAwsConfig;
  init: ProfileInit;
  /** Builds the profile a `source_profile` names, as the AWS CLI resolves a source profile. */
  sourceProfile(name: string, chain: readonly string[]): ProfileNode;
}

/** A profile being resolved: its merged keys and the file each key came from. Internal. */
export interface ProfileEntry {
  name: string;
  /** Config keys overridden by credentials keys, as the SDKs merge them. */
  section: ProfileSection;
  /** The config file's section alone (empty when the profile is only in the credentials file). */
  inConfig: ProfileSection;
  /** The credentials file's section alone. */
  inCredentials: ProfileSection;
  /** Profiles above this one in a `source_profile` chain, top first. */
  chain: readonly string[];
}

/** One kind of profile: how to recognise it and what it builds. Internal; the dispatcher lists them in order. */
export interface ProfileKindModule {
  kind: ProfileKind;
  /** The keys that make a profile this kind, for the "what is supported" message. */
  keys: readonly string[];
  matches(entry: ProfileEntry): boolean;
  build(entry: ProfileEntry, ctx: ProfileContext): ProfileNode;
}
