/**
 * The names of the OpenTelemetry instruments and attributes this package records, following the semantic conventions'
 * naming rules: a namespace of our own (`aws_refresh`), dot-separated and snake_case; units as UCUM (`s`) or an
 * annotation in braces (`{refresh}`), never in the name; counters without `_total` (a Prometheus exporter adds it);
 * the name pluralised only for counts of discrete things. A Prometheus exporter turns
 * `aws_refresh.credential.time_to_expiry` (unit `s`) into `aws_refresh_credential_time_to_expiry_seconds` and
 * `aws_refresh.credential.refreshes` into `aws_refresh_credential_refreshes_total`.
 */

/** Gauge, `s`: time until the credential being served expires; negative once it expired with no replacement. */
export const METRIC_CREDENTIAL_TIME_TO_EXPIRY = "aws_refresh.credential.time_to_expiry";
/** Counter, `{refresh}`: successful calls to the credential source. */
export const METRIC_CREDENTIAL_REFRESHES = "aws_refresh.credential.refreshes";
/** Counter, `{failure}`: failed calls to the credential source (errors, invalid or already-expired credentials). */
export const METRIC_CREDENTIAL_REFRESH_FAILURES = "aws_refresh.credential.refresh.failures";
/** Gauge, `{failure}`: failures since the last successful refresh; 0 while refreshing works. */
export const METRIC_CREDENTIAL_REFRESH_CONSECUTIVE_FAILURES = "aws_refresh.credential.refresh.consecutive_failures";
/** Histogram, `s`: how long each successful call to the credential source took. */
export const METRIC_CREDENTIAL_REFRESH_DURATION = "aws_refresh.credential.refresh.duration";
/** Counter, `{wait}`: callers that had to wait for the source (first fetch, mandatory window, expired credential). */
export const METRIC_CREDENTIAL_WAITS = "aws_refresh.credential.waits";
/** Counter, `{request}`: requests replayed with a fresh credential after AWS refused an expired one (sessions). */
export const METRIC_SESSION_RECOVERIES = "aws_refresh.session.recoveries";
/** Counter, `{request}`: expired-credential failures that reached the caller (sessions). */
export const METRIC_SESSION_RECOVERY_FAILURES = "aws_refresh.session.recovery.failures";
/** Gauge, `s`: AWS's clock minus the local clock, learnt from responses (sessions). */
export const METRIC_SESSION_CLOCK_SKEW = "aws_refresh.session.clock_skew";
/** Counter, `{request}`: requests the credential server answered, by `http.response.status_code`. */
export const METRIC_SERVER_REQUESTS = "aws_refresh.server.requests";

/** Attribute: the credential source's name (the engine's `sourceName`). */
export const ATTR_SOURCE_NAME = "aws_refresh.source.name";
/** Attribute: the profile a credential server serves it under. */
export const ATTR_PROFILE_NAME = "aws_refresh.profile.name";
/** Attribute: a session's `method` (`sts`, `sso`, `web-identity`…). */
export const ATTR_SESSION_METHOD = "aws_refresh.session.method";
/** Attribute (the semantic conventions' own): the HTTP status code of a server answer. */
export const ATTR_HTTP_RESPONSE_STATUS_CODE = "http.response.status_code";

/** The instrumentation scope (meter) name. */
export const TELEMETRY_SCOPE = "aws-refresh-session";
/** Histogram buckets for refresh durations (s): from a cached answer to an SSO login someone must approve. */
export const DEFAULT_REFRESH_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];
