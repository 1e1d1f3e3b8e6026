import { rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { LoadedAwsConfig } from "../config/awsConfig.js";
import { writeSecretFile } from "../util/secretFile.js";

/** Keys by which a `[default]` profile gives credentials, and so comes before a credential server in every SDK's chain. */
const DEFAULT_CREDENTIAL_KEYS = new Set([
  "aws_access_key_id",
  "aws_secret_access_key",
  "aws_session_token",
  "aws_security_token",
  "role_arn",
  "source_profile",
  "credential_source",
  "web_identity_token_file",
  "role_session_name",
  "external_id",
  "mfa_serial",
  "duration_seconds",
  "credential_process",
  "sso_session",
  "sso_start_url",
  "sso_region",
  "sso_account_id",
  "sso_role_name",
  "login_session",
]);

/**
 * An AWS config or credentials file's text without the credential keys of its `[default]` section (`[default]` or
 * `[profile default]`), every other line kept as it is: what a child gets so that its SDK, finding no credentials in
 * the default profile, asks the credential server. Continuation lines of a removed key go with it.
 */
export function withoutDefaultCredentials(text: string): string {
  const out: string[] = [];
  let inDefault = false;
  let dropping = false;
  for (const line of text.split(/(?<=\n)/)) {
    const stripped = line.trim();
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]/.exec(stripped);
    if (header && !/^\s/.test(line)) {
      inDefault = header[1] === "default";
      dropping = false;
      out.push(line);
      continue;
    }
    if (inDefault) {
      if (dropping && /^\s/.test(line) && stripped !== "") continue; // a continuation of the dropped key
      dropping = false;
      const key = /^([^=:#;\s][^=:]*?)\s*[=:]/.exec(stripped)?.[1]?.toLowerCase();
      if (key !== undefined && DEFAULT_CREDENTIAL_KEYS.has(key) && !/^\s/.test(line)) {
        dropping = true;
        continue;
      }
    }
    out.push(line);
  }
  return out.join("");
}

/** Copies of the AWS config files for a child, and how to remove them. */
export interface ChildConfigFiles {
  /** Environment for the child: `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` pointing at the copies. */
  env: Record<string, string>;
  dir: string;
  remove(): Promise<void>;
}

/**
 * When `[default]` holds credentials, SDKs and the AWS CLI in a child would use them before the credential server
 * (they read the default profile first). This writes copies of the config and credentials files without the default
 * profile's credential keys (mode 0600, in a 0700 directory under `~/.aws/aws-refresh/`, removed by `remove()`), for
 * the child's `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`. Undefined when `[default]` holds none.
 */
export async function childConfigFiles(
  config: LoadedAwsConfig,
  env: NodeJS.ProcessEnv,
): Promise<ChildConfigFiles | undefined> {
  const section = config.profiles.get("default");
  if (!section || !Object.keys(section).some((k) => DEFAULT_CREDENTIAL_KEYS.has(k))) return undefined;
  const dir = join(
    env.HOME || homedir(),
    ".aws",
    "aws-refresh",
    `exec-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  // From the text already read: the command reads the files once.
  const copy = async (text: string | undefined, name: string): Promise<string> => {
    const target = join(dir, name);
    await writeSecretFile(target, withoutDefaultCredentials(text ?? ""));
    return target;
  };
  try {
    const configFile = await copy(config.text.config, "config");
    const credentialsFile = await copy(config.text.credentials, "credentials");
    return {
      env: { AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: credentialsFile },
      dir,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
