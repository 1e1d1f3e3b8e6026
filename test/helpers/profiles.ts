import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Emulator, KnownCredential } from "../../src/testing.js";

const exec = promisify(execFile);

/** A temporary HOME with `~/.aws/config` and `~/.aws/credentials` (absent when not given), and where they are. */
export interface ProfileFiles {
  dir: string;
  config: string;
  credentials: string;
  /** HOME, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE for these files. */
  env: { HOME: string; AWS_CONFIG_FILE: string; AWS_SHARED_CREDENTIALS_FILE: string };
  /** Writes a file under `dir` whole (a temporary file renamed over it: a reader never sees it half written). */
  write(name: string, text: string, mode?: number): string;
  remove(): void;
}

export function profileFiles(files: { config?: string; credentials?: string } = {}): ProfileFiles {
  const dir = mkdtempSync(join(tmpdir(), "aws-profiles-"));
  const write = (name: string, text: string, mode = 0o600): string => {
    const path = join(dir, name);
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, text, { mode });
    renameSync(tmp, path);
    return path;
  };
  const config = join(dir, ".aws", "config");
  const credentials = join(dir, ".aws", "credentials");
  mkdirSync(join(dir, ".aws"), { recursive: true, mode: 0o700 });
  if (files.config !== undefined) write(".aws/config", files.config);
  if (files.credentials !== undefined) write(".aws/credentials", files.credentials);
  return {
    dir,
    config,
    credentials,
    env: { HOME: dir, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials },
    write,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Sets process.env keys (undefined deletes) and returns a function putting the old values back. */
export function setProcessEnv(values: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** Static keys for a profile section (the emulator's issued credential: it accepts them). */
export function keysLines(c: KnownCredential | { accessKeyId: string; secretAccessKey: string }): string {
  const token = "sessionToken" in c && c.sessionToken ? `aws_session_token = ${c.sessionToken}\n` : "";
  return `aws_access_key_id = ${c.accessKeyId}\naws_secret_access_key = ${c.secretAccessKey}\n${token}`;
}

/** A credential_process answer (Version 1 JSON) for an issued credential. */
export function processJson(c: KnownCredential): string {
  return JSON.stringify({
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    ...(c.sessionToken ? { SessionToken: c.sessionToken } : {}),
    ...(c.expiration !== undefined ? { Expiration: new Date(c.expiration).toISOString() } : {}),
  });
}

export { rejection } from "./rejection.js";

/** A node script that prints the file named by its first argument: a credential_process whose answer a test sets. */
export const PRINT_FILE_JS = "process.stdout.write(require('fs').readFileSync(process.argv[2], 'utf8'));\n";

/**
 * Moves the emulator's clock forward by `seconds` (AWS's time passes; the test does not wait). The session learns the
 * new offset from the next answer's `Date` header and judges expiry in AWS's time.
 */
export function advance(emu: Emulator, seconds: number): void {
  emu.setClockOffset(emu.now() - Date.now() + seconds * 1000);
}

/** What botocore (the AWS CLI v1 / boto3) makes of a profile. */
export interface BotocoreAnswer {
  /** botocore's credential method (`assume-role`, `sso`, `shared-credentials-file`…); null when it found none. */
  method?: string | null;
  /** The access key id it would sign with (static and process credentials, or any with `frozen`). */
  accessKey?: string;
  /** The exception class it raised, e.g. `ConfigParseError`. */
  error?: string;
  message?: string;
}

/** One question for {@link botocore}: a profile, an environment on top of the child's, and whether to fetch. */
export interface BotocoreQuery {
  profile: string;
  env?: Record<string, string | undefined>;
  /** Fetch the credentials (roles call STS, web identity and SSO too). */
  frozen?: boolean;
}

/**
 * Asks botocore, in a child process (asynchronous: the emulator answering it may live in this process), what it
 * makes of each profile. `env` is the child's environment.
 */
export async function botocore(queries: BotocoreQuery[], env: NodeJS.ProcessEnv): Promise<BotocoreAnswer[]> {
  const script = join(__dirname, "botocore_resolve.py");
  const out = await exec("python3", [script, JSON.stringify(queries)], {
    env,
    encoding: "utf8",
    timeout: 60_000,
  });
  return JSON.parse(out.stdout.trim().split("\n").at(-1) as string) as BotocoreAnswer[];
}
