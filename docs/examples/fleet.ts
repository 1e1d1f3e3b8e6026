// docs/fleet.md: a fleet's base credentials with this library's refresh on top, and the engine's fleet options.
import { S3Client } from "@aws-sdk/client-s3";
import { fromHttp } from "@aws-sdk/credential-providers";
import { RefreshableSession, refreshable } from "aws-refresh-session";

// EKS IRSA: the webhook sets AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE; the token file is re-read at every refresh.
export const irsa = new RefreshableSession({
  method: "web-identity",
  refresh: {
    spread: 1, // the first refresh anywhere in the first credential's life (the default)
    jitter: 0.5, // later ones at advisory + up to half of the advisory-to-mandatory span (the default)
    firstFetchTimeoutMs: 60_000, // callers wait this long while a throttled first fetch is retried (the default)
  },
});

// EKS Pod Identity or an ECS task role: the SDK's container provider reads AWS_CONTAINER_CREDENTIALS_FULL_URI and
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or _RELATIVE_URI); the engine refreshes what it returns in the background.
export const podIdentity = new RefreshableSession({ method: "provider", provider: fromHttp() });

// The engine alone, over any provider, with every fleet option spelled out.
export const credentials = refreshable(fromHttp(), {
  mode: "eager",
  advisoryMs: 15 * 60_000,
  mandatoryMs: 10 * 60_000,
  jitter: 0.5,
  spread: 1,
  retryBaseMs: 1_000,
  maxRetryMs: 60_000,
  sourceTimeoutMs: 60_000,
  firstFetchTimeoutMs: 60_000,
});
export const s3 = new S3Client({ region: "us-east-1", credentials });
