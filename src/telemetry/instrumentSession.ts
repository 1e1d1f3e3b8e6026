import type { RefreshableSession } from "../session/RefreshableSession.js";
import { instrumentsOf, meterFor } from "./meterInstruments.js";
import { ATTR_PROFILE_NAME, ATTR_SESSION_METHOD, ATTR_SOURCE_NAME } from "./names.js";
import { observeEngine } from "./observeEngine.js";
import type { Instrumentation, TelemetryOptions } from "./telemetryOptions.js";

/**
 * Records a {@link RefreshableSession} as OpenTelemetry metrics: its engine's (time to expiry, refreshes, refresh
 * failures, consecutive failures, caller waits, refresh durations) and its own (requests recovered after an expired
 * credential, recoveries that failed, clock skew), with the attributes `aws_refresh.source.name`,
 * `aws_refresh.session.method`, `aws_refresh.profile.name` for a session of a profile, and `options.attributes`. Time to expiry is measured in AWS's time: the local clock plus
 * the skew the session learnt.
 *
 * @example
 * ```ts
 * import { metrics } from "@opentelemetry/api";
 * import { RefreshableSession } from "aws-refresh-session";
 * import { instrumentSession } from "aws-refresh-session/telemetry";
 *
 * const session = new RefreshableSession({ method: "profile", profile: "dev" });
 * // Series get aws_refresh.profile.name="dev", aws_refresh.session.method="profile" and the source's name.
 * const telemetry = instrumentSession(session, { meter: metrics.getMeter("my-service") });
 * // … on shutdown
 * telemetry.close();
 * session.close();
 * ```
 */
export function instrumentSession(session: RefreshableSession, options: TelemetryOptions = {}): Instrumentation {
  if (
    session === null ||
    typeof session !== "object" ||
    typeof session.metrics !== "function" ||
    !session.credentials
  ) {
    throw new TypeError("`session` must be a RefreshableSession");
  }
  const clock = options.clock ?? Date;
  // A session of a profile (`method: "profile"`, `"sso"`) hands its clients the profile: name the series after it.
  const profile = (session.clientConfig() as { profile?: unknown }).profile;
  const attributes = {
    ...(typeof profile === "string" ? { [ATTR_PROFILE_NAME]: profile } : {}),
    ...options.attributes,
    [ATTR_SOURCE_NAME]: session.credentials.sourceName,
    [ATTR_SESSION_METHOD]: session.method,
  };
  const stop = observeEngine(
    instrumentsOf(meterFor(options)),
    session.credentials,
    attributes,
    () => clock.now() + session.metrics().clockSkewMs,
    (record) => {
      const m = session.metrics();
      record.recoveries(m.recoveries, attributes);
      record.recoveryFailures(m.recoveryFailures, attributes);
      record.clockSkew(m.clockSkewMs / 1000, attributes);
    },
  );
  return { close: stop };
}
