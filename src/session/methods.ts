import type { AwsCredentialIdentityProvider, Logger } from "@smithy/types";
import type { ClientPlugin } from "../middleware/clientPlugin.js";
import type { Clock, CredentialSource } from "../refresh/refreshable.js";
import { fromAssumeRole, type AssumeRoleInit } from "../sources/sts.js";
import { fromWebIdentity, type WebIdentityInit } from "../sources/web-identity.js";
import { fromCustom, type CustomSourceFunction } from "../sources/custom.js";
import { fromProvider } from "../sources/provider.js";
import { fromSso, type SsoInit } from "../sources/sso.js";

/** When a source's underlying session (SSO, MFA) is predicted to end, and what the prediction rests on. */
export interface SessionEnd {
  at: Date;
  basis: string;
}

/**
 * One fact a source reports about itself for `aws-refresh status` (e.g. an SSO access token's expiry, the cache
 * file's mode). Holds no secret.
 */
export interface SourceStatusItem {
  /** Stable machine key, e.g. `sso.accessTokenExpiresAt`. */
  key: string;
  /** Human label, e.g. `SSO access token expires`. */
  label: string;
  value: string | number | boolean | null;
  /** Set when this fact is a problem: what is wrong and what to do about it. */
  problem?: string;
}

/** What a method factory hands the session. Internal. */
export interface SessionSource {
  source: CredentialSource;
  /** Region the source implies (an SSO profile's `region`); the session's `region` option wins. */
  region?: string;
  /**
   * The AWS config profile the source reads. The session's clients get it as their `profile`, so the SDK resolves
   * their region (and other profile settings) from it: `AWS_REGION` first, then the profile's `region`.
   */
  profile?: string;
  /** Predicted end of the underlying session, when the source can know it. */
  validUntil?(): Promise<SessionEnd | undefined>;
  /** Lets the source raise session-level events (e.g. `sso-session-ending`). */
  bindEmitter?(emit: (event: string, payload: unknown) => void): void;
  /** Facts about the source for `aws-refresh status` (SSO token expiry, cache permissions…). */
  status?(): Promise<SourceStatusItem[]>;
  /** Stops the source's own timers. */
  close?(): void;
}

/** Context the session passes to method factories. */
export interface MethodContext {
  logger: Logger | undefined;
  /** The session's clock, corrected for skew to AWS's. */
  clock: Clock;
  /** SDK plugins for every SDK client a source creates (the session's clock-skew observer). May be empty. */
  clientPlugins?: ClientPlugin[];
}

/** `{ method: "sts", assumeRole: { RoleArn } }`: STS AssumeRole, optionally with MFA and role chaining. */
export type StsMethodOptions = { method: "sts" } & AssumeRoleInit;
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

/** Every `method` a {@link RefreshableSession} accepts, with its own options. */
export type MethodOptions =
  StsMethodOptions | WebIdentityMethodOptions | CustomMethodOptions | ProviderMethodOptions | SsoMethodOptions;

type Factory = (options: never, ctx: MethodContext) => SessionSource;

function stripMethod<T extends { method: string }>(options: T): Omit<T, "method"> {
  const { method: _method, ...rest } = options;
  return rest;
}

/** The session's plugins (its clock-skew observer) ahead of the ones the user gave the source. */
function withSessionPlugins(o: { clientPlugins?: ClientPlugin[] }, ctx: MethodContext): ClientPlugin[] {
  return [...(ctx.clientPlugins ?? []), ...(o.clientPlugins ?? [])];
}

/** The method registry: one entry per credential source. */
export const methods: Record<string, Factory> = {
  sts: (o: StsMethodOptions, ctx) => {
    const source = fromAssumeRole({
      ...(stripMethod(o) as AssumeRoleInit),
      clientPlugins: withSessionPlugins(o, ctx),
    });
    const mfaEnd = (): SessionEnd | undefined => {
      const at = source.mfaSessionExpiration();
      return at && { at, basis: "the MFA session (GetSessionToken) ends; a new MFA code is needed then" };
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
};
