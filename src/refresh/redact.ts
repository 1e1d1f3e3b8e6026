/**
 * Masks an access key id for display: `****` plus its last four characters. Secrets and tokens are never shown at all.
 *
 * @example
 * ```ts
 * redactKeyId("ASIAEXAMPLEKEY1234"); // "****1234"
 * ```
 */
export function redactKeyId(accessKeyId: string | undefined): string {
  if (!accessKeyId) return "****";
  return `****${accessKeyId.slice(-4)}`;
}
