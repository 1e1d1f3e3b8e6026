/**
 * The `aws login` token cache, as the AWS CLI v2, botocore and the SDK for JavaScript share it:
 * `<AWS_LOGIN_CACHE_DIRECTORY or ~/.aws/login/cache>/<sha256 hex of login_session>.json`. Read with both time formats
 * (the AWS CLI writes `expiresAt` without milliseconds, the SDK with them); rewritten atomically (0600, a temporary
 * file renamed over it) under a cross-process lock, so the refresh token, which rotates on every refresh, is never
 * lost to a torn write or used twice.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { getHomeDir } from "@smithy/shared-ini-file-loader";
import { RefreshSessionError } from "../errors.js";
import { parseIsoTime } from "../util/awsDate.js";
import { isSharedMode, writeSecretFile } from "../util/secretFile.js";

/** A token file of the `aws login` cache. Every other field a tool wrote is kept when this library rewrites it. */
export interface LoginTokenFile {
  accessToken: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken: string;
    accountId?: string;
    /** `2025-01-01T00:00:00Z` (AWS CLI, botocore) or `2025-01-01T00:00:00.000Z` (SDK for JavaScript). */
    expiresAt: string;
    [field: string]: unknown;
  };
  tokenType?: string;
  clientId: string;
  refreshToken: string;
  idToken?: string;
  /** The P-256 private key the refresh token is bound to (DPoP), PEM. */
  dpopKey: string;
  /** Region of the sign-in service that issued the session, when a tool recorded it. */
  signInRegion?: string;
  [field: string]: unknown;
}

/** A token file as read: its content, its time of writing and facts derived from it (no secret). */
export interface LoginCacheRead {
  token: LoginTokenFile;
  /** Epoch ms of `accessToken.expiresAt`. */
  expiresAt: number;
  mtimeMs: number;
  /** Whether others than the owner may read it. */
  shared: boolean;
  /** One-way fingerprint of the DPoP key: the same for every refresh of one login, new for each `aws login`. */
  loginId: string;
  /** One-way fingerprint of the refresh token. */
  refreshId: string;
  /** The login time from the cached `idToken` (`iat`), when it has one. */
  loginAt: number | undefined;
}

/** What a message about the cache names: the profile and the command that fixes it. */
export interface LoginCacheContext {
  profile: string | undefined;
  loginSession: string;
  /** e.g. `aws login --profile console`. */
  fix: string;
}

/**
 * The cache directory: `AWS_LOGIN_CACHE_DIRECTORY` (with `~` expanded) when set, else `~/.aws/login/cache`.
 *
 * @example
 * ```ts
 * loginCacheDir(process.env); // "/home/me/.aws/login/cache"
 * ```
 */
export function loginCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.AWS_LOGIN_CACHE_DIRECTORY;
  if (dir !== undefined && dir !== "") return dir.replace(/^~(?=$|[/\\])/, getHomeDir());
  return join(getHomeDir(), ".aws", "login", "cache");
}

/**
 * The token file of a `login_session`, as botocore's `generate_login_cache_key` names it: SHA-256 hex of the value.
 *
 * @example
 * ```ts
 * loginCachePath("arn:aws:sts::123456789012:assumed-role/Admin/me", "/home/me/.aws/login/cache");
 * ```
 */
export function loginCachePath(loginSession: string, dir: string): string {
  return join(dir, `${createHash("sha256").update(loginSession, "utf8").digest("hex")}.json`);
}

/** Short, one-way fingerprint of a secret: safe to keep and compare. */
export function loginFingerprint(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex").slice(0, 16);
}

function invalid(file: string, ctx: LoginCacheContext, problem: string): RefreshSessionError {
  return new RefreshSessionError(
    "LOGIN_CACHE_INVALID",
    `The \`aws login\` cache file ${file} (login_session ${ctx.loginSession}${ctx.profile ? ` of profile "${ctx.profile}"` : ""}) ${problem}. ` +
      `It was left as it is. Run \`${ctx.fix}\` to write a new one.`,
    { ...(ctx.profile ? { profile: ctx.profile } : {}) },
  );
}

const isText = (v: unknown): v is string => typeof v === "string" && v !== "";

/** The `iat` of a JWT's payload in epoch ms, when it has one; never throws. */
function jwtIssuedAt(jwt: unknown): number | undefined {
  if (typeof jwt !== "string") return undefined;
  const part = jwt.split(".")[1];
  if (part === undefined) return undefined;
  try {
    const iat = (JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as { iat?: unknown }).iat;
    return typeof iat === "number" && Number.isFinite(iat) ? iat * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads and checks a token file. No file: `LOGIN_REQUIRED`. Corrupt, truncated or missing a field:
 * `LOGIN_CACHE_INVALID`, naming the file and the fix, never its content; the file itself is left untouched.
 */
export async function readLoginCache(file: string, ctx: LoginCacheContext): Promise<LoginCacheRead> {
  let text: string;
  let info;
  try {
    [text, info] = await Promise.all([readFile(file, "utf8"), stat(file)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new RefreshSessionError(
        "LOGIN_REQUIRED",
        `No \`aws login\` session is cached for login_session ${ctx.loginSession}${ctx.profile ? ` (profile "${ctx.profile}")` : ""}: ` +
          `${file} does not exist. Run \`${ctx.fix}\` (the AWS CLI 2.32 or later), or set AWS_LOGIN_CACHE_DIRECTORY ` +
          "to where it writes its cache.",
        { ...(ctx.profile ? { profile: ctx.profile } : {}), cause: err },
      );
    }
    throw invalid(file, ctx, `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(
      file,
      ctx,
      text.trim() === "" ? "is empty" : `is not valid JSON (${text.length} bytes; truncated or corrupt)`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid(file, ctx, "does not hold a JSON object");
  }
  const t = value as Partial<LoginTokenFile>;
  const a = t.accessToken as Partial<LoginTokenFile["accessToken"]> | undefined;
  const missing: string[] = [];
  if (a === null || typeof a !== "object") missing.push("accessToken");
  else {
    for (const k of ["accessKeyId", "secretAccessKey", "sessionToken"] as const) {
      if (!isText(a[k])) missing.push(`accessToken.${k}`);
    }
  }
  for (const k of ["clientId", "refreshToken", "dpopKey"] as const) if (!isText(t[k])) missing.push(k);
  if (missing.length > 0) throw invalid(file, ctx, `has no ${missing.map((k) => `\`${k}\``).join(", ")}`);
  const expiresAt = parseIsoTime(a?.expiresAt);
  if (expiresAt === undefined) throw invalid(file, ctx, "has no valid `accessToken.expiresAt`");
  const token = t as LoginTokenFile;
  return {
    token,
    expiresAt,
    mtimeMs: info.mtimeMs,
    shared: isSharedMode(info.mode),
    loginId: loginFingerprint(token.dpopKey),
    refreshId: loginFingerprint(token.refreshToken),
    loginAt: jwtIssuedAt(token.idToken),
  };
}

/** Rewrites a token file atomically with mode 0600 (call it holding the cache lock). */
export async function writeLoginCache(file: string, token: LoginTokenFile): Promise<void> {
  await writeSecretFile(file, `${JSON.stringify(token, null, 2)}\n`);
}
