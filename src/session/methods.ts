import type { AwsCredentialIdentityProvider, Logger } from "@smithy/types";
import type { ClientPlugin } from "../middleware/clientPlugin.js";
import { allKeys } from "../util/optionKeys.js";
import type { Clock, MfaSessionEnd, SessionSource } from "../types.js";
import { fromAssumeRole, type AssumeRoleInit } from "../sources/sts.js";
import { fromWebIdentity, type WebIdentityInit } from "../sources/web-identity.js";
import { fromCustom, type CustomSourceFunction } from "../sources/custom.js";
import { fromProvider } from "../sources/provider.js";
import { fromSso, type SsoInit } from "../sources/sso.js";
import { fromLogin, type LoginInit } from "../sources/login.js";
import { fromProfile, PROFILE_INIT_KEYS } from "../profiles/fromProfile.js";
import type { ProfileInit } from "../profiles/types.js";
import { fromIotCertificate, type IotCertificateInit } from "../sources/iot.js";
import { fromRolesAnywhere, type RolesAnywhereInit } from "../sources/roles-anywhere.js";

export type { SessionEnd, SourceStatusItem, SessionSource } from "../types.js";

/** Context the session passes to method factories. */
export interface MethodContext {
  logger: Logger | undefined;
  /** The session's clock, corrected for skew to AWS's. */
  clock: Clock;
  /** SDK plugins for every SDK client a source creates (the session's clock-skew observer). May be empty. */
  clientPlugins?: ClientPlugin[];
}

/** `{ method: "sts", assumeRole: { RoleArn } }`: STS AssumeRole, optionally with MFA and role chaining. */
export type StsMethodOptions = { method: "sts" } & Omit<AssumeRoleInit, "clock">;
/** `{ method: "web-identity" }`: AssumeRoleWithWebIdentity (EKS IRSA, GitHub Actions OIDC…). */
export type WebIdentityMethodOptions = { method: "web-identity" } & WebIdentityInit;
/** `{ method: "custom", source }`: your own async function. */
export interface CustomMethodOptions {
  method: "custom";
  source: CustomSourceFunction;
}
/** `{ method: "provider", provider }`: any SDK v3 credential provider, given background refresh. */
export interface ProviderMethodOptions {
  method: "provider";
  provider: AwsCredentialIdentityProvider;
}

/**
 * `{ method: "sso", profile }`: IAM Identity Center role credentials, with the SSO token refreshed in the background,
 * session-end warnings and headless re-login. Options: {@link SsoInit} (`logger` and `clock` come from the session).
 */
export type SsoMethodOptions = { method: "sso" } & Omit<SsoInit, "logger" | "clock">;

/**
 * `{ method: "login", loginSession }`: console credentials from `aws login`, refreshed with the cached DPoP-bound
 * refresh token. Options: {@link LoginInit} (`logger` and `clock` come from the session). A `login_session` profile
 * under `method: "profile"` does the same, reading the session and region from the profile.
 */
export type LoginMethodOptions = { method: "login" } & Omit<LoginInit, "logger" | "clock">;

/**
 * `{ method: "profile", profile }`: whatever an AWS config profile says (a role chain, MFA, SSO, web identity,
 * credential_process, static keys), each part kept fresh by this library's own sources. Options: {@link ProfileInit}
 * (`logger` and `clock` come from the session).
 */
export type ProfileMethodOptions = { method: "profile" } & Omit<ProfileInit, "logger" | "clock">;

/**
 * `{ method: "iot", endpoint, roleAlias, certificate, privateKey }`: AWS IoT Core's credentials provider, over mutual
 * TLS with the device certificate. Options: {@link IotCertificateInit} (`logger` and `clock` come from the session).
 */
export type IotMethodOptions = { method: "iot" } & Omit<IotCertificateInit, "logger" | "clock">;

/**
 * `{ method: "roles-anywhere", trustAnchorArn, profileArn, roleArn, certificate, privateKey }`: IAM Roles Anywhere
 * CreateSession signed with the certificate's key. Options: {@link RolesAnywhereInit} (`logger` and `clock` come from
 * the session).
 */
export type RolesAnywhereMethodOptions = { method: "roles-anywhere" } & Omit<RolesAnywhereInit, "logger" | "clock">;

/** Every `method` a {@link RefreshableSession} accepts, with its own options. */
export type MethodOptions =
  | ProfileMethodOptions
  | StsMethodOptions
  | WebIdentityMethodOptions
  | CustomMethodOptions
  | ProviderMethodOptions
  | SsoMethodOptions
  | LoginMethodOptions
  | IotMethodOptions
  | RolesAnywhereMethodOptions;

/** Builds a method's source from its options. */
export type MethodFactory = (options: never, ctx: MethodContext) => SessionSource;

function stripMethod<T extends { method: string }>(options: T): Omit<T, "method"> {
  const { method: _method, ...rest } = options;
  return rest;
}

/** The session's plugins (its clock-skew observer) ahead of the ones the user gave the source. */
function withSessionPlugins(o: { clientPlugins?: ClientPlugin[] }, ctx: MethodContext): ClientPlugin[] {
  return [...(ctx.clientPlugins ?? []), ...(o.clientPlugins ?? [])];
}

type Keys<M> = Omit<M, "method">;

/** Each method's own option keys (checked against its options type both ways), to refuse a typo by name. */
export const METHOD_KEYS: Readonly<Record<string, readonly string[]>> = {
  // The profile method's options are fromProfile()'s but the two the session passes itself.
  profile: PROFILE_INIT_KEYS.filter((k) => k !== "logger" && k !== "clock"),
  sts: allKeys<Keys<StsMethodOptions>>()([
    "assumeRole",
    "sourceCredentials",
    "mfa",
    "region",
    "stsClientConfig",
    "clientPlugins",
  ]),
  "web-identity": allKeys<Keys<WebIdentityMethodOptions>>()([
    "roleArn",
    "webIdentityTokenFile",
    "webIdentityToken",
    "roleSessionName",
    "durationSeconds",
    "policy",
    "policyArns",
    "region",
    "stsClientConfig",
    "clientPlugins",
    "env",
  ]),
  login: allKeys<Keys<LoginMethodOptions>>()([
    "loginSession",
    "profile",
    "region",
    "cacheDir",
    "signinClientConfig",
    "sessionDurationMs",
    "warnBeforeMs",
    "lockStaleMs",
    "lockWaitMs",
    "watch",
    "clientPlugins",
    "env",
  ]),
  iot: allKeys<Keys<IotMethodOptions>>()([
    "endpoint",
    "roleAlias",
    "thingName",
    "certificate",
    "privateKey",
    "passphrase",
    "intermediates",
    "ca",
    "region",
    "timeoutMs",
  ]),
  "roles-anywhere": allKeys<Keys<RolesAnywhereMethodOptions>>()([
    "trustAnchorArn",
    "profileArn",
    "roleArn",
    "certificate",
    "privateKey",
    "passphrase",
    "intermediates",
    "durationSeconds",
    "roleSessionName",
    "region",
    "endpoint",
    "timeoutMs",
    "env",
  ]),
  custom: allKeys<Keys<CustomMethodOptions>>()(["source"]),
  provider: allKeys<Keys<ProviderMethodOptions>>()(["provider"]),
  sso: allKeys<Keys<SsoMethodOptions>>()([
    "profile",
    "ssoSessionDurationMs",
    "notify",
    "loginTimeoutMs",
    "warnBeforeMs",
    "loginBeforeMs",
    "autoLogin",
    "interactiveLogin",
    "configFile",
    "config",
    "cacheDir",
    "tokenRefresh",
    "oidcClientConfig",
    "ssoClientConfig",
    "clientPlugins",
    "lockStaleMs",
    "env",
  ]),
};

/** The method registry: one entry per credential source. */
export const methods: Record<string, MethodFactory> = {
  profile: (o: ProfileMethodOptions, ctx) => {
    const source = fromProfile({
      ...(stripMethod(o) as Omit<ProfileInit, "logger" | "clock">),
      ...(ctx.logger ? { logger: ctx.logger } : {}),
      clock: ctx.clock,
      clientPlugins: withSessionPlugins(o, ctx),
    });
    return {
      source,
      // Clients get the profile, so the SDK resolves their region as it would: AWS_REGION, then the profile's.
      profile: source.profile,
      validUntil: () => source.validUntil(),
      status: () => source.status(),
      describe: async () => {
        const d = await source.describe();
        return { kind: d.kind, description: `profile ${d.profile}: ${d.description}` };
      },
      bindEmitter: (emit) => source.bindEmitter(emit),
      close: () => source.close(),
    };
  },
  sts: (o: StsMethodOptions, ctx) => {
    const source = fromAssumeRole({
      clock: ctx.clock,
      ...(stripMethod(o) as AssumeRoleInit),
      clientPlugins: withSessionPlugins(o, ctx),
    });
    const mfaEnd = (): MfaSessionEnd | undefined => {
      const at = source.mfaSessionExpiration();
      const serialNumber = source.mfaSerialNumber;
      return at && serialNumber
        ? {
            source: "mfa",
            at,
            basis: "the MFA session (GetSessionToken) ends; a new MFA code is needed then",
            serialNumber,
          }
        : undefined;
    };
    return {
      source,
      validUntil: async () => mfaEnd(),
      status: async () => {
        const end = mfaEnd();
        return end ? [{ key: "mfa.sessionExpiresAt", label: "MFA session ends", value: end.at.toISOString() }] : [];
      },
      close: () => source.close(),
    };
  },
  "web-identity": (o: WebIdentityMethodOptions, ctx) => ({
    source: fromWebIdentity({
      ...(stripMethod(o) as WebIdentityInit),
      clientPlugins: withSessionPlugins(o, ctx),
    }),
  }),
  custom: (o: CustomMethodOptions) => ({ source: fromCustom(o.source) }),
  provider: (o: ProviderMethodOptions) => ({ source: fromProvider(o.provider) }),
  sso: (o: SsoMethodOptions, ctx: MethodContext) => {
    const source = fromSso({
      ...(stripMethod(o) as Omit<SsoInit, "logger" | "clock">),
      ...(ctx.logger ? { logger: ctx.logger } : {}),
      clock: ctx.clock,
      clientPlugins: withSessionPlugins(o, ctx),
    });
    return {
      source,
      profile: source.profile,
      validUntil: () => source.validUntil(),
      status: () => source.status(),
      bindEmitter: (emit) => source.bindEmitter(emit),
      close: () => source.close(),
    };
  },
  login: (o: LoginMethodOptions, ctx: MethodContext) => {
    const source = fromLogin({
      ...(stripMethod(o) as Omit<LoginInit, "logger" | "clock">),
      ...(ctx.logger ? { logger: ctx.logger } : {}),
      clock: ctx.clock,
      clientPlugins: withSessionPlugins(o, ctx),
    });
    return {
      source,
      ...(o.profile !== undefined ? { profile: o.profile } : {}),
      ...(o.region !== undefined ? { region: o.region } : {}),
      validUntil: () => source.validUntil(),
      status: () => source.status(),
      describe: async () => ({ kind: "login", description: `\`aws login\` console session ${source.loginSession}` }),
      bindEmitter: (emit) => source.bindEmitter(emit),
      close: () => source.close(),
    };
  },
  iot: (o: IotMethodOptions, ctx: MethodContext) => {
    const source = fromIotCertificate({
      ...(stripMethod(o) as Omit<IotCertificateInit, "logger" | "clock">),
      ...(ctx.logger ? { logger: ctx.logger } : {}),
      clock: ctx.clock,
    });
    return {
      source,
      ...(source.region !== undefined ? { region: source.region } : {}),
      validUntil: () => source.validUntil(),
      status: () => source.status(),
      bindEmitter: (emit) => source.bindEmitter(emit),
      close: () => source.close(),
    };
  },
  "roles-anywhere": (o: RolesAnywhereMethodOptions, ctx: MethodContext) => {
    const source = fromRolesAnywhere({
      ...(stripMethod(o) as Omit<RolesAnywhereInit, "logger" | "clock">),
      ...(ctx.logger ? { logger: ctx.logger } : {}),
      clock: ctx.clock,
    });
    return {
      source,
      region: source.region,
      validUntil: () => source.validUntil(),
      status: () => source.status(),
      bindEmitter: (emit) => source.bindEmitter(emit),
      close: () => source.close(),
    };
  },
};
