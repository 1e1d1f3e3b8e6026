import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import type { Command } from "commander";
import type { AwsCredentialIdentity } from "@smithy/types";
import { errorMessage } from "../errors.js";
import { isSharedFile, writeSecretFile } from "../server/secretFile.js";
import type { RegisterCommand } from "./commands.js";
import { parseDuration } from "./duration.js";
import { withCacheLock } from "../sso/cache.js";
import { oneShotInput, resolveSource, type ResolvedSource, type SourceInput } from "./profile.js";
import { addSourceOptions, sourceInputFrom, type SourceFlags } from "./sourceOptions.js";

/**
 * A cached credential is handed out only while it has more than this left: more than botocore's 15-minute refresh
 * window (the AWS CLI, boto3) and the SDK for JavaScript's 5 minutes, so a caller is not handed a credential it would
 * at once consider due for refresh and ask again.
 */
export const DEFAULT_CREDENTIAL_PROCESS_MIN_TTL_MS = 20 * 60_000;
/** Lists the profiles an `aws-refresh credential-process` up the process tree is resolving, to catch loops. */
export const CREDENTIAL_PROCESS_ENV = "AWS_REFRESH_CREDENTIAL_PROCESS";

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

/** The `credential_process` output format (Version 1). */
export interface ProcessCredentials {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken?: string;
  Expiration?: string;
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

async function readCache(path: string, minTtlMs: number): Promise<ProcessCredentials | undefined> {
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
  const key = input.source.profile ?? input.source.roleArn ?? "default";
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
    // Failures are reported once, as the command's error: no engine logger.
    resolved = await resolveSource(oneShotInput(input.source), { env: deps.env });
    const r = resolved;
    const fetch = async (): Promise<ProcessCredentials> => toProcessCredentials(await r.session.credentials());
    let out: ProcessCredentials;
    if (input.cache === false) {
      out = await fetch();
    } else {
      const dir = resolvePath(input.cacheDir ?? join(deps.env.HOME || homedir(), ".aws", "aws-refresh", "cache"));
      const path = join(dir, `${safeName(r.name)}-${r.fingerprint.slice(0, 16)}.json`);
      const cached = await readCache(path, minTtlMs);
      if (cached) {
        out = cached;
      } else {
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

/** Registers `aws-refresh credential-process`. */
export const registerCredentialProcess: RegisterCommand = (program: Command, setExitCode) => {
  const cmd = program
    .command("credential-process")
    .summary("print credentials for credential_process in an AWS config profile")
    .description(
      "Print a credential in the credential_process format (JSON: Version 1, AccessKeyId, SecretAccessKey, " +
        "SessionToken, Expiration), for use in ~/.aws/config:\n\n" +
        "  [profile ml]\n" +
        "  credential_process = aws-refresh credential-process --profile ml-base\n\n" +
        "where ml-base is any profile the AWS CLI understands (a role, SSO, web identity…). Temporary credentials are " +
        "cached per source in --cache-dir (files mode 0600, written atomically, one fetch at a time across " +
        "processes) and reused while more than --min-ttl is left, so many short invocations (the AWS CLI, Terraform " +
        "providers, scripts) share one STS call. Long-term keys are printed, never cached. Errors go to stderr, exit 1.",
    );
  addSourceOptions(cmd, { role: true, sso: true });
  cmd
    .option("--cache-dir <dir>", "where cached credentials live (default: ~/.aws/aws-refresh/cache)")
    .option(
      "--min-ttl <duration>",
      "reuse a cached credential only while it has more than this left (default: 20m, above botocore's 15-minute refresh window)",
    )
    .option("--no-cache", "always fetch; never read or write the cache")
    .action(async (opts: CredentialProcessFlags) => {
      let input: CredentialProcessInput;
      try {
        input = {
          source: sourceInputFrom(opts),
          ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
          ...(opts.minTtl !== undefined ? { minTtlMs: parseDuration(opts.minTtl, "--min-ttl") } : {}),
          ...(opts.cache === false ? { cache: false } : {}),
        };
      } catch (err) {
        process.stderr.write(`aws-refresh credential-process: ${errorMessage(err)}\n`);
        setExitCode(2);
        return;
      }
      setExitCode(
        await runCredentialProcess(input, { env: process.env, stdout: process.stdout, stderr: process.stderr }),
      );
    });
};
