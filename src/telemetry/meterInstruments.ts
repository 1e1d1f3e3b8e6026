import {
  metrics,
  ValueType,
  type Attributes,
  type BatchObservableCallback,
  type BatchObservableResult,
  type Histogram,
  type Meter,
  type Observable,
  type ObservableCounter,
  type ObservableGauge,
} from "@opentelemetry/api";
import {
  DEFAULT_REFRESH_DURATION_BUCKETS,
  METRIC_CREDENTIAL_REFRESHES,
  METRIC_CREDENTIAL_REFRESH_CONSECUTIVE_FAILURES,
  METRIC_CREDENTIAL_REFRESH_DURATION,
  METRIC_CREDENTIAL_REFRESH_FAILURES,
  METRIC_CREDENTIAL_TIME_TO_EXPIRY,
  METRIC_CREDENTIAL_WAITS,
  METRIC_SERVER_REQUESTS,
  METRIC_SESSION_CLOCK_SKEW,
  METRIC_SESSION_RECOVERIES,
  METRIC_SESSION_RECOVERY_FAILURES,
  TELEMETRY_SCOPE,
} from "./names.js";
import type { TelemetryOptions } from "./telemetryOptions.js";

/** What one observed thing reports at each collection. Internal. */
export type Observer = (record: Recorder) => void;

/** The observable instruments, for an {@link Observer} to report into. Internal. */
export interface Recorder {
  timeToExpiry(seconds: number, attributes: Attributes): void;
  refreshes(total: number, attributes: Attributes): void;
  refreshFailures(total: number, attributes: Attributes): void;
  consecutiveFailures(count: number, attributes: Attributes): void;
  waits(total: number, attributes: Attributes): void;
  recoveries(total: number, attributes: Attributes): void;
  recoveryFailures(total: number, attributes: Attributes): void;
  clockSkew(seconds: number, attributes: Attributes): void;
  serverRequests(total: number, attributes: Attributes): void;
}

/** A meter's instruments and the things observed through them. Internal. */
export interface MeterInstruments {
  readonly refreshDuration: Histogram;
  /** Starts observing; returns a function that stops. */
  observe(observer: Observer): () => void;
}

const byMeter = new WeakMap<Meter, MeterInstruments>();

/** The meter the options name, else one from the global provider. */
export function meterFor(options: TelemetryOptions): Meter {
  if (options.meter !== undefined) {
    if (typeof options.meter?.createObservableGauge !== "function") {
      throw new TypeError("`meter` must be an OpenTelemetry Meter");
    }
    return options.meter;
  }
  if (options.meterProvider !== undefined && typeof options.meterProvider?.getMeter !== "function") {
    throw new TypeError("`meterProvider` must be an OpenTelemetry MeterProvider");
  }
  return (options.meterProvider ?? metrics.getMeterProvider()).getMeter(TELEMETRY_SCOPE);
}

/**
 * The instruments of `meter`, made once per meter: however many sessions, engines and servers are instrumented, each
 * instrument exists once and one batch callback observes them all at collection time.
 */
export function instrumentsOf(meter: Meter): MeterInstruments {
  const known = byMeter.get(meter);
  if (known) return known;
  const counter = (name: string, unit: string, description: string): ObservableCounter =>
    meter.createObservableCounter(name, { unit, description, valueType: ValueType.INT });
  const gauge = (name: string, unit: string, description: string, valueType = ValueType.DOUBLE): ObservableGauge =>
    meter.createObservableGauge(name, { unit, description, valueType });
  const o = {
    timeToExpiry: gauge(
      METRIC_CREDENTIAL_TIME_TO_EXPIRY,
      "s",
      "Time until the credential being served expires; negative once it has expired with no replacement",
    ),
    refreshes: counter(METRIC_CREDENTIAL_REFRESHES, "{refresh}", "Successful calls to the credential source"),
    refreshFailures: counter(
      METRIC_CREDENTIAL_REFRESH_FAILURES,
      "{failure}",
      "Failed calls to the credential source, including invalid or already-expired credentials",
    ),
    consecutiveFailures: gauge(
      METRIC_CREDENTIAL_REFRESH_CONSECUTIVE_FAILURES,
      "{failure}",
      "Failed calls to the credential source since its last success",
      ValueType.INT,
    ),
    waits: counter(
      METRIC_CREDENTIAL_WAITS,
      "{wait}",
      "Callers that had to wait for the credential source (first fetch, mandatory window, expired credential)",
    ),
    recoveries: counter(
      METRIC_SESSION_RECOVERIES,
      "{request}",
      "Requests replayed with a fresh credential after AWS refused an expired one",
    ),
    recoveryFailures: counter(
      METRIC_SESSION_RECOVERY_FAILURES,
      "{request}",
      "Expired-credential failures that reached the caller",
    ),
    clockSkew: gauge(METRIC_SESSION_CLOCK_SKEW, "s", "AWS's clock minus the local clock, learnt from responses"),
    serverRequests: counter(METRIC_SERVER_REQUESTS, "{request}", "Requests the credential server answered"),
  };
  const refreshDuration = meter.createHistogram(METRIC_CREDENTIAL_REFRESH_DURATION, {
    unit: "s",
    description: "Duration of successful calls to the credential source",
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: DEFAULT_REFRESH_DURATION_BUCKETS },
  });
  const observers = new Set<Observer>();
  const observables: Observable[] = Object.values(o);
  let current: BatchObservableResult | undefined;
  const recorder = Object.fromEntries(
    Object.entries(o).map(([key, instrument]) => [
      key,
      (value: number, attributes: Attributes) => current?.observe(instrument, value, attributes),
    ]),
  ) as unknown as Recorder;
  const callback: BatchObservableCallback = (result) => {
    current = result;
    try {
      for (const observer of observers) observer(recorder);
    } finally {
      current = undefined;
    }
  };
  const instruments: MeterInstruments = {
    refreshDuration,
    observe(observer) {
      // The callback is registered while something is observed, so a meter left with nothing keeps no closure alive.
      if (observers.size === 0) meter.addBatchObservableCallback(callback, observables);
      observers.add(observer);
      return () => {
        if (observers.delete(observer) && observers.size === 0) {
          meter.removeBatchObservableCallback(callback, observables);
        }
      };
    },
  };
  byMeter.set(meter, instruments);
  return instruments;
}
