/**
 * Where `credential-process` caches a source's credential, and how a cached one is read: shared by the command
 * (./credential-process.ts) and its quick cache-hit path (./credentialProcessQuick.ts), so both look in one place.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import type { LoadedAwsConfig } from "../config/awsConfig.js";
import { isSharedFile } from "../util/secretFile.js";
import { sourceFingerprint, sourceName, type SourceInput } from "./sourceInput.js";

/**
 * A cached credential is handed out only while it has more than this left: more than botocore's 15-minute refresh
 * window (the AWS CLI, boto3) and the SDK for JavaScript's 5 minutes, so a caller is not handed a credential it would
 * at once consider due for refresh and ask again.
 */
export const DEFAULT_CREDENTIAL_PROCESS_MIN_TTL_MS = 20 * 60_000;
/** Lists the profiles an `aws-refresh credential-process` up the process tree is resolving, to catch loops. */
export const CREDENTIAL_PROCESS_ENV = "AWS_REFRESH_CREDENTIAL_PROCESS";

/** The `credential_process` output format (Version 1). */
export interface ProcessCredentials {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken?: string;
  Expiration?: string;
}

/** A cached credential with more than `minTtlMs` left, else undefined (missing, unreadable, shared or too old). */
export async function readCache(path: string, minTtlMs: number): Promise<ProcessCredentials | undefined> {
  try {
    // A cache file others can read is not trusted (nor served): it is rewritten 0600.
    if (await isSharedFile(path)) return undefined;
    const c = JSON.parse(await readFile(path, "utf8")) as Partial<ProcessCredentials>;
    const exp = c.Expiration ? Date.parse(c.Expiration) : NaN;
    if (c.Version !== 1 || !c.AccessKeyId || !c.SecretAccessKey || !Number.isFinite(exp)) return undefined;
    return exp - Date.now() > minTtlMs ? (c as ProcessCredentials) : undefined;
  } catch {
    return undefined;
  }
}

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64);

/**
 * The cache file of a source: named after it, keyed on the digest of what decides its credential (the flags and the
 * profile chain's sections), computed from the config files alone.
 */
export function cacheFilePath(
  source: SourceInput,
  env: NodeJS.ProcessEnv,
  config: LoadedAwsConfig,
  cacheDir: string | undefined,
): string {
  const fingerprint = sourceFingerprint(source, env, config);
  const dir = resolvePath(cacheDir ?? join(env.HOME || homedir(), ".aws", "aws-refresh", "cache"));
  return join(dir, `${safeName(sourceName(source, env, config))}-${fingerprint.slice(0, 16)}.json`);
}
