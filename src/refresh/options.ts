/**
 * The engine's defaults, and the validation and resolution of {@link RefreshableOptions}.
 */
import type { Logger } from "@smithy/types";
import type { Clock } from "../types.js";
import type { EngineTimers, RefreshableOptions } from "./types.js";
import { checkMs } from "../util/checkMs.js";

/** Start a background refresh this long before expiry (clamped to half the credential's issued lifetime). */
export const DEFAULT_ADVISORY_MS = 15 * 60_000;
/** Make callers wait for a refresh this long before expiry (clamped to a quarter of the issued lifetime). */
export const DEFAULT_MANDATORY_MS = 10 * 60_000;
/** Fraction of the span between the advisory and mandatory windows over which a scheduled refresh is spread. */
export const DEFAULT_JITTER = 0.5;
/** Fraction of a credential's life before its scheduled refresh over which an off-schedule refresh is spread. */
export const DEFAULT_SPREAD = 1;
/** First retry delay after a failed refresh; doubles per failure (full jitter) up to {@link DEFAULT_MAX_RETRY_MS}. */
export const DEFAULT_RETRY_BASE_MS = 1_000;
/** Longest delay between two retries of a failing source. */
export const DEFAULT_MAX_RETRY_MS = 60_000;
/**
 * How long one source call may take before it counts as failed: long enough for an SDK client's own three attempts at
 * its request timeout, with backoff.
 */
export const DEFAULT_SOURCE_TIMEOUT_MS = 60_000;
/** How long callers of a first fetch wait while a source failing for a retryable reason is retried. */
export const DEFAULT_FIRST_FETCH_TIMEOUT_MS = 60_000;
/** After a failed first fetch that is not retried, callers fail fast for this long instead of calling again. */
export const DEFAULT_EXPIRED_RETRY_MS = 1_000;
/** Shortest delay the engine ever schedules, so a misbehaving source cannot make it spin. */
export const MIN_TIMER_MS = 25;

/** Node's timers, unref'ed so an engine never keeps a process alive. */
export const NODE_TIMERS: EngineTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

const noop = (): void => {};
const SILENT: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** {@link RefreshableOptions} with every default applied. Internal. */
export interface ResolvedRefreshableOptions {
  mode: "eager" | "deferred";
  advisoryMs: number;
  mandatoryMs: number;
  jitter: number;
  spread: number;
  clock: Clock;
  timers: EngineTimers;
  logger: Logger;
  retryBaseMs: number;
  maxRetryMs: number;
  sourceTimeoutMs: number;
  firstFetchTimeoutMs: number;
}

const KNOWN: readonly (keyof RefreshableOptions)[] = [
  "mode",
  "advisoryMs",
  "mandatoryMs",
  "jitter",
  "spread",
  "clock",
  "timers",
  "logger",
  "name",
  "retryBaseMs",
  "maxRetryMs",
  "sourceTimeoutMs",
  "firstFetchTimeoutMs",
];

/** Edit distance, to suggest the option a typo meant. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j] as number;
      row[j] = Math.min(here + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = here;
    }
  }
  return row[b.length] as number;
}

function suggestion(key: string): string {
  const lower = key.toLowerCase();
  const near = KNOWN.map((k) => ({ k, d: k.toLowerCase().startsWith(lower) ? 0 : distance(lower, k.toLowerCase()) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(key.length / 3)))
    .sort((x, y) => x.d - y.d)[0];
  return near
    ? `; did you mean \`${near.k}\`?`
    : `; the engine's options are ${KNOWN.map((k) => `\`${k}\``).join(", ")}`;
}

function validateFraction(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== "number" || !(value >= 0 && value <= 1))) {
    throw new RangeError(`\`${name}\` must be a number from 0 to 1, got ${String(value)}`);
  }
}

/** Validates {@link RefreshableOptions}; throws TypeError/RangeError naming the option. */
export function validateRefreshableOptions(options: RefreshableOptions): void {
  if (options === null || typeof options !== "object") throw new TypeError("`options` must be an object");
  for (const key of Object.keys(options)) {
    if (!(KNOWN as readonly string[]).includes(key) && (options as Record<string, unknown>)[key] !== undefined) {
      throw new TypeError(`Unknown engine option \`${key}\`${suggestion(key)}`);
    }
  }
  if (options.mode !== undefined && options.mode !== "eager" && options.mode !== "deferred") {
    throw new TypeError(`\`mode\` must be "eager" or "deferred", got ${JSON.stringify(options.mode)}`);
  }
  checkMs("advisoryMs", options.advisoryMs);
  checkMs("mandatoryMs", options.mandatoryMs);
  checkMs("retryBaseMs", options.retryBaseMs);
  checkMs("maxRetryMs", options.maxRetryMs);
  checkMs("sourceTimeoutMs", options.sourceTimeoutMs, 1);
  checkMs("firstFetchTimeoutMs", options.firstFetchTimeoutMs);
  const advisory = options.advisoryMs ?? DEFAULT_ADVISORY_MS;
  const mandatory = options.mandatoryMs ?? DEFAULT_MANDATORY_MS;
  if (mandatory > advisory) {
    throw new RangeError(`\`mandatoryMs\` (${mandatory}) must not be greater than \`advisoryMs\` (${advisory})`);
  }
  validateFraction("jitter", options.jitter);
  validateFraction("spread", options.spread);
  if (options.clock !== undefined && typeof options.clock?.now !== "function") {
    throw new TypeError("`clock` must be an object with a `now()` method");
  }
  const t = options.timers;
  if (t !== undefined && (typeof t?.setTimeout !== "function" || typeof t?.clearTimeout !== "function")) {
    throw new TypeError("`timers` must be an object with `setTimeout(fn, ms)` and `clearTimeout(timer)`");
  }
  if (options.name !== undefined && typeof options.name !== "string") throw new TypeError("`name` must be a string");
}

/** Applies the defaults; `sourceTimeoutMs` falls back to what the source says it needs. */
export function resolveRefreshableOptions(
  options: RefreshableOptions,
  sourceTimeoutMs: number | undefined,
): ResolvedRefreshableOptions {
  const retryBaseMs = options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
  const fromSource =
    typeof sourceTimeoutMs === "number" && Number.isFinite(sourceTimeoutMs) && sourceTimeoutMs > 0
      ? sourceTimeoutMs
      : undefined;
  return {
    mode: options.mode ?? "eager",
    advisoryMs: options.advisoryMs ?? DEFAULT_ADVISORY_MS,
    mandatoryMs: options.mandatoryMs ?? DEFAULT_MANDATORY_MS,
    jitter: options.jitter ?? DEFAULT_JITTER,
    spread: options.spread ?? DEFAULT_SPREAD,
    clock: options.clock ?? Date,
    timers: options.timers ?? NODE_TIMERS,
    logger: options.logger ?? SILENT,
    retryBaseMs,
    maxRetryMs: Math.max(options.maxRetryMs ?? DEFAULT_MAX_RETRY_MS, retryBaseMs),
    sourceTimeoutMs: options.sourceTimeoutMs ?? fromSource ?? DEFAULT_SOURCE_TIMEOUT_MS,
    firstFetchTimeoutMs: options.firstFetchTimeoutMs ?? DEFAULT_FIRST_FETCH_TIMEOUT_MS,
  };
}
