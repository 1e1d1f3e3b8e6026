import { readFile } from "node:fs/promises";
import { AssumeRoleWithWebIdentityCommand, STSClient, type STSClientConfig } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";
import type { ClientPlugin } from "../middleware/clientPlugin.js";
import type { CredentialSource } from "../types.js";
import { createSdkClient } from "../util/sdkClient.js";
import { fromStsCredentials, resolveStsRegion } from "./sts.js";

/** Options of {@link fromWebIdentity}; each defaults from the environment variable the SDKs read. */
export interface WebIdentityInit {
  /** Default: `AWS_ROLE_ARN`. */
  roleArn?: string;
  /** File holding the token, re-read at every refresh. Default: `AWS_WEB_IDENTITY_TOKEN_FILE`. */
  webIdentityTokenFile?: string;
  /** Instead of a file: an async function returning the token, called at every refresh. */
  webIdentityToken?: () => Promise<string>;
  /** Default: `AWS_ROLE_SESSION_NAME`, else `aws-refresh-session-<epoch ms>`. */
  roleSessionName?: string;
  /** 900..43200. Default: the role's own default (1 h). */
  durationSeconds?: number;
  policy?: string;
  policyArns?: { arn: string }[];
  /** Default: `stsClientConfig.region`, else the SDK's resolution, else us-east-1. */
  region?: string;
  stsClientConfig?: Omit<STSClientConfig, "credentials">;
  /** SDK plugins applied to the STS client this source creates (a session adds its clock-skew observer). */
  clientPlugins?: ClientPlugin[];
  /** Environment to read defaults from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * STS AssumeRoleWithWebIdentity as a credential source (EKS IRSA, GitHub Actions OIDC, any OIDC provider). The token
 * is read again at every refresh, so a rotated token file is always honoured.
 *
 * @example
 * ```ts
 * // reads AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, as on EKS
 * const session = new RefreshableSession({ method: "web-identity" });
 * ```
 */
export function fromWebIdentity(init: WebIdentityInit = {}): CredentialSource {
  if (init === null || typeof init !== "object") throw new TypeError("`options` must be an object");
  const env = init.env ?? process.env;
  const roleArn = init.roleArn ?? env.AWS_ROLE_ARN;
  const tokenFile = init.webIdentityTokenFile ?? (init.webIdentityToken ? undefined : env.AWS_WEB_IDENTITY_TOKEN_FILE);
  const sessionName = init.roleSessionName ?? env.AWS_ROLE_SESSION_NAME;
  if (!roleArn) throw new TypeError("`roleArn` is required (or set AWS_ROLE_ARN)");
  if (!/^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[\w+=,.@/-]{1,512}$/.test(roleArn)) {
    throw new TypeError(`\`roleArn\` must be an IAM role ARN, got ${JSON.stringify(roleArn)}`);
  }
  if (init.webIdentityToken !== undefined && typeof init.webIdentityToken !== "function") {
    throw new TypeError("`webIdentityToken` must be an async function returning the token");
  }
  if (!tokenFile && !init.webIdentityToken) {
    throw new TypeError(
      "`webIdentityTokenFile` or `webIdentityToken` is required (or set AWS_WEB_IDENTITY_TOKEN_FILE)",
    );
  }
  if (sessionName !== undefined && !/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
    throw new TypeError(`\`roleSessionName\` must be 2 to 64 characters of letters, digits and +=,.@_-`);
  }
  const d = init.durationSeconds;
  if (d !== undefined && (!Number.isInteger(d) || d < 900 || d > 43_200)) {
    throw new RangeError(`\`durationSeconds\` must be an integer from 900 to 43200, got ${String(d)}`);
  }
  const name = `web-identity:${roleArn}`;
  let regionPromise: Promise<string> | undefined;
  const region =
    init.region ??
    (init.stsClientConfig?.region as string | undefined) ??
    (() => (regionPromise ??= resolveStsRegion()));
  // AssumeRoleWithWebIdentity is unsigned; no credentials are resolved for it.
  const noCredentials: AwsCredentialIdentityProvider = async () => {
    throw new Error("AssumeRoleWithWebIdentity needs no credentials");
  };
  const client = createSdkClient(STSClient, { ...init.stsClientConfig, region, credentials: noCredentials }, "sts");
  for (const plugin of init.clientPlugins ?? []) client.middlewareStack.use(plugin);

  const readToken = async (): Promise<string> => {
    let token: string;
    try {
      token = init.webIdentityToken ? await init.webIdentityToken() : await readFile(tokenFile as string, "utf8");
    } catch (err) {
      throw new RefreshSessionError(
        "SOURCE_FAILED",
        tokenFile
          ? `Could not read the web identity token file ${tokenFile}: ${(err as Error).message}`
          : `The \`webIdentityToken\` function failed: ${(err as Error).message}`,
        { source: name, cause: err },
      );
    }
    if (typeof token !== "string" || token.trim() === "") {
      throw new RefreshSessionError(
        "SOURCE_FAILED",
        tokenFile
          ? `The web identity token file ${tokenFile} is empty`
          : "The `webIdentityToken` function returned no token",
        { source: name },
      );
    }
    return token.trim();
  };

  const source = async (): Promise<AwsCredentialIdentity> => {
    const out = await client.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: roleArn,
        RoleSessionName: sessionName ?? `aws-refresh-session-${Date.now()}`,
        WebIdentityToken: await readToken(),
        ...(d !== undefined ? { DurationSeconds: d } : {}),
        ...(init.policy !== undefined ? { Policy: init.policy } : {}),
        ...(init.policyArns !== undefined ? { PolicyArns: init.policyArns } : {}),
      }),
    );
    return fromStsCredentials(out.Credentials, name, out.AssumedRoleUser?.Arn);
  };
  return Object.assign(source, { sourceName: name });
}
