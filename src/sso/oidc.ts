import { CreateTokenCommand, SSOOIDCClient, type SSOOIDCClientConfig } from "@aws-sdk/client-sso-oidc";
import type { Logger } from "@smithy/types";
import { createSdkClient } from "../util/sdkClient.js";

/** Client config for the SSO-OIDC client (endpoint, requestHandler, retries…); the region is the SSO region. */
export type SsoOidcClientConfig = Omit<SSOOIDCClientConfig, "region" | "credentials">;

/** An SSO-OIDC client for the SSO region; it honours `AWS_ENDPOINT_URL_SSO_OIDC` / `AWS_ENDPOINT_URL` as the SDK does. */
export function createOidcClient(region: string, config: SsoOidcClientConfig = {}, logger?: Logger): SSOOIDCClient {
  return createSdkClient(SSOOIDCClient, { ...(logger ? { logger } : {}), ...config, region }, "sso-oidc");
}

/** What CreateToken (refresh_token grant) answered. */
export interface RefreshedToken {
  accessToken: string;
  expiresInSeconds: number;
  refreshToken: string | undefined;
}

/** SSO-OIDC CreateToken with the refresh_token grant, as botocore's SSOTokenProvider does it. */
export async function refreshSsoToken(
  client: SSOOIDCClient,
  token: { clientId: string; clientSecret: string; refreshToken: string },
): Promise<RefreshedToken> {
  const out = await client.send(
    new CreateTokenCommand({
      grantType: "refresh_token",
      clientId: token.clientId,
      clientSecret: token.clientSecret,
      refreshToken: token.refreshToken,
    }),
  );
  if (typeof out.accessToken !== "string" || out.accessToken === "" || typeof out.expiresIn !== "number") {
    throw new Error("SSO-OIDC CreateToken answered without accessToken or expiresIn");
  }
  return { accessToken: out.accessToken, expiresInSeconds: out.expiresIn, refreshToken: out.refreshToken };
}

/** Errors by which SSO-OIDC refuses a refresh because the session (or its grant) is over: log in again. */
const SESSION_OVER = new Set([
  "InvalidGrantException",
  "ExpiredTokenException",
  "AccessDeniedException",
  "UnauthorizedClientException",
]);
/** Errors by which it refuses the client registration: register again (which a login does). */
const CLIENT_REFUSED = new Set(["InvalidClientException"]);

/** `"session"` when the session is over, `"client"` when the registration is refused, else undefined (transient). */
export function refusalKind(err: unknown): "session" | "client" | undefined {
  const name = (err as { name?: unknown } | null)?.name;
  if (typeof name !== "string") return undefined;
  if (SESSION_OVER.has(name)) return "session";
  if (CLIENT_REFUSED.has(name)) return "client";
  return undefined;
}

/** A safe one-line description of an SDK error: its name and message (SSO-OIDC never echoes tokens in them). */
export function sdkErrorText(err: unknown): string {
  const e = err as { name?: string; message?: string } | null;
  if (!e) return String(err);
  return e.name && e.message && !e.message.startsWith(e.name) ? `${e.name}: ${e.message}` : (e.message ?? String(err));
}
