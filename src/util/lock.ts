import { dirname } from "node:path";
import type { Logger } from "@smithy/types";
import lockfile from "proper-lockfile";
import { ensurePrivateDir } from "./secretFile.js";

/** A lock whose holder stopped touching it for this long is taken over (the holder died or hung). */
export const DEFAULT_LOCK_STALE_MS = 5_000;
/** How long {@link withLock} waits for another process's lock before giving up. */
export const DEFAULT_LOCK_WAIT_MS = 30_000;

/** Options of {@link tryLock}. */
export interface TryLockOptions {
  /** Take the lock over once its holder has not refreshed it for this long (at least 2 s). Default 5000. */
  staleMs?: number | undefined;
  /** Told when a held lock was lost (taken over as stale). */
  logger?: Logger | undefined;
}

/** Options of {@link withLock}. */
export interface WithLockOptions extends TryLockOptions {
  /** Give up after waiting this long. Default 30000. */
  waitMs?: number | undefined;
  /** The error to throw when the wait is over; default a plain Error naming the lock. */
  onTimeout?: (waitedMs: number) => Error;
}

/**
 * Takes a cross-process lock on `path` (a `<path>.lock` directory, kept fresh every `staleMs / 2` while held) without
 * waiting: the release function, or undefined when another process holds it. A holder that died is taken over once
 * the lock has gone stale.
 */
export async function tryLock(path: string, options: TryLockOptions = {}): Promise<(() => Promise<void>) | undefined> {
  const stale = Math.max(2_000, options.staleMs ?? DEFAULT_LOCK_STALE_MS);
  await ensurePrivateDir(dirname(path));
  try {
    const release = await lockfile.lock(path, {
      realpath: false,
      stale,
      update: Math.floor(stale / 2),
      retries: 0,
      onCompromised: (err) => options.logger?.warn(`aws-refresh-session: lost the lock on ${path}: ${err.message}`),
    });
    // A lock lost meanwhile (compromised) rejects on release; nothing is left to undo then.
    return () => release().catch(() => {});
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOCKED") return undefined;
    throw err;
  }
}

/**
 * Runs `fn` holding the cross-process lock on `path`, waiting for another holder up to `waitMs`. Every process that
 * rewrites the same file serialises here.
 *
 * @example
 * ```ts
 * await withLock(cacheFile, async () => writeSecretFile(cacheFile, JSON.stringify(value)));
 * ```
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: WithLockOptions = {}): Promise<T> {
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const started = Date.now();
  let release: (() => Promise<void>) | undefined;
  while (!(release = await tryLock(path, options))) {
    const waited = Date.now() - started;
    if (waited > waitMs) {
      throw (
        options.onTimeout?.(waited) ??
        new Error(`Another process has held the lock on ${path} for more than ${Math.round(waitMs / 1000)}s`)
      );
    }
    await new Promise((r) => setTimeout(r, 25 + Math.random() * 75));
  }
  try {
    return await fn();
  } finally {
    await release();
  }
}
