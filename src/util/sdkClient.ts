/**
 * How this library builds every SDK client its sources use (STS, the SSO portal, SSO-OIDC): with connection and
 * request timeouts, so no request waits forever on an endpoint that accepts a connection and never answers, and with
 * the SDK's adaptive retry mode pacing the process's calls to one endpoint together once it throttles.
 */
import { AdaptiveRetryStrategy, DEFAULT_MAX_ATTEMPTS, DefaultRateLimiter } from "@smithy/core/retry";
import type { RetryStrategyV2 } from "@smithy/types";

/** How long an SDK request may take to connect before it fails (and is retried by the SDK). */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;
/** How long an SDK request may take in all before it fails with a `TimeoutError` (and is retried by the SDK). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** The part of an SDK client config this helper reads or fills. */
interface ClientConfigShape {
  requestHandler?: unknown;
  retryStrategy?: unknown;
  retryMode?: unknown;
  region?: unknown;
  endpoint?: unknown;
}

/** One client-side rate limiter per endpoint, shared by every client of this process that calls it. */
const limiters = new Map<string, DefaultRateLimiter>();

function limiterFor(key: string): DefaultRateLimiter {
  let l = limiters.get(key);
  if (!l) limiters.set(key, (l = new DefaultRateLimiter()));
  return l;
}

/** The endpoint a client will call, as far as it is known before the client resolves it: for the pacing key. */
function endpointKey(service: string, config: ClientConfigShape, env: NodeJS.ProcessEnv): string {
  const e = config.endpoint;
  const explicit =
    typeof e === "string"
      ? e
      : e !== null && typeof e === "object" && "hostname" in e
        ? JSON.stringify(e)
        : typeof e === "function"
          ? "(provider)"
          : undefined;
  const fromEnv = env[`AWS_ENDPOINT_URL_${service.toUpperCase().replace(/-/g, "_")}`] ?? env.AWS_ENDPOINT_URL;
  const region = typeof config.region === "string" ? config.region : "(default region)";
  return `${service} ${region} ${explicit ?? fromEnv ?? "(default endpoint)"}`;
}

/** The attempts the SDK would make: `maxAttempts` as a number, else `AWS_MAX_ATTEMPTS`, else 3; undefined for a provider. */
function maxAttemptsOf(
  config: ClientConfigShape & { maxAttempts?: unknown },
  env: NodeJS.ProcessEnv,
): number | undefined {
  const m = config.maxAttempts;
  if (typeof m === "number") return m;
  if (m !== undefined) return undefined;
  const fromEnv = Number.parseInt(env.AWS_MAX_ATTEMPTS ?? "", 10);
  return Number.isInteger(fromEnv) && fromEnv >= 1 ? fromEnv : DEFAULT_MAX_ATTEMPTS;
}

/** A `requestHandler` with our timeouts: none given, or an options object without them; a handler instance wins. */
function withTimeouts(handler: unknown): unknown {
  const timeouts = {
    connectionTimeout: DEFAULT_CONNECTION_TIMEOUT_MS,
    requestTimeout: DEFAULT_REQUEST_TIMEOUT_MS,
    throwOnRequestTimeout: true,
  };
  if (handler === undefined) return timeouts;
  if (
    handler !== null &&
    typeof handler === "object" &&
    typeof (handler as { handle?: unknown }).handle !== "function"
  ) {
    return { ...timeouts, ...handler };
  }
  return handler; // a handler instance or a provider of options: the user's choice, as given
}

/**
 * Builds an SDK client of `Client` with `config`, adding:
 * - connection and request timeouts ({@link DEFAULT_CONNECTION_TIMEOUT_MS}, {@link DEFAULT_REQUEST_TIMEOUT_MS}) to
 *   the SDK's `NodeHttpHandler` options; a `requestHandler` instance in `config` is used as it is, and an options
 *   object keeps its own values over these;
 * - the SDK's adaptive retry mode (`AdaptiveRetryStrategy`) with one rate limiter per endpoint shared by the whole
 *   process, so many sessions calling one STS endpoint slow down together once it throttles, instead of each learning
 *   the quota alone. Left alone when `config` sets `retryStrategy` or `retryMode` (or `maxAttempts` as a provider), or
 *   `AWS_RETRY_MODE` is set; attempts are `maxAttempts`, else `AWS_MAX_ATTEMPTS`, else the SDK's 3 (a profile's
 *   `max_attempts` is not read here).
 *
 * @example
 * ```ts
 * const sts = createSdkClient(STSClient, { region: "us-east-1" }, "sts");
 * ```
 */
export function createSdkClient<C, Config extends object>(
  Client: new (config: Config) => C,
  config: Config,
  service: string,
  env: NodeJS.ProcessEnv = process.env,
): C {
  const c = config as Config & ClientConfigShape;
  const full: Record<string, unknown> = { ...c, requestHandler: withTimeouts(c.requestHandler) };
  if (c.retryStrategy === undefined && c.retryMode === undefined && !env.AWS_RETRY_MODE) {
    const attempts = maxAttemptsOf(c, env);
    if (attempts !== undefined) {
      const rateLimiter = limiterFor(endpointKey(service, c, env));
      const strategy: RetryStrategyV2 = new AdaptiveRetryStrategy(attempts, { rateLimiter });
      full.retryStrategy = strategy;
    }
  }
  const client = new Client(full as Config);
  return client;
}
