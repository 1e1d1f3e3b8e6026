import { createHash } from "node:crypto";
import { open, readFile, readdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { getHomeDir } from "@smithy/shared-ini-file-loader";
import type { Logger } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";
import { formatIsoSeconds, parseIsoTime } from "../util/awsDate.js";
import { DEFAULT_LOCK_STALE_MS, withLock } from "../util/lock.js";
import { ensurePrivateDir, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, writeSecretFile } from "../util/secretFile.js";

export { tryLock } from "../util/lock.js";

/** Mode of every file this library writes to the SSO cache: owner read/write only. */
export const SSO_CACHE_FILE_MODE = PRIVATE_FILE_MODE;
/** Mode of the SSO cache directory when this library creates it (and tightens it to). */
export const SSO_CACHE_DIR_MODE = PRIVATE_DIR_MODE;
/** A cache lock whose holder stopped touching it for this long is taken over (the holder died or hung). */
export const DEFAULT_SSO_LOCK_STALE_MS = DEFAULT_LOCK_STALE_MS;
/** How long a process waits for another one's cache lock before giving up on this refresh (it retries later). */
export const DEFAULT_SSO_LOCK_WAIT_MS = 30_000;

/**
 * A token file of `~/.aws/sso/cache`, as the AWS CLI v2, botocore and the SDKs write it. Every other field a tool
 * wrote is kept when this library rewrites the file.
 */
export interface SsoTokenFile {
  startUrl?: string;
  region?: string;
  accessToken: string;
  /** `2024-01-01T00:00:00Z` (botocore, AWS CLI v2) or `2024-01-01T00:00:00.000Z` (SDK for JavaScript). */
  expiresAt: string;
  clientId?: string;
  clientSecret?: string;
  registrationExpiresAt?: string;
  refreshToken?: string;
  [field: string]: unknown;
}

/** A client registration file (`RegisterClient`'s answer), as the AWS CLI v2 caches it. */
export interface SsoRegistrationFile {
  clientId: string;
  clientSecret: string;
  /** When the client secret expires, `YYYY-MM-DDTHH:MM:SSZ`. */
  expiresAt: string;
  scopes?: string[];
  [field: string]: unknown;
}

/** What this library remembers about an SSO session beside its token file. Holds no secret. */
export interface SsoSessionMeta {
  version: 1;
  startUrl?: string | undefined;
  sessionName?: string | undefined;
  /** When a login this library performed completed. */
  loginAt?: string | undefined;
  /** SHA-256 (first 16 hex digits) of the last access token this library wrote: ties `loginAt` to the token. */
  tokenFingerprint?: string | undefined;
  /** A session duration learned from a refused refresh (seconds, a lower bound). */
  learnedDurationSeconds?: number | undefined;
  learnedAt?: string | undefined;
  /** When a refresh was refused because the session had ended. */
  endedAt?: string | undefined;
  /** Last successful CreateToken (refresh_token grant) by this library. */
  lastRefreshAt?: string | undefined;
  /** When this library first saw a token whose login it did not record. */
  firstSeenAt?: string | undefined;
}

/**
 * `~/.aws/sso/cache` under the HOME the SDK resolves (HOME, USERPROFILE…).
 *
 * @example
 * ```ts
 * defaultSsoCacheDir(); // "/home/me/.aws/sso/cache"
 * ```
 */
export function defaultSsoCacheDir(): string {
  return join(getHomeDir(), ".aws", "sso", "cache");
}

function sha1(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/** Short, one-way fingerprint of a secret: safe to store and compare, useless to sign with. */
export function fingerprint(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex").slice(0, 16);
}

/**
 * The token file's name, as botocore's SSOTokenLoader computes it: SHA-1 of the sso-session name, else the start URL.
 *
 * @example
 * ```ts
 * join(defaultSsoCacheDir(), `${tokenCacheKey("https://my-org.awsapps.com/start", "corp")}.json`);
 * ```
 */
export function tokenCacheKey(startUrl: string, sessionName?: string): string {
  return sha1(sessionName ?? startUrl);
}

/** A string as Python's `json.dumps` writes it (ASCII only, `\uXXXX` escapes). */
function pyString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * The client registration file's name, as the AWS CLI v2 computes it: SHA-1 of
 * `json.dumps({"region", "scopes", "session_name", "startUrl", "tool": "botocore"}, sort_keys=True)`, so the
 * registration `aws sso login` cached is reused and ours is reused by it.
 *
 * @example
 * ```ts
 * registrationCacheKey({ startUrl: "https://my-org.awsapps.com/start", region: "us-east-1", scopes: ["sso:account:access"], sessionName: "corp" });
 * ```
 */
export function registrationCacheKey(args: {
  startUrl: string;
  region: string;
  scopes: string[] | undefined;
  sessionName: string | undefined;
}): string {
  const scopes = args.scopes === undefined ? "null" : `[${args.scopes.map(pyString).join(", ")}]`;
  const session = args.sessionName === undefined ? "null" : pyString(args.sessionName);
  return sha1(
    `{"region": ${pyString(args.region)}, "scopes": ${scopes}, "session_name": ${session}, ` +
      `"startUrl": ${pyString(args.startUrl)}, "tool": "botocore"}`,
  );
}

/** A time as botocore writes it in the SSO cache: `2024-01-01T00:00:00Z` (whole seconds, UTC). */
export const formatCacheTime = formatIsoSeconds;

/** Parses a cache timestamp; undefined if it is not a time. */
export const parseCacheTime = parseIsoTime;

/** What {@link readJsonFile} found. */
export interface JsonFileRead {
  value: Record<string, unknown>;
  mtimeMs: number;
  mode: number;
}

/** Context for cache error messages. */
export interface CacheErrorContext {
  profile?: string | undefined;
  source?: string | undefined;
  /** What to run to fix it, e.g. `aws-refresh login --profile dev`. */
  fix: string;
}

/**
 * Reads a JSON object file; undefined when it does not exist. A file that is not a JSON object raises
 * `SSO_CACHE_INVALID` naming the file (never its content: it may hold a token).
 */
export async function readJsonFile(path: string, ctx: CacheErrorContext): Promise<JsonFileRead | undefined> {
  let text: string;
  let info: { mtimeMs: number; mode: number };
  try {
    // Content and times from one open file: a rename by another writer between two path lookups would pair this
    // file's text with the next file's mtime.
    const fh = await open(path, "r");
    try {
      [text, info] = await Promise.all([fh.readFile("utf8"), fh.stat()]);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new RefreshSessionError(
      "SSO_CACHE_INVALID",
      `Could not read the SSO cache file ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}. ` +
        `Check its owner and permissions (it should be yours, mode 0600), or delete it and run \`${ctx.fix}\`.`,
      { profile: ctx.profile, source: ctx.source, cause: err },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message quotes the text, which may hold a token: say only where the file is.
    throw new RefreshSessionError(
      "SSO_CACHE_INVALID",
      `The SSO cache file ${path} is not valid JSON${text.trim() === "" ? " (it is empty)" : ""}. ` +
        `Delete it and run \`${ctx.fix}\`.`,
      { profile: ctx.profile, source: ctx.source },
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new RefreshSessionError(
      "SSO_CACHE_INVALID",
      `The SSO cache file ${path} does not hold a JSON object. Delete it and run \`${ctx.fix}\`.`,
      { profile: ctx.profile, source: ctx.source },
    );
  }
  return { value: value as Record<string, unknown>, mtimeMs: info.mtimeMs, mode: info.mode & 0o777 };
}

/** Checks a token file's fields; raises `SSO_CACHE_INVALID` naming the file and the field. */
export function checkTokenFile(value: Record<string, unknown>, path: string, ctx: CacheErrorContext): SsoTokenFile {
  const bad = (what: string): RefreshSessionError =>
    new RefreshSessionError(
      "SSO_CACHE_INVALID",
      `The SSO token cache file ${path} ${what}. Run \`${ctx.fix}\` to replace it.`,
      { profile: ctx.profile, source: ctx.source },
    );
  if (typeof value.accessToken !== "string" || value.accessToken === "") {
    throw bad("has no `accessToken` (a non-empty string is required)");
  }
  if (parseCacheTime(value.expiresAt) === undefined) {
    throw bad("has no valid `expiresAt` (an ISO 8601 time such as 2024-01-01T00:00:00Z is required)");
  }
  for (const field of ["refreshToken", "clientId", "clientSecret", "startUrl", "region"]) {
    if (value[field] !== undefined && typeof value[field] !== "string")
      throw bad(`has a \`${field}\` that is not a string`);
  }
  if (value.registrationExpiresAt !== undefined && parseCacheTime(value.registrationExpiresAt) === undefined) {
    throw bad("has a `registrationExpiresAt` that is not a time");
  }
  return value as SsoTokenFile;
}

const TEMP_FILE = /^\..+\.\d+\.[0-9a-f]{12}\.tmp$/;
/** Temporary files left by a process killed mid-write are removed once they are this old. */
const TEMP_MAX_AGE_MS = 60_000;

async function sweepTempFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const now = Date.now();
  await Promise.all(
    names
      .filter((n) => TEMP_FILE.test(n))
      .map(async (n) => {
        try {
          const info = await stat(join(dir, n));
          if (now - info.mtimeMs > TEMP_MAX_AGE_MS) await unlink(join(dir, n));
        } catch {
          /* gone already */
        }
      }),
  );
}

/**
 * Writes `value` as JSON to `path` atomically: a temporary file in the same directory (mode 0600, flushed to disk),
 * then a rename over the target. A reader sees the old file or the new one, never a part; a process killed
 * mid-write leaves at most a hidden temporary file, swept later.
 */
export async function writeJsonAtomic(path: string, value: object): Promise<void> {
  const dir = dirname(path);
  await ensurePrivateDir(dir);
  await writeSecretFile(path, JSON.stringify(value));
  void sweepTempFiles(dir);
}

/** Options of {@link withCacheLock}. */
export interface CacheLockOptions {
  staleMs?: number | undefined;
  waitMs?: number | undefined;
  logger?: Logger | undefined;
  source?: string | undefined;
}

/**
 * Runs `fn` holding the cross-process lock of one cache file (see {@link withLock}). Every process that refreshes
 * the same SSO session serialises here, so only one of them calls CreateToken. A wait past `waitMs` is a
 * `SOURCE_FAILED` error saying which lock to remove if no tool holds it.
 */
export async function withCacheLock<T>(path: string, fn: () => Promise<T>, options: CacheLockOptions = {}): Promise<T> {
  const waitMs = options.waitMs ?? DEFAULT_SSO_LOCK_WAIT_MS;
  return withLock(path, fn, {
    ...options,
    waitMs,
    onTimeout: () =>
      new RefreshSessionError(
        "SOURCE_FAILED",
        `Another process has held the lock on ${path} for more than ${Math.round(waitMs / 1000)}s; ` +
          `will try again. If no aws-refresh or AWS tool is running, remove ${path}.lock.`,
        { source: options.source },
      ),
  });
}

/** Reads the sidecar meta file; a missing or unreadable one is an empty record (it only sharpens predictions). */
export async function readMeta(path: string): Promise<SsoSessionMeta> {
  try {
    const v = JSON.parse(await readFile(path, "utf8")) as SsoSessionMeta;
    return v && typeof v === "object" && v.version === 1 ? v : { version: 1 };
  } catch {
    return { version: 1 };
  }
}

/** Path of the sidecar file this library keeps beside a token file. */
export function metaPathFor(tokenPath: string): string {
  return tokenPath.replace(/\.json$/, ".aws-refresh-session.json");
}
