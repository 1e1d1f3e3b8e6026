import type { CredentialServer } from "../server/credentialServer.js";
import { instrumentsOf, meterFor } from "./meterInstruments.js";
import { ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_PROFILE_NAME, ATTR_SOURCE_NAME } from "./names.js";
import { observeEngine } from "./observeEngine.js";
import type { Instrumentation, TelemetryOptions } from "./telemetryOptions.js";

/**
 * Records a credential server as OpenTelemetry metrics: for each profile it serves, that profile's engine (time to
 * expiry, refreshes, refresh failures, consecutive failures, caller waits, refresh durations) with the attributes
 * `aws_refresh.profile.name` and `aws_refresh.source.name`; and the requests it answered, by
 * `http.response.status_code`. `options.attributes` are added to all of them.
 *
 * @example
 * ```ts
 * import { RefreshableSession, startCredentialServer } from "aws-refresh-session";
 * import { instrumentCredentialServer } from "aws-refresh-session/telemetry";
 *
 * const session = new RefreshableSession({ method: "sts", assumeRole: { RoleArn: "arn:aws:iam::123456789012:role/etl" } });
 * const server = await startCredentialServer({ profiles: { etl: session } });
 * const telemetry = instrumentCredentialServer(server);
 * // … on shutdown
 * telemetry.close();
 * await server.close();
 * ```
 */
export function instrumentCredentialServer(server: CredentialServer, options: TelemetryOptions = {}): Instrumentation {
  if (server === null || typeof server !== "object" || typeof server.engine !== "function") {
    throw new TypeError("`server` must be a CredentialServer from startCredentialServer()");
  }
  const clock = options.clock ?? Date;
  const instruments = instrumentsOf(meterFor(options));
  const base = { ...options.attributes };
  const stops: (() => void)[] = [];
  // `served` lists every profile of the server, from its start.
  for (const profile of Object.keys(server.stats().served)) {
    const engine = server.engine(profile);
    if (!engine) continue;
    const attributes = { ...base, [ATTR_PROFILE_NAME]: profile, [ATTR_SOURCE_NAME]: engine.sourceName };
    stops.push(observeEngine(instruments, engine, attributes, () => clock.now()));
  }
  stops.push(
    instruments.observe((record) => {
      for (const [status, count] of Object.entries(server.stats().byStatus)) {
        record.serverRequests(count, { ...base, [ATTR_HTTP_RESPONSE_STATUS_CODE]: Number(status) });
      }
    }),
  );
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      for (const stop of stops) stop();
    },
  };
}
