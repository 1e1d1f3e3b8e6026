import type { AwsCredentialIdentityProvider } from "@smithy/types";
import type { CredentialSource } from "../types.js";

/**
 * Any SDK v3 credential provider (`fromIni`, `fromNodeProviderChain`, `fromProcess`, `fromContainerMetadata`,
 * `fromInstanceMetadata`…) as a source, so the engine gives it background refresh and static stability.
 *
 * @example
 * ```ts
 * import { fromIni } from "@aws-sdk/credential-providers";
 * const session = new RefreshableSession({ method: "provider", provider: fromIni({ profile: "dev" }) });
 * ```
 */
export function fromProvider(
  provider: AwsCredentialIdentityProvider,
  options: { name?: string } = {},
): CredentialSource {
  if (typeof provider !== "function") {
    throw new TypeError(`\`provider\` must be an SDK credential provider function, got ${typeof provider}`);
  }
  const name = options.name ?? `provider${provider.name ? `:${provider.name}` : ""}`;
  return Object.assign(() => provider(), { sourceName: name });
}
