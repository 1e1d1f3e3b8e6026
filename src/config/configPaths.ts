/**
 * Where the AWS config and credentials files are, by the SDK's rules. Apart from ./awsConfig.ts (which loads the
 * SDK's INI loader) so that the CLI's quick paths can find the files without loading it.
 */
import { homedir } from "node:os";
import { join } from "node:path";

/** Where the AWS config and credentials files are. */
export interface AwsConfigPaths {
  config: string;
  credentials: string;
}

/** Options of {@link loadAwsConfig} and {@link resolveConfigPaths}. */
export interface AwsConfigInit {
  /** The config file. Default: `AWS_CONFIG_FILE` when set and not empty, else `~/.aws/config`. */
  configFile?: string;
  /** The credentials file. Default: `AWS_SHARED_CREDENTIALS_FILE` when set and not empty, else `~/.aws/credentials`. */
  credentialsFile?: string;
  /** Where `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE` and `HOME` are read. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The home directory as the SDK finds it: `HOME`, `USERPROFILE`, `HOMEDRIVE` + `HOMEPATH`, else the OS's. */
export function homeDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOME) return env.HOME;
  if (env.USERPROFILE) return env.USERPROFILE;
  if (env.HOMEPATH) return `${env.HOMEDRIVE ?? "C:\\"}${env.HOMEPATH}`;
  return homedir();
}

/**
 * The paths of the AWS config and credentials files, by the SDK's rules (`@smithy/shared-ini-file-loader`): the
 * option, else the environment variable when it is set and not empty, else the file under `~/.aws`; a leading `~/`
 * is the home directory.
 *
 * @example
 * ```ts
 * resolveConfigPaths({ env: { HOME: "/home/me", AWS_CONFIG_FILE: "" } }).config; // "/home/me/.aws/config"
 * ```
 */
export function resolveConfigPaths(init: AwsConfigInit = {}): AwsConfigPaths {
  const env = init.env ?? process.env;
  const home = homeDirectory(env);
  const expand = (p: string): string => (p.startsWith("~/") ? join(home, p.slice(2)) : p);
  return {
    config: expand(init.configFile || env.AWS_CONFIG_FILE || join(home, ".aws", "config")),
    credentials: expand(init.credentialsFile || env.AWS_SHARED_CREDENTIALS_FILE || join(home, ".aws", "credentials")),
  };
}
