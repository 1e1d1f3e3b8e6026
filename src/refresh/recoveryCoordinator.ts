import type { AwsCredentialIdentity } from "@smithy/types";
import type { Clock } from "../types.js";

/** After a forced refresh fails, requests that died with the same credential share that failure for this long. */
const FAILED_REFRESH_MEMORY_MS = 1_000;
/** After a refresh did not cure a HEAD 400, HEAD 400s are taken at their word (not as expired tokens) this long. */
const HEAD_GUESS_BACKOFF_MS = 60_000;

/** A credential other than the dead one, and whether getting it took a refresh. */
export interface FreshCredential {
  identity: AwsCredentialIdentity;
  refreshed: boolean;
}

/** Identifies a credential by key id and token; held in memory only, never shown. */
function tokenKey(id: AwsCredentialIdentity): string {
  return `${id.accessKeyId}\u0000${id.sessionToken ?? ""}`;
}

/**
 * What every client signing with one engine shares when AWS refuses a credential: one forced refresh per dead
 * credential (however many requests died with it), and whether S3's bodiless HEAD 400s are currently taken for
 * expired tokens. The engine owns one (`credentials.recovery`); the ExpiredToken recovery middleware uses it.
 *
 * @example
 * ```ts
 * const { identity, refreshed } = await credentials.recovery.freshAfter(signedWith);
 * ```
 */
export class RecoveryCoordinator {
  readonly #refresh: () => Promise<AwsCredentialIdentity>;
  readonly #peek: () => AwsCredentialIdentity | undefined;
  readonly #clock: Clock;
  /** Key of the credential the pending refresh replaces. */
  #deadKey: string | undefined;
  #pending: Promise<FreshCredential> | undefined;
  /** When the pending refresh failed; its failure is shared for a second, then the source is tried again. */
  #failedAt: number | undefined;
  #headGuessOffUntil = 0;

  constructor(engine: {
    refresh: () => Promise<AwsCredentialIdentity>;
    peek: () => AwsCredentialIdentity | undefined;
    clock: Clock;
  }) {
    this.#refresh = engine.refresh;
    this.#peek = engine.peek;
    this.#clock = engine.clock;
  }

  /**
   * A credential other than `dead`: the current one if it already rotated, else one forced refresh shared by every
   * request that died with `dead`. Without `dead` (a client that did not say what signed), a refresh joined in flight.
   */
  freshAfter(dead: AwsCredentialIdentity | undefined): Promise<FreshCredential> {
    if (!dead) return this.#refresh().then((identity) => ({ identity, refreshed: true }));
    const key = tokenKey(dead);
    const now = this.#clock.now();
    if (this.#deadKey === key && this.#pending) {
      // Let requests that fail a little later try the source again rather than share an old failure forever.
      if (this.#failedAt === undefined || now - this.#failedAt < FAILED_REFRESH_MEMORY_MS) return this.#pending;
    }
    const current = this.#peek();
    if (current && tokenKey(current) !== key) return Promise.resolve({ identity: current, refreshed: false });
    const p = this.#refresh().then((identity) => ({ identity, refreshed: true }));
    this.#deadKey = key;
    this.#pending = p;
    this.#failedAt = undefined;
    p.catch(() => {
      if (this.#pending === p) this.#failedAt = this.#clock.now();
    });
    return p;
  }

  /** Whether the same credential (key id and token) — a replay with it would be refused again. */
  static same(a: AwsCredentialIdentity, b: AwsCredentialIdentity): boolean {
    return tokenKey(a) === tokenKey(b);
  }

  /** Whether a bodiless HEAD 400 may be taken for an expired token now. */
  headGuessAllowed(): boolean {
    return this.#clock.now() >= this.#headGuessOffUntil;
  }

  /** A refresh did not cure a HEAD 400: it was not an expired token; stop guessing for a while. */
  stopHeadGuessing(): void {
    this.#headGuessOffUntil = this.#clock.now() + HEAD_GUESS_BACKOFF_MS;
  }
}
