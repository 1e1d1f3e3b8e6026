/**
 * The engine's public types: its options, events, metrics and the provider it returns. No behaviour lives here.
 */
import type { AwsCredentialIdentity, Logger } from "@smithy/types";
import type { Clock } from "../types.js";
import type { RecoveryCoordinator } from "./recoveryCoordinator.js";

/** A timer handle as {@link EngineTimers} hands it out. */
export interface EngineTimer {
  /** Node's timers have it; the engine calls it when present so its timers never keep a process alive. */
  unref?(): unknown;
  /** Node's timers have it; the engine calls it while a caller awaits what only this timer can deliver. */
  ref?(): unknown;
}

/**
 * Where the engine sets its timers. Default: Node's `setTimeout`/`clearTimeout`. Inject your own (with a matching
 * `clock`) to drive engines on a simulated timeline.
 *
 * @example
 * ```ts
 * const timers: EngineTimers = { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout) };
 * ```
 */
export interface EngineTimers {
  setTimeout(fn: () => void, ms: number): EngineTimer;
  clearTimeout(timer: EngineTimer): void;
}

/** Options of `refreshable()`. Every field is optional; unknown fields are refused. */
export interface RefreshableOptions {
  /**
   * `"eager"` (default) refreshes on a timer; `"deferred"` refreshes only when a caller arrives inside the advisory
   * window (the caller is answered at once with the current credential).
   */
  mode?: "eager" | "deferred";
  /** Start a background refresh this many ms before expiry. Default 900000 (15 min); clamped to lifetime/2. */
  advisoryMs?: number;
  /** Callers wait for a refresh this many ms before expiry. Default 600000 (10 min); clamped to lifetime/4. */
  mandatoryMs?: number;
  /** 0..1: how much of the advisory-to-mandatory span each scheduled refresh is spread over. Default 0.5. */
  jitter?: number;
  /**
   * 0..1: how much of a credential's life before its scheduled refresh the refresh is spread over when the engine's
   * timing is not its own (the first credential, a forced refresh, a refresh that needed retries), so engines that
   * started or recovered together refresh apart from then on. 0 turns it off. Default 1.
   */
  spread?: number;
  /** Time source. Default `Date`. */
  clock?: Clock;
  /** Where timers are set. Default Node's (unref'ed). */
  timers?: EngineTimers;
  /** The SDK's Logger interface. Default: silent. */
  logger?: Logger;
  /** Name of the source in errors, events and metrics. Default: the source's `sourceName`, else its function name. */
  name?: string;
  /** First retry delay after a failure (ms); the backoff doubles per failure, with full jitter. Default 1000. */
  retryBaseMs?: number;
  /** Longest delay between retries (ms). Default 60000. */
  maxRetryMs?: number;
  /**
   * How long one source call may take (ms); a call still pending then counts as failed (a timeout, retried like a
   * throttle). Default: the source's own `sourceTimeoutMs`, else 60000.
   */
  sourceTimeoutMs?: number;
  /**
   * When the first fetch fails for a retryable reason (throttling, 5xx, timeout, connection reset), callers wait this
   * long (ms, from the first attempt) while the engine retries; then they get the error. 0 fails them at once.
   * Default 60000.
   */
  firstFetchTimeoutMs?: number;
}

/** Payload of the `refresh` event. Holds no secret. */
export interface RefreshEvent {
  source: string;
  /** Last four characters of the new access key id, masked: `****WXYZ`. */
  accessKeyId: string;
  expiration: Date | undefined;
  /** How long the source call took. */
  durationMs: number;
  /** `true` when {@link RefreshableCredentials.refresh} asked for it. */
  forced: boolean;
  /** `true` when the source returned the credential it had already returned. */
  unchanged: boolean;
}

/** Payload of the `refresh-failed` event. */
export interface RefreshFailedEvent {
  source: string;
  error: Error;
  consecutiveFailures: number;
  /** Expiry of the credential still being served, if any. */
  expiration: Date | undefined;
  /** Whether the current credential is still valid (static stability keeps serving it). */
  stillValid: boolean;
  /** When the engine retries on its own; undefined when it waits for a caller. */
  nextRetryAt: Date | undefined;
  /** The source did not answer within `sourceTimeoutMs`. */
  timedOut: boolean;
  /** The failure is one a retry may cure (throttling, 5xx, timeout, connection reset). */
  retryable: boolean;
}

/** Payload of the `expired` event: the served credential expired with no replacement. */
export interface ExpiredEvent {
  source: string;
  expiration: Date;
  lastError: Error | undefined;
}

/** Events emitted by the engine. */
export interface RefreshableEvents {
  refresh: RefreshEvent;
  "refresh-failed": RefreshFailedEvent;
  expired: ExpiredEvent;
}

/** A snapshot of the engine's state. */
export interface RefreshMetrics {
  source: string;
  /** Successful source calls. */
  refreshes: number;
  /** Failed source calls (timeouts, and calls that returned an invalid or already-expired credential, included). */
  refreshFailures: number;
  /** Source calls that did not answer within `sourceTimeoutMs` (counted in `refreshFailures` too). */
  timeouts: number;
  consecutiveFailures: number;
  /** Callers that had to wait for a source call (first fetch, mandatory window, expired). */
  waits: number;
  /** Expiry of the credential being served; undefined before the first fetch and for static credentials. */
  expiration: Date | undefined;
  lastRefreshAt: Date | undefined;
  /** When the engine will call the source next on its own (eager mode, or a retry after a failure). */
  nextRefreshAt: Date | undefined;
  lastError: Error | undefined;
  /** Windows in force for the current credential, after clamping. */
  advisoryMs: number | undefined;
  mandatoryMs: number | undefined;
}

/** A listener for one of the engine's events. */
export type RefreshListener<E extends keyof RefreshableEvents> = (event: RefreshableEvents[E]) => void;

/**
 * What `refreshable()` returns: an SDK v3 credential provider (pass it as any client's `credentials`) with controls
 * attached.
 */
export interface RefreshableCredentials {
  (options?: { forceRefresh?: boolean }): Promise<AwsCredentialIdentity>;
  /** Force a refresh now, joining one already in flight. Rejects if the source fails (the old credential stays). */
  refresh(): Promise<AwsCredentialIdentity>;
  metrics(): RefreshMetrics;
  /** Subscribe to an event; returns a function that unsubscribes. */
  on<E extends keyof RefreshableEvents>(event: E, listener: RefreshListener<E>): () => void;
  /** Stop every timer. Later calls reject with code `CLOSED`. */
  close(): void;
  /** The credential currently held, without refreshing or waiting; undefined when none is valid. */
  peek(): AwsCredentialIdentity | undefined;
  /**
   * What the ExpiredToken recovery middleware shares between every client signing with this engine: one forced
   * refresh per dead credential. Internal to the middleware; you do not need it.
   */
  readonly recovery: RecoveryCoordinator;
  readonly sourceName: string;
  /** Marks the provider as memoized so the SDK does not wrap it in its own lazy cache. */
  readonly memoized: true;
  readonly refreshable: true;
}
