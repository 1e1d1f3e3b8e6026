import type { RefreshableCredentials } from "../refresh/types.js";
import { instrumentsOf, meterFor } from "./meterInstruments.js";
import { ATTR_SOURCE_NAME } from "./names.js";
import { observeEngine } from "./observeEngine.js";
import type { Instrumentation, TelemetryOptions } from "./telemetryOptions.js";

/**
 * Records an engine made by `refreshable()` as OpenTelemetry metrics: time to expiry, refreshes, refresh failures,
 * consecutive failures, caller waits and refresh durations, each with the attribute `aws_refresh.source.name` (the
 * engine's `sourceName`) and `options.attributes`. Read through the engine's `metrics()` and `refresh` event.
 *
 * @example
 * ```ts
 * import { fromIni } from "@aws-sdk/credential-providers";
 * import { refreshable } from "aws-refresh-session";
 * import { instrumentRefreshable } from "aws-refresh-session/telemetry";
 *
 * const credentials = refreshable(fromIni({ profile: "etl" }), { name: "etl" });
 * const telemetry = instrumentRefreshable(credentials); // the global MeterProvider's meter
 * // … later
 * telemetry.close();
 * ```
 */
export function instrumentRefreshable(engine: RefreshableCredentials, options: TelemetryOptions = {}): Instrumentation {
  if (typeof engine !== "function" || typeof engine.metrics !== "function" || typeof engine.on !== "function") {
    throw new TypeError("`engine` must be credentials made by refreshable()");
  }
  const clock = options.clock ?? Date;
  const attributes = { ...options.attributes, [ATTR_SOURCE_NAME]: engine.sourceName };
  const stop = observeEngine(instrumentsOf(meterFor(options)), engine, attributes, () => clock.now());
  return { close: stop };
}
