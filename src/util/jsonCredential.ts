import type { AwsCredentialIdentity } from "@smithy/types";

/**
 * The credential in a JSON answer that spells it `{ accessKeyId, secretAccessKey, sessionToken, expiration }` (the IoT
 * credentials provider, IAM Roles Anywhere's CreateSession), or undefined when a field is missing, is not a string, or
 * the expiration is not a date: the caller says which endpoint answered so.
 *
 * @example
 * ```ts
 * const credential = readJsonCredential(JSON.parse(body).credentials);
 * if (!credential) throw new Error("the endpoint answered without credentials");
 * ```
 */
export function readJsonCredential(value: unknown): (AwsCredentialIdentity & { expiration: Date }) | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const c = value as Record<string, unknown>;
  if (typeof c.accessKeyId !== "string" || typeof c.secretAccessKey !== "string") return undefined;
  if (typeof c.sessionToken !== "string" || typeof c.expiration !== "string") return undefined;
  const expiration = new Date(c.expiration);
  if (!Number.isFinite(expiration.getTime())) return undefined;
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration };
}
