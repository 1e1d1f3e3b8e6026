import type { AwsCredentialIdentity } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";
import { checkIdentity } from "../refresh/checkIdentity.js";
import type { CredentialSource } from "../types.js";

/** What a custom source may return: `expiration` as a Date, an ISO-8601 string or epoch milliseconds. */
export interface CustomCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date | string | number;
  accountId?: string;
}

/** Your own async function returning credentials. */
export type CustomSourceFunction = () => Promise<CustomCredentials>;

/**
 * A source from your own async function (a vault, a broker, a file). The result is checked: a missing field is
 * reported by name. `expiration` may be a Date, an ISO-8601 string or epoch milliseconds; without it the credential is
 * static and never refreshed.
 *
 * @example
 * ```ts
 * const session = new RefreshableSession({
 *   method: "custom",
 *   source: async () => {
 *     const r = await fetch("https://broker.internal/creds").then((res) => res.json());
 *     return { accessKeyId: r.key, secretAccessKey: r.secret, sessionToken: r.token, expiration: r.expires };
 *   },
 * });
 * ```
 */
export function fromCustom(fn: CustomSourceFunction, options: { name?: string } = {}): CredentialSource {
  if (typeof fn !== "function") {
    throw new TypeError(`\`source\` must be an async function returning credentials, got ${typeof fn}`);
  }
  const name = options.name ?? `custom${fn.name ? `:${fn.name}` : ""}`;
  const source = async (): Promise<AwsCredentialIdentity> => {
    const raw: unknown = await fn();
    if (raw !== null && typeof raw === "object" && "expiration" in raw) {
      const exp = (raw as { expiration: unknown }).expiration;
      if (typeof exp === "string" || typeof exp === "number") {
        const date = new Date(exp);
        if (!Number.isFinite(date.getTime())) {
          throw new RefreshSessionError(
            "INVALID_CREDENTIALS",
            `Credential source "${name}" returned an \`expiration\` that is not a date: ${JSON.stringify(exp)}`,
            { source: name },
          );
        }
        return checkIdentity({ ...(raw as object), expiration: date }, name);
      }
    }
    return checkIdentity(raw, name);
  };
  return Object.assign(source, { sourceName: name });
}
