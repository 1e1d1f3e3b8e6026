import type { Attributes } from "@opentelemetry/api";
import type { RefreshableCredentials } from "../refresh/types.js";
import type { MeterInstruments, Recorder } from "./meterInstruments.js";

/**
 * Records one engine through its public surface only, `metrics()` and the `refresh` event, so the engine's insides
 * can change: its counters and expiry are read at each collection, each refresh's duration is recorded as it happens.
 * `now` is the time the engine's expiry is compared with. Returns a function that stops (idempotent). Internal.
 */
export function observeEngine(
  instruments: MeterInstruments,
  engine: RefreshableCredentials,
  attributes: Attributes,
  now: () => number,
  extra?: (record: Recorder) => void,
): () => void {
  const stopObserving = instruments.observe((record) => {
    const m = engine.metrics();
    record.refreshes(m.refreshes, attributes);
    record.refreshFailures(m.refreshFailures, attributes);
    record.consecutiveFailures(m.consecutiveFailures, attributes);
    record.waits(m.waits, attributes);
    // Absent before the first fetch and for credentials that never expire: there is no expiry to count down to.
    if (m.expiration) record.timeToExpiry((m.expiration.getTime() - now()) / 1000, attributes);
    extra?.(record);
  });
  // A session's clock is corrected for skew by the very response a refresh waits for, so a short call can measure
  // below zero; a histogram refuses negative values, and the call took about no time.
  const unsubscribe = engine.on("refresh", (e) =>
    instruments.refreshDuration.record(Math.max(0, e.durationMs) / 1000, attributes),
  );
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    unsubscribe();
    stopObserving();
  };
}
