/**
 * `aws-refresh-session/telemetry`: OpenTelemetry metrics for sessions, engines and the credential server. Its own
 * entry point, so that only programs that import it load `@opentelemetry/api` (an optional peer dependency).
 */
export { instrumentSession } from "./instrumentSession.js";
export { instrumentRefreshable } from "./instrumentRefreshable.js";
export { instrumentCredentialServer } from "./instrumentCredentialServer.js";
export type { Instrumentation, TelemetryOptions } from "./telemetryOptions.js";
export {
  METRIC_CREDENTIAL_TIME_TO_EXPIRY,
  METRIC_CREDENTIAL_REFRESHES,
  METRIC_CREDENTIAL_REFRESH_FAILURES,
  METRIC_CREDENTIAL_REFRESH_CONSECUTIVE_FAILURES,
  METRIC_CREDENTIAL_REFRESH_DURATION,
  METRIC_CREDENTIAL_WAITS,
  METRIC_SESSION_RECOVERIES,
  METRIC_SESSION_RECOVERY_FAILURES,
  METRIC_SESSION_CLOCK_SKEW,
  METRIC_SERVER_REQUESTS,
  ATTR_SOURCE_NAME,
  ATTR_PROFILE_NAME,
  ATTR_SESSION_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  TELEMETRY_SCOPE,
  DEFAULT_REFRESH_DURATION_BUCKETS,
} from "./names.js";
