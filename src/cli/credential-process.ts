import type { AwsCredentialIdentity } from "@smithy/types";
import { errorMessage } from "../errors.js";
import { writeSecretFile } from "../util/secretFile.js";
import { runParsed, type CliCommand } from "./runner.js";
import { parseDuration } from "../util/duration.js";
import { loadAwsConfig } from "../config/awsConfig.js";
import type { ResolvedSource } from "./profile.js";
import { oneShotInput, type SourceInput } from "./sourceInput.js";
import {
  cacheFilePath,
  CREDENTIAL_PROCESS_ENV,
  DEFAULT_CREDENTIAL_PROCESS_MIN_TTL_MS,
  readCache,
  type ProcessCredentials,
} from "./credentialCache.js";

export { CREDENTIAL_PROCESS_ENV, DEFAULT_CREDENTIAL_PROCESS_MIN_TTL_MS, type ProcessCredentials };
import { sourceInputFrom, type SourceFlags } from "./sourceOptions.js";

/** Input of {@link runCredentialProcess}. */
export interface CredentialProcessInput {
  source: SourceInput;
  /** Default `~/.aws/aws-refresh/cache`. */
  cacheDir?: string;
  /** Reuse a cached credential only while it has more than this left (ms). Default 20 min. */
  minTtlMs?: number;
  /** `false`: never read or write the cache. Default true. */
  cache?: boolean;
}

/** What the command needs from its surroundings. */
export interface CredentialProcessDeps {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

function toProcessCredentials(c: AwsCredentialIdentity): ProcessCredentials {
  return {
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    ...(c.sessionToken ? { SessionToken: c.sessionToken } : {}),
    ...(c.expiration ? { Expiration: c.expiration.toISOString() } : {}),
  };
}

/**
 * Prints a credential in the `credential_process` format, for `credential_process = aws-refresh credential-process
 * --profile X` in an AWS config profile. Temporary credentials are cached on disk per source (mode 0600, written
 * atomically, one fetch at a time across processes) and reused while they have more than `minTtlMs` left, so repeated
 * invocations do not call STS each time. Long-term keys are never copied to the cache.
 *
 * @example
 * ```ts
 * const code = await runCredentialProcess({ source: { profile: "ml-role" } }, { env: process.env, stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export async function runCredentialProcess(
  input: CredentialProcessInput,
  deps: CredentialProcessDeps,
): Promise<number> {
  const say = (line: string): void => void deps.stderr.write(`aws-refresh credential-process: ${line}\n`);
  const minTtlMs = input.minTtlMs ?? DEFAULT_CREDENTIAL_PROCESS_MIN_TTL_MS;
  if (!(Number.isFinite(minTtlMs) && minTtlMs >= 0)) {
    say("`--min-ttl` must be a duration >= 0");
    return 2;
  }
  const cert = input.source.certificate;
  const key =
    input.source.profile ??
    input.source.roleArn ??
    (cert ? (cert.method === "iot" ? `iot:${cert.roleAlias}` : `roles-anywhere:${cert.roleArn}`) : "default");
  const upstream = (deps.env[CREDENTIAL_PROCESS_ENV] ?? "").split("\n").filter(Boolean);
  if (upstream.includes(key)) {
    say(
      `loop: the credentials of ${key} come from \`aws-refresh credential-process\` for ${key} itself ` +
        `(${[...upstream, key].join(" → ")}). Point credential_process at another profile, one that holds the role ` +
        "or login, e.g. `credential_process = aws-refresh credential-process --profile ml-base`.",
    );
    return 1;
  }
  // Providers below (a nested credential_process) inherit this, so a loop through other profiles is caught too.
  deps.env[CREDENTIAL_PROCESS_ENV] = [...upstream, key].join("\n");
  let resolved: ResolvedSource | undefined;
  try {
    const config = await loadAwsConfig({ env: deps.env });
    const fetch = async (): Promise<ProcessCredentials> => {
      // Failures are reported once, as the command's error: no engine logger.
      // Only a cache miss sets a source up, and loads the SDK with it.
      const { resolveSource } = await import("./profile.js");
      resolved = await resolveSource(oneShotInput(input.source), { env: deps.env, config });
      return toProcessCredentials(await resolved.session.credentials());
    };
    let out: ProcessCredentials;
    if (input.cache === false) {
      out = await fetch();
    } else {
      // The cache key comes from the config files alone: a hit answers without setting up any source.
      const path = cacheFilePath(input.source, deps.env, config, input.cacheDir);
      const cached = await readCache(path, minTtlMs);
      if (cached) {
        out = cached;
      } else {
        // The lock (proper-lockfile and its dependencies) is loaded only by a miss, the one case that needs it.
        const { withCacheLock } = await import("../sso/cache.js");
        out = await withCacheLock(path, async () => {
          // Another process may have fetched while this one waited for the lock.
          const again = await readCache(path, minTtlMs);
          if (again) return again;
          const fresh = await fetch();
          if (fresh.Expiration) await writeSecretFile(path, JSON.stringify(fresh));
          return fresh;
        });
      }
    }
    deps.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  } catch (err) {
    say(errorMessage(err));
    return 1;
  } finally {
    resolved?.close();
  }
}

interface CredentialProcessFlags extends SourceFlags {
  cacheDir?: string;
  minTtl?: string;
  cache?: boolean;
}

/** `aws-refresh credential-process`'s flags to its input; throws naming a bad flag. */
export function credentialProcessInput(flags: CredentialProcessFlags): CredentialProcessInput {
  return {
    source: sourceInputFrom(flags),
    ...(flags.cacheDir !== undefined ? { cacheDir: flags.cacheDir } : {}),
    ...(flags.minTtl !== undefined ? { minTtlMs: parseDuration(flags.minTtl, "--min-ttl") } : {}),
    ...(flags.cache === false ? { cache: false } : {}),
  };
}

/** The CLI's entry point for `aws-refresh credential-process`. */
export const credentialProcessCommand: CliCommand = (flags, _args, io) =>
  runParsed(
    "credential-process",
    io,
    () => credentialProcessInput(flags as CredentialProcessFlags),
    (input) => runCredentialProcess(input, io),
  );
