import type { AwsCredentialIdentity } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";
import type { CredentialSource } from "../types.js";

/**
 * Keys from environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
 * `AWS_CREDENTIAL_EXPIRATION`), read at every call as the SDK's `fromEnv` does, but from the environment object given
 * (a profile's `credential_source = Environment`, a command's environment), not necessarily `process.env`.
 *
 * @example
 * ```ts
 * const source = fromEnvironment({ env: { AWS_ACCESS_KEY_ID: "AKIA…", AWS_SECRET_ACCESS_KEY: "…" } });
 * ```
 */
export function fromEnvironment(init: { env?: NodeJS.ProcessEnv; name?: string } = {}): CredentialSource {
  const env = init.env ?? process.env;
  const name = init.name ?? "environment";
  const source = async (): Promise<AwsCredentialIdentity> => {
    if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) {
      throw new RefreshSessionError(
        "SOURCE_FAILED",
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set in the environment",
        { source: name },
      );
    }
    const expiration = env.AWS_CREDENTIAL_EXPIRATION ? new Date(env.AWS_CREDENTIAL_EXPIRATION) : undefined;
    return {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
      ...(expiration && Number.isFinite(expiration.getTime()) ? { expiration } : {}),
    };
  };
  return Object.assign(source, { sourceName: name });
}
