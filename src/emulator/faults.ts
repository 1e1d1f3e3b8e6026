/**
 * A fault injected into one emulator operation. Without `every`, `probability` or `times` it applies to every call.
 *
 * @example
 * ```ts
 * emu.fault("sts:AssumeRole", { error: { code: "Throttling", status: 400 }, every: 3 });
 * emu.fault("s3:GetObject", { latencyMs: 200, probability: 0.1, seed: 42 });
 * emu.fault("sts:AssumeRoleWithWebIdentity", { expired: true, times: 1 });
 * ```
 */
export interface FaultSpec {
  /** Answer with this error (in the service's own error format). */
  error?: { code: string; status: number; message?: string };
  /** Delay the answer (or the error) this long. */
  latencyMs?: number;
  /** Destroy the connection without answering. */
  reset?: boolean;
  /** Answer 200 with a body that is not valid for the protocol. */
  malformed?: boolean;
  /**
   * Answer normally, but every credential issued by this call expired a minute before it was issued (a source whose
   * cache or clock went wrong). Combine with `latencyMs` for a slow, useless answer.
   */
  expired?: boolean;
  /** Only every Nth matching call (the Nth, 2Nth…). */
  every?: number;
  /** Only with this probability, drawn from a PRNG seeded with `seed`. */
  probability?: number;
  /** Seed of the PRNG for `probability`. Default 1. */
  seed?: number;
  /** Only the first N times the fault fires; then it removes itself. */
  times?: number;
}

/** A fault with its own counters. Internal. */
export interface ActiveFault {
  spec: FaultSpec;
  seen: number;
  fired: number;
  random: () => number;
}

/** mulberry32: a small seeded PRNG, so a probability fault fires on the same calls in every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Validates a fault spec; throws TypeError/RangeError naming the field. */
export function makeFault(spec: FaultSpec): ActiveFault {
  if (spec === null || typeof spec !== "object") throw new TypeError("`spec` must be an object");
  if (spec.error !== undefined) {
    const e = spec.error;
    if (typeof e?.code !== "string" || !Number.isInteger(e.status) || e.status < 400 || e.status > 599) {
      throw new TypeError("`spec.error` must be { code: string, status: 400..599, message? }");
    }
  }
  for (const k of ["latencyMs", "every", "times"] as const) {
    const v = spec[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`\`spec.${k}\` must be a number >= 0`);
  }
  if (spec.probability !== undefined && !(spec.probability >= 0 && spec.probability <= 1)) {
    throw new RangeError("`spec.probability` must be from 0 to 1");
  }
  return { spec, seen: 0, fired: 0, random: seeded(spec.seed ?? 1) };
}

/** Whether the fault fires on this call; updates its counters. */
export function faultFires(f: ActiveFault): boolean {
  f.seen++;
  if (f.spec.times !== undefined && f.fired >= f.spec.times) return false;
  if (f.spec.every !== undefined && f.spec.every > 0 && f.seen % f.spec.every !== 0) return false;
  if (f.spec.probability !== undefined && f.random() >= f.spec.probability) return false;
  f.fired++;
  return true;
}
