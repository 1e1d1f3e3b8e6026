/**
 * `aws-refresh credential-process` answering from its cache before commander, the SDK's INI loader or anything else
 * is loaded. The AWS CLI runs a profile's `credential_process` on every invocation, so a cache hit should cost about
 * what Node takes to start. Only the common shape is taken (`--profile`, `--cache-dir`, `--min-ttl`, as `--flag value`
 * or `--flag=value`); any other flag, a config the full command would refuse, a loop or a miss falls through to the
 * full command (./credential-process.ts), which then does all the work (and says what is wrong) as it always did.
 */
import { readFile, stat } from "node:fs/promises";
import { resolveConfigPaths } from "../config/configPaths.js";
import { loadedAwsConfig } from "../config/configSections.js";
import { checkIniText } from "../config/iniCheck.js";
import { configFileAsSdk, parseIniAsSdk } from "../config/sdkIni.js";
import { parseDuration } from "../util/duration.js";
import {
  cacheFilePath,
  CREDENTIAL_PROCESS_ENV,
  DEFAULT_CREDENTIAL_PROCESS_MIN_TTL_MS,
  readCache,
} from "./credentialCache.js";

const FLAGS: Record<string, "profile" | "cacheDir" | "minTtl"> = {
  "--profile": "profile",
  "--cache-dir": "cacheDir",
  "--min-ttl": "minTtl",
};

/** `credential-process`'s arguments when they are the common shape, else undefined. */
function quickFlags(args: readonly string[]): { profile?: string; cacheDir?: string; minTtl?: string } | undefined {
  const out: { profile?: string; cacheDir?: string; minTtl?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = FLAGS[flag];
    if (key === undefined || out[key] !== undefined) return undefined;
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    // A value that looks like a flag, or none: commander's business (and its error message).
    if (value === undefined || value.trim() === "" || (eq < 0 && value.startsWith("-"))) return undefined;
    out[key] = value;
  }
  return out;
}

/** A file's text, undefined when it does not exist; throws on anything the full command reports (a directory…). */
async function textOf(path: string): Promise<string | undefined> {
  try {
    if ((await stat(path)).isDirectory()) throw new Error("a directory");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") {
      return undefined;
    }
    throw err;
  }
  return readFile(path, "utf8");
}

/**
 * Answers `aws-refresh credential-process ARGS` from the cache when it can: writes the cached credential to `stdout`
 * and resolves true; resolves false (having written nothing) when the full command must run.
 *
 * @example
 * ```ts
 * if (!(await answerFromCache(process.argv.slice(3), process.env, process.stdout))) await runProgram(process.argv);
 * ```
 */
export async function answerFromCache(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  stdout: NodeJS.WritableStream,
): Promise<boolean> {
  try {
    const flags = quickFlags(args);
    if (flags === undefined) return false;
    const source = flags.profile !== undefined ? { profile: flags.profile } : {};
    const key = source.profile ?? "default";
    if ((env[CREDENTIAL_PROCESS_ENV] ?? "").split("\n").includes(key)) return false; // a loop: the command says so
    const minTtlMs =
      flags.minTtl !== undefined ? parseDuration(flags.minTtl, "--min-ttl") : DEFAULT_CREDENTIAL_PROCESS_MIN_TTL_MS;
    if (!(Number.isFinite(minTtlMs) && minTtlMs >= 0)) return false;
    const paths = resolveConfigPaths({ env });
    const [config, credentials] = await Promise.all([textOf(paths.config), textOf(paths.credentials)]);
    // What the full command refuses is not answered here, even from a cache.
    const headers = {
      config: config === undefined ? [] : checkIniText(config, paths.config),
      credentials: credentials === undefined ? [] : checkIniText(credentials, paths.credentials),
    };
    const parsed = {
      config: config === undefined ? {} : configFileAsSdk(parseIniAsSdk(config)),
      credentials: credentials === undefined ? {} : parseIniAsSdk(credentials),
    };
    const loaded = loadedAwsConfig({ paths, env, texts: { config, credentials }, headers, parsed });
    const cached = await readCache(cacheFilePath(source, env, loaded, flags.cacheDir), minTtlMs);
    if (cached === undefined) return false;
    stdout.write(`${JSON.stringify(cached)}\n`);
    return true;
  } catch {
    return false;
  }
}
