import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { AwsCredentialIdentity, Logger, RequestPresigningArguments } from "@smithy/types";
import { RefreshSessionError, errorMessage } from "../errors.js";
import { describeTime } from "../util/timeText.js";
import { formatDuration } from "../util/duration.js";
import { parseAmzDate } from "../util/awsDate.js";
import type { Clock } from "../types.js";
import type { RefreshableCredentials } from "../refresh/types.js";

/**
 * SigV4 presigned URLs live at most 7 days (X-Amz-Expires <= 604800).
 *
 * @example
 * ```ts
 * await session.presign(s3, command, { expiresIn: MAX_PRESIGN_EXPIRES_SECONDS });
 * ```
 */
export const MAX_PRESIGN_EXPIRES_SECONDS = 604_800;
/**
 * Lifetime asked when `expiresIn` is not given: 15 minutes, as the SDK's `getSignedUrl`.
 *
 * @example
 * ```ts
 * (await session.presign(s3, command)).expiresIn; // DEFAULT_PRESIGN_EXPIRES_SECONDS, unless capped
 * ```
 */
export const DEFAULT_PRESIGN_EXPIRES_SECONDS = 900;
/** A credential with more than this share of its issued lifetime left is new: refreshing would not extend it. */
const FRESH_SHARE = 0.9;

/**
 * An SDK v3 client `getSignedUrl` accepts: an `S3Client`.
 *
 * @example
 * ```ts
 * const client: PresignableClient = session.client(S3Client);
 * ```
 */
export interface PresignableClient {
  readonly config: object;
  readonly middlewareStack: object;
}
/**
 * A command `getSignedUrl` accepts: `GetObjectCommand`, `PutObjectCommand`, `UploadPartCommand`…
 *
 * @example
 * ```ts
 * const command: PresignableCommand = new GetObjectCommand({ Bucket: "b", Key: "k" });
 * ```
 */
export interface PresignableCommand {
  readonly input: object;
  readonly resolveMiddleware: unknown;
}

type SignedUrlClient = Parameters<typeof getSignedUrl>[0];
type SignedUrlCommand = Parameters<typeof getSignedUrl>[1];

/**
 * Options of `session.presign()` and {@link presignWithCredentials}.
 *
 * @example
 * ```ts
 * const options: PresignOptions = { expiresIn: 3600, strict: true };
 * ```
 */
export interface PresignOptions extends Omit<RequestPresigningArguments, "expiresIn" | "signingDate"> {
  /** Seconds the URL should work, 1..604800. Default 900. */
  expiresIn?: number;
  /**
   * When the signing credential expires before `expiresIn` runs out (even after a refresh): `false` (default) caps the
   * URL's lifetime at the credential's expiry; `true` throws `RefreshSessionError` `PRESIGN_LIFETIME` instead.
   */
  strict?: boolean;
}

/**
 * What `session.presign()` resolves to.
 *
 * @example
 * ```ts
 * const { url, expiresAt, capped }: PresignedUrl = await session.presign(s3, command, { expiresIn: 3600 });
 * ```
 */
export interface PresignedUrl {
  url: string;
  /** When the URL really stops working: the earlier of its X-Amz-Date + X-Amz-Expires and its credential's expiry. */
  expiresAt: Date;
  /** The X-Amz-Expires the URL carries (less than asked when capped). */
  expiresIn: number;
  /** Whether the lifetime was cut to the credential's expiry. */
  capped: boolean;
  /** Expiry of the credential that signed the URL; undefined for long-term keys. */
  credentialExpiration: Date | undefined;
}

/**
 * When a presigned URL stops working by its own terms, read back from the URL: X-Amz-Date + X-Amz-Expires (SigV4) or
 * Expires (SigV2). It may stop earlier if the credential that signed it expires first (see `session.presign()`).
 *
 * @example
 * ```ts
 * presignedUrlExpiry("https://b.s3.amazonaws.com/k?X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&…");
 * // 2026-01-01T00:15:00.000Z
 * ```
 */
export function presignedUrlExpiry(url: string | URL): Date {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : url;
  } catch {
    throw new TypeError("`url` must be an absolute URL");
  }
  if (!(parsed instanceof URL)) throw new TypeError("`url` must be a string or a URL");
  const q = parsed.searchParams;
  const amzDate = q.get("X-Amz-Date");
  const amzExpires = q.get("X-Amz-Expires");
  if (amzDate !== null && amzExpires !== null) {
    const signedAt = parseAmzDate(amzDate);
    const seconds = Number(amzExpires);
    if (Number.isNaN(signedAt) || !Number.isInteger(seconds) || seconds < 0) {
      throw new TypeError(`\`url\` has a malformed X-Amz-Date (${amzDate}) or X-Amz-Expires (${amzExpires})`);
    }
    return new Date(signedAt + seconds * 1000);
  }
  const v2 = q.get("Expires");
  if (v2 !== null && /^\d+$/.test(v2)) return new Date(Number(v2) * 1000);
  throw new TypeError(
    "`url` is not a presigned URL: it has neither X-Amz-Date and X-Amz-Expires (SigV4) nor Expires (SigV2)",
  );
}

function validateExpiresIn(expiresIn: unknown): number {
  if (expiresIn === undefined) return DEFAULT_PRESIGN_EXPIRES_SECONDS;
  if (typeof expiresIn !== "number" || !Number.isInteger(expiresIn) || expiresIn < 1) {
    throw new RangeError(`\`expiresIn\` must be a whole number of seconds >= 1, got ${String(expiresIn)}`);
  }
  if (expiresIn > MAX_PRESIGN_EXPIRES_SECONDS) {
    throw new RangeError(
      `\`expiresIn\` must be at most ${MAX_PRESIGN_EXPIRES_SECONDS} (7 days, SigV4's limit for presigned URLs), ` +
        `got ${expiresIn}`,
    );
  }
  return expiresIn;
}

/** Whether a new credential would outlive the current one by a useful margin. */
function refreshWouldHelp(credentials: RefreshableCredentials, expiresAt: number, now: number): boolean {
  const last = credentials.metrics().lastRefreshAt?.getTime();
  if (last === undefined || expiresAt <= last) return true;
  return expiresAt - now < FRESH_SHARE * (expiresAt - last);
}

/**
 * Presigns `command` with `@aws-sdk/s3-request-presigner`, guarding the URL's lifetime against its credential's: see
 * `session.presign()`, which calls this with the session's engine and clock.
 *
 * @example
 * ```ts
 * const { url, expiresAt } = await presignWithCredentials(s3, new GetObjectCommand({ Bucket, Key }), {
 *   credentials, // the refreshable() engine s3 signs with
 *   expiresIn: 3600,
 * });
 * ```
 */
export async function presignWithCredentials(
  client: PresignableClient,
  command: PresignableCommand,
  options: PresignOptions & { credentials: RefreshableCredentials; clock?: Clock; logger?: Logger },
): Promise<PresignedUrl> {
  if (options === null || typeof options !== "object") throw new TypeError("`options` must be an object");
  const { credentials, clock = Date, logger, strict = false, expiresIn: asked, ...presignOptions } = options;
  const expiresIn = validateExpiresIn(asked);
  if (typeof strict !== "boolean") throw new TypeError("`strict` must be a boolean");
  if (!client || typeof client !== "object" || !("config" in client) || !("middlewareStack" in client)) {
    throw new TypeError("`client` must be an SDK v3 S3 client");
  }
  if (!command || typeof command !== "object" || !("input" in command)) {
    throw new TypeError("`command` must be an SDK v3 command such as GetObjectCommand");
  }
  const source = credentials.sourceName;

  let identity: AwsCredentialIdentity = await credentials();
  let exp = identity.expiration?.getTime();
  const askedAt = clock.now();
  if (exp !== undefined && exp < askedAt + expiresIn * 1000 && refreshWouldHelp(credentials, exp, askedAt)) {
    try {
      identity = await credentials.refresh();
      exp = identity.expiration?.getTime();
    } catch (err) {
      // The current credential still works: sign with it and cap, as if the refresh had not been tried.
      logger?.warn(`aws-refresh-session: refresh before presigning failed (${errorMessage(err)}); using the current`);
      if (exp !== undefined && exp <= clock.now()) throw err;
    }
  }

  const signAt = clock.now();
  // X-Amz-Date carries whole seconds: the URL's lifetime counts from the start of the signing second.
  const signSecond = Math.floor(signAt / 1000) * 1000;
  let effective = expiresIn;
  if (exp !== undefined && exp < signSecond + expiresIn * 1000) {
    const left = Math.floor((exp - signSecond) / 1000);
    const askedEnd = new Date(signSecond + expiresIn * 1000);
    if (strict || left < 1) {
      throw new RefreshSessionError(
        "PRESIGN_LIFETIME",
        `A presigned URL was asked to work for ${formatDuration(expiresIn * 1000)} (until ${askedEnd.toISOString()}), ` +
          `but the credential from "${source}" that would sign it expires at ${describeTime(new Date(exp), signAt)}, ` +
          "and a presigned URL stops working when its credential expires. Ask for a shorter `expiresIn`, use a longer " +
          "role session (DurationSeconds), or sign with long-term IAM user keys (up to 7 days)" +
          (strict ? "; or drop `strict` to get a URL capped at the credential's expiry." : "."),
        { source, expiration: new Date(exp) },
      );
    }
    effective = left;
  }

  const pinned = identity;
  // getSignedUrl reads only `config` and `middlewareStack`: sign with the credential checked above, not whatever the
  // provider returns a moment later, so `expiresAt` is exact.
  const pinnedClient = {
    config: { ...client.config, credentials: async () => pinned },
    middlewareStack: client.middlewareStack,
  } as unknown as SignedUrlClient;
  const url = await getSignedUrl(pinnedClient, command as unknown as SignedUrlCommand, {
    ...presignOptions,
    expiresIn: effective,
    signingDate: new Date(signAt),
  });
  const urlExpiry = presignedUrlExpiry(url).getTime();
  return {
    url,
    expiresAt: new Date(exp === undefined ? urlExpiry : Math.min(urlExpiry, exp)),
    expiresIn: effective,
    capped: effective < expiresIn,
    credentialExpiration: exp === undefined ? undefined : new Date(exp),
  };
}
