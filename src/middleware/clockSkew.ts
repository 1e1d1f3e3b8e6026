import type { Logger } from "@smithy/types";
import { formatDuration } from "../util/duration.js";
import type { Clock } from "../types.js";

/**
 * A `clock-skew` event fires when the offset to AWS's clock passes this many ms (either way).
 *
 * @example
 * ```ts
 * new RefreshableSession({ ...options, clockSkew: { thresholdMs: DEFAULT_CLOCK_SKEW_THRESHOLD_MS / 2 } });
 * ```
 */
export const DEFAULT_CLOCK_SKEW_THRESHOLD_MS = 60_000;
/** A response that took longer than this says too little about the clock to use (the SDK ignores them too). */
const MAX_SAMPLE_ROUND_TRIP_MS = 900_000;
/** An HTTP `Date` header has whole seconds: the server's clock read anywhere inside the second it names. */
const DATE_RESOLUTION_MS = 1_000;

/**
 * Payload of the `clock-skew` event.
 *
 * @example
 * ```ts
 * session.on("clock-skew", (e: ClockSkewEvent) => e.exceeded && alert(`clock off by ${e.offsetMs} ms`));
 * ```
 */
export interface ClockSkewEvent {
  /** AWS's clock minus the local clock, in ms: positive when the local clock is behind. */
  offsetMs: number;
  /** The offset when the previous event fired (0 before the first). */
  previousOffsetMs: number;
  thresholdMs: number;
  /** Whether the offset is now beyond the threshold (false when it came back under it). */
  exceeded: boolean;
}

/**
 * Options of {@link ClockSkew}.
 *
 * @example
 * ```ts
 * const options: ClockSkewOptions = { thresholdMs: 30_000, onEvent: (e) => console.warn(e.offsetMs) };
 * ```
 */
export interface ClockSkewOptions {
  /** Fire `onEvent` when |offset| passes this (ms). Default 60000. */
  thresholdMs?: number | undefined;
  /** The local clock being corrected. Default `Date`. */
  clock?: Clock | undefined;
  /** Called when the offset crosses the threshold either way, or moves by more than it while beyond it. */
  onEvent?: ((event: ClockSkewEvent) => void) | undefined;
  /** The SDK's Logger interface: a warning when the offset passes the threshold. Default: silent. */
  logger?: Logger | undefined;
}

/**
 * One estimate of the offset between the local clock and AWS's, fed by the `Date` header of every response the
 * session's clients receive. Each response bounds the offset: the server read its clock between the request leaving
 * and the answer arriving, and the header truncates that reading to the second. Intersecting those bounds narrows the
 * estimate to well under a second after a few responses; bounds that no longer overlap mean the clock jumped, and the
 * estimate restarts from the first response to a request sent after the jump.
 *
 * @example
 * ```ts
 * const skew = new ClockSkew({ onEvent: (e) => console.warn(`clock is off by ${e.offsetMs} ms`) });
 * skew.observe(Date.parse("Wed, 01 Jan 2026 00:10:00 GMT"), sentAt, receivedAt);
 * const engine = refreshable(source, { clock: skew.clock }); // expiry decisions in AWS's time
 * ```
 */
export class ClockSkew {
  readonly thresholdMs: number;
  /** The corrected clock: the local clock plus the offset. Give it to the engine. */
  readonly clock: Clock;
  readonly #base: Clock;
  readonly #onEvent: ((event: ClockSkewEvent) => void) | undefined;
  readonly #logger: Logger | undefined;
  #lo = -Infinity;
  #hi = Infinity;
  /** When the request that (re)started the current bounds was sent. */
  #epochSentAt = -Infinity;
  #offset = 0;
  #samples = 0;
  #reported = 0;
  #exceeded = false;
  /** The last `Date` header's text and its time: responses in the same second carry the same text, parsed once. */
  #lastDate: string | undefined;
  #lastDateMs = NaN;

  constructor(options: ClockSkewOptions = {}) {
    if (options === null || typeof options !== "object") throw new TypeError("`clockSkew` must be an object or false");
    const t = options.thresholdMs;
    if (t !== undefined && !(typeof t === "number" && Number.isFinite(t) && t > 0)) {
      throw new RangeError(`\`clockSkew.thresholdMs\` must be a positive number of milliseconds, got ${String(t)}`);
    }
    if (options.onEvent !== undefined && typeof options.onEvent !== "function") {
      throw new TypeError("`clockSkew.onEvent` must be a function");
    }
    this.thresholdMs = t ?? DEFAULT_CLOCK_SKEW_THRESHOLD_MS;
    this.#base = options.clock ?? Date;
    this.#onEvent = options.onEvent;
    this.#logger = options.logger;
    this.clock = { now: () => this.#base.now() + this.#offset, local: this.#base };
  }

  /** AWS's clock minus the local one, in ms (0 until a response has been seen). */
  get offsetMs(): number {
    return this.#offset;
  }

  /** Responses that fed the estimate. */
  get samples(): number {
    return this.#samples;
  }

  /** The local (uncorrected) clock, for timing requests. */
  localNow(): number {
    return this.#base.now();
  }

  /**
   * Feeds one response: `serverTime` is its `Date` header (epoch ms), `sentAt` and `receivedAt` the local clock when the
   * request left and the answer arrived.
   */
  observe(serverTime: number, sentAt: number, receivedAt: number): void {
    if (!Number.isFinite(serverTime) || !(receivedAt >= sentAt) || receivedAt - sentAt > MAX_SAMPLE_ROUND_TRIP_MS) {
      return;
    }
    const lo = serverTime - receivedAt;
    const hi = serverTime + DATE_RESOLUTION_MS - sentAt;
    if (lo > this.#hi || hi < this.#lo) {
      // No overlap: a clock jumped. A response to a request sent before the current bounds began is from before the
      // jump: ignore it. Otherwise start again from this one.
      if (sentAt < this.#epochSentAt) return;
      this.#lo = lo;
      this.#hi = hi;
      this.#epochSentAt = sentAt;
    } else {
      if (this.#samples === 0) this.#epochSentAt = sentAt;
      this.#lo = Math.max(this.#lo, lo);
      this.#hi = Math.min(this.#hi, hi);
    }
    this.#samples++;
    this.#offset = Math.round((this.#lo + this.#hi) / 2);
    this.#check();
  }

  /** Feeds a raw HTTP response (from the SDK's middleware); ignores one without a `Date` or served from a cache. */
  observeResponse(response: unknown, sentAt: number, receivedAt: number): void {
    const headers = (response as { headers?: Record<string, string | undefined> } | undefined)?.headers;
    if (!headers || typeof headers !== "object") return;
    // A cached answer (Age) carries the Date of when it was first served, not now.
    if (headers.age !== undefined || headers.Age !== undefined) return;
    const date = headers.date ?? headers.Date;
    if (typeof date !== "string") return;
    if (date !== this.#lastDate) {
      this.#lastDateMs = Date.parse(date);
      this.#lastDate = date;
    }
    this.observe(this.#lastDateMs, sentAt, receivedAt);
  }

  #check(): void {
    const offset = this.#offset;
    const exceeded = Math.abs(offset) > this.thresholdMs;
    const moved = Math.abs(offset - this.#reported) > this.thresholdMs;
    if (exceeded === this.#exceeded && !(exceeded && moved)) return;
    const event: ClockSkewEvent = {
      offsetMs: offset,
      previousOffsetMs: this.#reported,
      thresholdMs: this.thresholdMs,
      exceeded,
    };
    this.#exceeded = exceeded;
    this.#reported = offset;
    if (exceeded) {
      this.#logger?.warn(
        `aws-refresh-session: the local clock is ${formatDuration(Math.abs(offset))} ${offset > 0 ? "behind" : "ahead of"} ` +
          "AWS's; the session corrects for it (AWS refuses signatures more than 15 minutes off), but fix the clock (NTP)",
      );
    } else {
      this.#logger?.info(`aws-refresh-session: the local clock is back within ${this.thresholdMs} ms of AWS's`);
    }
    try {
      this.#onEvent?.(event);
    } catch (err) {
      this.#logger?.error(`aws-refresh-session: a "clock-skew" listener threw: ${String(err)}`);
    }
  }
}
