import type { Attributes, Meter, MeterProvider } from "@opentelemetry/api";

/** Options every `instrument*()` function takes. */
export interface TelemetryOptions {
  /** The meter to record with. Default: one named `aws-refresh-session` from `meterProvider`. */
  meter?: Meter;
  /** Where to get the meter. Default: the global provider (`metrics.getMeterProvider()` of `@opentelemetry/api`). */
  meterProvider?: MeterProvider;
  /** Attributes added to every measurement (keep them few and of low cardinality). Default: none. */
  attributes?: Attributes;
  /** Time source for time to expiry. Default `Date`. Sessions add their learnt clock skew to it. */
  clock?: { now(): number };
}

/** What an `instrument*()` function returns. */
export interface Instrumentation {
  /** Stops recording: unsubscribes from events and stops observing. Idempotent. */
  close(): void;
}
