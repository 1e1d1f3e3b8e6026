import {
  AssumeRoleCommand,
  GetSessionTokenCommand,
  STSClient,
  type AssumeRoleCommandInput,
  type Credentials,
  type STSClientConfig,
} from "@aws-sdk/client-sts";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";
import type { ClientPlugin } from "../middleware/clientPlugin.js";
import { refreshable } from "../refresh/refreshable.js";
import type { CredentialSource } from "../types.js";
import type { RefreshableCredentials } from "../refresh/types.js";
import { createSdkClient } from "../util/sdkClient.js";
import { DEFAULT_SOURCE_TIMEOUT_MS } from "../refresh/options.js";
import type { Clock } from "../types.js";
import { DEFAULT_MFA_TIMEOUT_MS, getMfaCode, validateMfaTokenCode, type MfaTokenCode } from "./mfa.js";

/** STS's own fallback region for AssumeRole when none is configured, as the SDK's `fromTemporaryCredentials` uses. */
export const DEFAULT_STS_REGION = "us-east-1";
/** Lifetime asked of an MFA session (GetSessionToken): 12 hours. */
export const DEFAULT_MFA_SESSION_DURATION_SECONDS = 43_200;

const ROLE_ARN = /^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[\w+=,.@/-]{1,512}$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/** AssumeRole's parameters; `RoleSessionName` defaults to `aws-refresh-session-<epoch ms>`. */
export type AssumeRoleParams = Omit<AssumeRoleCommandInput, "RoleSessionName" | "TokenCode"> & {
  RoleSessionName?: string;
};

/** MFA: prompted once per MFA session (GetSessionToken), whose credentials then sign every AssumeRole. */
export interface MfaOptions {
  /** The MFA device's ARN or serial. Default: `assumeRole.SerialNumber`. */
  serialNumber?: string;
  /** An async function returning the code, or a command as an argv array (run without a shell). */
  tokenCode: MfaTokenCode;
  /** How long the command may run. Default 60000. */
  timeoutMs?: number;
  /** Lifetime asked of the MFA session, 900..129600 s. Default 43200 (12 h). */
  sessionDurationSeconds?: number;
}

/** Options of {@link fromAssumeRole}. */
export interface AssumeRoleInit {
  assumeRole: AssumeRoleParams;
  /** Credentials that call AssumeRole: any SDK provider or a `refreshable()` (role chaining). Default: the node chain. */
  sourceCredentials?: AwsCredentialIdentityProvider;
  mfa?: MfaOptions;
  /** Region of the STS client. Default: `stsClientConfig.region`, else the SDK's resolution, else us-east-1. */
  region?: string;
  /** Passed to the STS client (endpoint, requestHandler, retry…); `credentials` is taken from `sourceCredentials`. */
  stsClientConfig?: Omit<STSClientConfig, "credentials">;
  /** SDK plugins applied to the STS client(s) this source creates (a session adds its clock-skew observer). */
  clientPlugins?: ClientPlugin[];
  /**
   * The clock the MFA session's expiry is judged by (a session passes its own, corrected to AWS's time). Default
   * `Date`.
   */
  clock?: Clock;
}

/** A source backed by STS, with the end of its MFA session when MFA is in use. */
export type AssumeRoleSource = CredentialSource & {
  /** When the current MFA session ends (undefined without MFA or before the first prompt). */
  mfaSessionExpiration(): Date | undefined;
  /** The MFA device in use; undefined without MFA. */
  readonly mfaSerialNumber: string | undefined;
  /** Stops the MFA session's own refresh timer. */
  close(): void;
};

function validateAssumeRole(init: AssumeRoleInit): void {
  if (init === null || typeof init !== "object") throw new TypeError("`options` must be an object with `assumeRole`");
  const p = init.assumeRole;
  if (p === null || typeof p !== "object") throw new TypeError("`assumeRole` must be an object with a `RoleArn`");
  if (typeof p.RoleArn !== "string" || !ROLE_ARN.test(p.RoleArn)) {
    throw new TypeError(
      `\`assumeRole.RoleArn\` must be an IAM role ARN like arn:aws:iam::123456789012:role/name, got ${JSON.stringify(p.RoleArn)}`,
    );
  }
  if (
    p.RoleSessionName !== undefined &&
    (typeof p.RoleSessionName !== "string" || !SESSION_NAME.test(p.RoleSessionName))
  ) {
    throw new TypeError(
      "`assumeRole.RoleSessionName` must be 2 to 64 characters of letters, digits and +=,.@_-, got " +
        JSON.stringify(p.RoleSessionName),
    );
  }
  if (p.DurationSeconds !== undefined) {
    if (!Number.isInteger(p.DurationSeconds) || p.DurationSeconds < 900 || p.DurationSeconds > 43_200) {
      throw new RangeError(
        `\`assumeRole.DurationSeconds\` must be an integer from 900 to 43200, got ${String(p.DurationSeconds)}`,
      );
    }
  }
  if (init.sourceCredentials !== undefined && typeof init.sourceCredentials !== "function") {
    throw new TypeError("`sourceCredentials` must be a credential provider function");
  }
  if (init.region !== undefined && (typeof init.region !== "string" || init.region === "")) {
    throw new TypeError("`region` must be a non-empty string");
  }
  if (init.clock !== undefined && typeof init.clock?.now !== "function") {
    throw new TypeError("`clock` must be an object with a `now()` method");
  }
  if (p.SerialNumber !== undefined && init.mfa === undefined) {
    throw new TypeError("`assumeRole.SerialNumber` needs `mfa.tokenCode` to get the code from");
  }
  if (init.mfa !== undefined) {
    const mfa = init.mfa;
    if (mfa === null || typeof mfa !== "object") throw new TypeError("`mfa` must be an object with `tokenCode`");
    validateMfaTokenCode("mfa.tokenCode", mfa.tokenCode);
    const serial = mfa.serialNumber ?? p.SerialNumber;
    if (typeof serial !== "string" || serial.length < 9) {
      throw new TypeError("`mfa.serialNumber` (or `assumeRole.SerialNumber`) must name the MFA device");
    }
    if (mfa.timeoutMs !== undefined && !(Number.isFinite(mfa.timeoutMs) && mfa.timeoutMs > 0)) {
      throw new RangeError("`mfa.timeoutMs` must be a positive number of milliseconds");
    }
    const d = mfa.sessionDurationSeconds;
    if (d !== undefined && (!Number.isInteger(d) || d < 900 || d > 129_600)) {
      throw new RangeError(`\`mfa.sessionDurationSeconds\` must be an integer from 900 to 129600, got ${String(d)}`);
    }
  }
}

/** Turns STS's `Credentials` into an identity, naming what is missing from a malformed answer. */
export function fromStsCredentials(
  c: Credentials | undefined,
  source: string,
  assumedRoleArn?: string,
): AwsCredentialIdentity {
  const missing = !c
    ? "Credentials"
    : !c.AccessKeyId
      ? "Credentials.AccessKeyId"
      : !c.SecretAccessKey
        ? "Credentials.SecretAccessKey"
        : !c.SessionToken
          ? "Credentials.SessionToken"
          : !(c.Expiration instanceof Date) || !Number.isFinite(c.Expiration.getTime())
            ? "Credentials.Expiration"
            : undefined;
  if (missing || !c) {
    throw new RefreshSessionError("INVALID_CREDENTIALS", `STS answered without ${missing} for "${source}"`, { source });
  }
  const accountId = assumedRoleArn?.split(":")[4];
  return {
    accessKeyId: c.AccessKeyId as string,
    secretAccessKey: c.SecretAccessKey as string,
    sessionToken: c.SessionToken as string,
    expiration: c.Expiration as Date,
    ...(accountId && /^[0-9]{12}$/.test(accountId) ? { accountId } : {}),
  };
}

/**
 * The region an STS client should use when none is given: the SDK's own resolution (AWS_REGION, profile), else
 * us-east-1, as `fromTemporaryCredentials` does.
 */
export async function resolveStsRegion(): Promise<string> {
  const probe = new STSClient({});
  try {
    return await probe.config.region();
  } catch {
    return DEFAULT_STS_REGION;
  } finally {
    probe.destroy();
  }
}

/**
 * STS AssumeRole as a credential source. With `mfa`, one MFA-authenticated GetSessionToken session (its own
 * refreshing engine) signs every AssumeRole, so a long job is prompted once per MFA session, not once per refresh.
 * Endpoints resolve as in the SDK (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, or `stsClientConfig.endpoint`).
 *
 * @example
 * ```ts
 * const source = fromAssumeRole({
 *   assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/etl", DurationSeconds: 3600 },
 *   mfa: { serialNumber: "arn:aws:iam::123456789012:mfa/me", tokenCode: ["ykman", "oath", "accounts", "code", "-s", "aws"] },
 * });
 * const credentials = refreshable(source);
 * ```
 */
export function fromAssumeRole(init: AssumeRoleInit): AssumeRoleSource {
  validateAssumeRole(init);
  const { assumeRole, mfa, stsClientConfig } = init;
  const name = `sts:${assumeRole.RoleArn}`;
  const baseCredentials = init.sourceCredentials ?? fromNodeProviderChain();
  const explicitRegion = init.region ?? (stsClientConfig?.region as string | undefined);
  let regionPromise: Promise<string> | undefined;
  const region = explicitRegion ?? (() => (regionPromise ??= resolveStsRegion()));
  const newClient = (credentials: AwsCredentialIdentityProvider): STSClient => {
    const c = createSdkClient(STSClient, { ...stsClientConfig, region, credentials }, "sts");
    for (const plugin of init.clientPlugins ?? []) c.middlewareStack.use(plugin);
    return c;
  };

  let mfaSession: RefreshableCredentials | undefined;
  // A call that may prompt for an MFA code takes as long as the prompt may, plus the STS calls around it.
  const mfaCallMs = mfa ? (mfa.timeoutMs ?? DEFAULT_MFA_TIMEOUT_MS) + DEFAULT_SOURCE_TIMEOUT_MS : undefined;
  if (mfa) {
    const serialNumber = (mfa.serialNumber ?? assumeRole.SerialNumber) as string;
    const mfaClient = newClient(baseCredentials);
    const mfaName = `mfa:${serialNumber}`;
    mfaSession = refreshable(
      Object.assign(
        async () => {
          const TokenCode = await getMfaCode(mfa.tokenCode, {
            serialNumber,
            ...(mfa.timeoutMs !== undefined ? { timeoutMs: mfa.timeoutMs } : {}),
            source: mfaName,
          });
          const out = await mfaClient.send(
            new GetSessionTokenCommand({
              SerialNumber: serialNumber,
              TokenCode,
              DurationSeconds: mfa.sessionDurationSeconds ?? DEFAULT_MFA_SESSION_DURATION_SECONDS,
            }),
          );
          return fromStsCredentials(out.Credentials, mfaName);
        },
        { sourceName: mfaName },
      ),
      // Prompt only when a role refresh needs the session: a background prompt could find nobody to answer it.
      // No start-up retries of its own: each would prompt again; the role's engine retries the whole call.
      {
        mode: "deferred",
        sourceTimeoutMs: mfaCallMs as number,
        firstFetchTimeoutMs: 0,
        ...(init.clock ? { clock: init.clock } : {}),
      },
    );
  }
  const client = newClient(mfaSession ?? baseCredentials);
  const { SerialNumber: _serial, ...params } = assumeRole;

  const source = async (): Promise<AwsCredentialIdentity> => {
    const out = await client.send(
      new AssumeRoleCommand({
        ...params,
        RoleSessionName: assumeRole.RoleSessionName ?? `aws-refresh-session-${Date.now()}`,
      }),
    );
    return fromStsCredentials(out.Credentials, name, out.AssumedRoleUser?.Arn);
  };
  return Object.assign(source, {
    sourceName: name,
    ...(mfaCallMs !== undefined ? { sourceTimeoutMs: mfaCallMs + DEFAULT_SOURCE_TIMEOUT_MS } : {}),
    mfaSessionExpiration: () => mfaSession?.metrics().expiration,
    mfaSerialNumber: mfa ? ((mfa.serialNumber ?? assumeRole.SerialNumber) as string) : undefined,
    close: () => mfaSession?.close(),
  });
}
