import { stat } from "node:fs/promises";
import { loadSharedConfigFiles, readFile as readSharedFile } from "@smithy/shared-ini-file-loader";
import { RefreshSessionError } from "../errors.js";
import { checkIniText } from "./iniCheck.js";
import { resolveConfigPaths, type AwsConfigInit, type AwsConfigPaths } from "./configPaths.js";
import { loadedAwsConfig } from "./configSections.js";

export { homeDirectory, resolveConfigPaths, type AwsConfigInit, type AwsConfigPaths } from "./configPaths.js";

/** One profile's (or sso-session's) keys as the AWS config files hold them. */
export type ProfileSection = Readonly<Record<string, string | undefined>>;

/**
 * The AWS config and credentials files, read and parsed once (by the SDK's own loader,
 * `@smithy/shared-ini-file-loader`) and checked as the AWS CLI checks them. Hand it to everything that needs a
 * profile, so a command or a session reads the files once.
 */
export interface LoadedAwsConfig {
  paths: AwsConfigPaths;
  /** Which files exist. */
  exists: { config: boolean; credentials: boolean };
  /** Every profile, as the AWS CLI and the SDKs merge them: the config file's keys, overridden key by key by the credentials file's. */
  profiles: ReadonlyMap<string, ProfileSection>;
  /** The config file's profile sections alone (`[default]`, `[profile NAME]`). */
  configProfiles: ReadonlyMap<string, ProfileSection>;
  /** The credentials file's sections alone. */
  credentialsProfiles: ReadonlyMap<string, ProfileSection>;
  /** The config file's `[sso-session NAME]` sections. */
  ssoSessions: ReadonlyMap<string, ProfileSection>;
  /** The environment the paths (and `AWS_PROFILE`) were resolved from. */
  env: NodeJS.ProcessEnv;
  /** The files' text as read (undefined for a missing file), for what must copy them rather than read them again. */
  text: { config: string | undefined; credentials: string | undefined };
}

function invalid(message: string): RefreshSessionError {
  return new RefreshSessionError("CONFIG_INVALID", message);
}

/**
 * Reads one file's text once, through the SDK loader's own reader. The read starts at once, before anything is
 * awaited: the loader keeps its promise, so the parse below, and any SDK client resolving its settings from the
 * profile after this call, reuse this read instead of making their own.
 */
function readOnce(path: string, what: string, envVar: string): Promise<string | undefined> {
  const reading = readSharedFile(path, { ignoreCache: true });
  reading.catch(() => {}); // its failure is looked at below, or superseded by the stat's
  return (async () => {
    try {
      const info = await stat(path);
      if (info.isDirectory()) {
        throw invalid(`The AWS ${what} file ${path} is a directory, not a file. Point ${envVar} at the file itself.`);
      }
    } catch (err) {
      if (err instanceof RefreshSessionError) throw err;
      if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") {
        return undefined;
      }
      throw invalid(
        `The AWS ${what} file ${path} cannot be examined (${(err as NodeJS.ErrnoException).code ?? "error"}).`,
      );
    }
    try {
      return await reading;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined; // removed between the two looks
      throw invalid(
        `The AWS ${what} file ${path} cannot be read (${code === "EACCES" ? "permission denied" : (code ?? "error")}). ` +
          "Check its owner and mode (it should be yours, mode 0600).",
      );
    }
  })();
}

/** The AWS config files being read: started by {@link startAwsConfigRead}, parsed by {@link parseAwsConfig}. */
export interface AwsConfigRead {
  paths: AwsConfigPaths;
  env: NodeJS.ProcessEnv;
  texts: Promise<[string | undefined, string | undefined]>;
}

/**
 * Starts reading the AWS config and credentials files now (one read each, kept in the SDK loader's cache for the SDK
 * clients that ask after it), to be checked and parsed later by {@link parseAwsConfig}. A session starts the read at
 * construction, so that its clients, which resolve their region from the profile before asking for credentials, do
 * not read the files first.
 */
export function startAwsConfigRead(init: AwsConfigInit = {}): AwsConfigRead {
  const env = init.env ?? process.env;
  const paths = resolveConfigPaths({ ...init, env });
  const texts = Promise.all([
    readOnce(paths.config, "config", "AWS_CONFIG_FILE"),
    readOnce(paths.credentials, "credentials", "AWS_SHARED_CREDENTIALS_FILE"),
  ]);
  texts.catch(() => {}); // reported by parseAwsConfig
  return { paths, env, texts };
}

/**
 * Reads the AWS config and credentials files once and parses them with the SDK's loader, refusing what the AWS CLI
 * refuses (a section given twice in one file, a key given twice in one section, text outside any section, a line
 * that is neither a section, a `key = value` nor a comment), so that what this library accepts, boto3 and the AWS CLI
 * in a child process accept too. A missing file is empty; a directory or an unreadable file is a `CONFIG_INVALID`
 * error naming it. Errors name the file and the line, never a value (the credentials file holds secrets).
 *
 * @example
 * ```ts
 * const config = await loadAwsConfig();
 * console.log([...config.profiles.keys()]);
 * ```
 */
export async function loadAwsConfig(init: AwsConfigInit = {}): Promise<LoadedAwsConfig> {
  return parseAwsConfig(startAwsConfigRead(init));
}

/** Checks and parses the files {@link startAwsConfigRead} read; rejects as {@link loadAwsConfig} does. */
export async function parseAwsConfig(read: AwsConfigRead): Promise<LoadedAwsConfig> {
  const { paths, env } = read;
  const [configText, credentialsText] = await read.texts;
  const configHeaders = configText === undefined ? [] : checkIniText(configText, paths.config);
  const credentialsHeaders = credentialsText === undefined ? [] : checkIniText(credentialsText, paths.credentials);
  // The loader's reader keeps the promise of each read; this parse reuses them instead of reading the files again.
  const { configFile, credentialsFile } = await loadSharedConfigFiles({
    configFilepath: paths.config,
    filepath: paths.credentials,
  });
  return loadedAwsConfig({
    paths,
    env,
    texts: { config: configText, credentials: credentialsText },
    headers: { config: configHeaders, credentials: credentialsHeaders },
    parsed: { config: configFile, credentials: credentialsFile },
  });
}
