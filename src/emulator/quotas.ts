/**
 * A request quota on one emulator operation: a token bucket of `burst` tokens refilled at `rate` per second. A call
 * finding the bucket empty gets the service's own throttling answer, as AWS gives it.
 *
 * @example
 * ```ts
 * const emu = await startEmulator({ quotas: { "sts:AssumeRole": { rate: 25, burst: 25 } } });
 * emu.quota("sso:GetRoleCredentials", { rate: 5 });
 * ```
 */
export interface QuotaSpec {
  /** Calls per second the bucket refills with (> 0). */
  rate: number;
  /** Calls the bucket holds, and starts with (>= 1). Default: `rate`, at least 1. */
  burst?: number;
}

/** A quota with its bucket and counters. Internal. */
export interface ActiveQuota {
  spec: Required<QuotaSpec>;
  tokens: number;
  last: number;
  allowed: number;
  throttled: number;
}

/** The answer a service gives a throttled call: status, error code and message. */
export interface ThrottlingAnswer {
  status: number;
  code: string;
  message: string;
}

/**
 * What each service answers when a quota is exceeded: STS `Throttling` (400, its XML error), the SSO portal and
 * SSO-OIDC `TooManyRequestsException` (429, JSON), S3 `SlowDown` (503); other JSON services `ThrottlingException`.
 */
const ANSWERS: Record<string, ThrottlingAnswer> = {
  sts: { status: 400, code: "Throttling", message: "Rate exceeded" },
  sso: { status: 429, code: "TooManyRequestsException", message: "HTTP 429 Unknown Code" },
  "sso-oidc": { status: 429, code: "TooManyRequestsException", message: "Rate exceeded" },
  s3: { status: 503, code: "SlowDown", message: "Please reduce your request rate." },
};
const DEFAULT_ANSWER: ThrottlingAnswer = { status: 400, code: "ThrottlingException", message: "Rate exceeded" };

/** The throttling answer of the service `operation` belongs to (`"sts:AssumeRole"` → STS's). */
export function throttlingAnswer(operation: string): ThrottlingAnswer {
  return ANSWERS[operation.slice(0, operation.indexOf(":"))] ?? DEFAULT_ANSWER;
}

/** Validates a quota; throws TypeError/RangeError naming the field. */
export function makeQuota(spec: QuotaSpec, now: number): ActiveQuota {
  if (spec === null || typeof spec !== "object") throw new TypeError("`quota` must be an object with `rate`");
  if (typeof spec.rate !== "number" || !Number.isFinite(spec.rate) || spec.rate <= 0) {
    throw new RangeError(`\`quota.rate\` must be a number of calls per second > 0, got ${String(spec.rate)}`);
  }
  const burst = spec.burst ?? Math.max(1, spec.rate);
  if (typeof burst !== "number" || !Number.isFinite(burst) || burst < 1) {
    throw new RangeError(`\`quota.burst\` must be a number >= 1, got ${String(spec.burst)}`);
  }
  return { spec: { rate: spec.rate, burst }, tokens: burst, last: now, allowed: 0, throttled: 0 };
}

/** Takes a token if there is one (refilling for the time passed); counts the call either way. */
export function quotaAllows(q: ActiveQuota, now: number): boolean {
  q.tokens = Math.min(q.spec.burst, q.tokens + (Math.max(0, now - q.last) * q.spec.rate) / 1000);
  q.last = now;
  if (q.tokens >= 1) {
    q.tokens -= 1;
    q.allowed++;
    return true;
  }
  q.throttled++;
  return false;
}

/**
 * Parses `aws-refresh emulate --quota` text: `OPERATION=RATE[:BURST]`, e.g. `sts:AssumeRole=25` or
 * `sts:AssumeRole=25:50`.
 */
export function parseQuota(text: string): { operation: string; spec: QuotaSpec } {
  const m = /^([a-z0-9-]+:[A-Za-z0-9]+)=([0-9.]+)(?::([0-9.]+))?$/.exec(text.trim());
  if (!m) {
    throw new TypeError(
      `--quota must look like OPERATION=RATE[:BURST], e.g. sts:AssumeRole=25 or sts:AssumeRole=25:50; got ${JSON.stringify(text)}`,
    );
  }
  const spec: QuotaSpec = { rate: Number(m[2]) };
  if (m[3] !== undefined) spec.burst = Number(m[3]);
  makeQuota(spec, 0); // validate now, naming the field
  return { operation: m[1] as string, spec };
}
