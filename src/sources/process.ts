import type { AwsCredentialIdentity } from "@smithy/types";
import { RefreshSessionError } from "../errors.js";
import type { CredentialSource } from "../types.js";
import { CommandError, DEFAULT_COMMAND_TIMEOUT_MS, runCommand, type CommandSpec } from "../util/childProcess.js";
import { shellSplit } from "../util/shellSplit.js";

/** How much of a failed command's stderr a message quotes. */
const STDERR_QUOTE_CHARS = 300;
/**
 * What a quoted stderr line never shows: runs of 32 or more base64 or hex characters (the shape of secret access keys,
 * session tokens and bearer tokens), which a helper's debug output may hold. Error messages end up in logs.
 */
const SECRET_LIKE = /[A-Za-z0-9+/]{32,}={0,2}/g;

/** Options of {@link fromCredentialProcess}. */
export interface CredentialProcessInit {
  /**
   * The command line, as a profile's `credential_process` holds it: split into words as the AWS CLI does (Python's
   * `shlex`, no shell, no variables expanded; on Windows it is run by `cmd.exe`).
   */
  command: string;
  /** The profile it comes from, for messages. */
  profile?: string;
  /** The file it comes from, for messages. */
  configFile?: string;
  /** Kill the command (and everything it started) after this long. Default 60000. */
  timeoutMs?: number;
  /** The command's environment. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Account id when the output has no `AccountId` (a profile's `aws_account_id`). */
  accountId?: string;
}

/** A credential_process source; `close()` stops a command still running. */
export type CredentialProcessSource = CredentialSource & { close(): void };

/**
 * A profile's `credential_process` as a source: runs the command (in its own process group, with a deadline: a hung
 * command is killed with everything it started), reads the Version 1 JSON it prints (`AccessKeyId`,
 * `SecretAccessKey`, `SessionToken`, `Expiration`, `AccountId`) and checks it, naming the field that is wrong. A
 * credential with an `Expiration` is refreshed before it; one without is long-term.
 *
 * @example
 * ```ts
 * const session = new RefreshableSession({
 *   method: "custom",
 *   source: fromCredentialProcess({ command: "vault-aws-creds --role etl" }),
 * });
 * ```
 */
export function fromCredentialProcess(init: CredentialProcessInit): CredentialProcessSource {
  if (init === null || typeof init !== "object") throw new TypeError("`options` must be an object with `command`");
  if (typeof init.command !== "string" || init.command.trim() === "") {
    throw new TypeError("`command` must be the credential_process command line");
  }
  if (init.timeoutMs !== undefined && !(Number.isFinite(init.timeoutMs) && init.timeoutMs > 0)) {
    throw new RangeError("`timeoutMs` must be a positive number of milliseconds");
  }
  const where = init.profile !== undefined ? `profile "${init.profile}"` : "credential_process";
  const inFile = init.configFile ? ` in ${init.configFile}` : "";
  let spec: CommandSpec;
  if (process.platform === "win32") {
    spec = { shell: init.command };
  } else {
    let argv: string[];
    try {
      argv = shellSplit(init.command);
    } catch (err) {
      throw new RefreshSessionError(
        "CONFIG_INVALID",
        `The credential_process of ${where}${inFile} cannot be split into words: ${(err as Error).message}`,
        { ...(init.profile !== undefined ? { profile: init.profile } : {}) },
      );
    }
    if (argv.length === 0) throw new TypeError("`command` must name a program");
    spec = { argv };
  }
  const program = "argv" in spec ? (spec.argv[0] as string) : init.command.trim().split(/\s+/)[0];
  const name = `credential_process:${init.profile ?? program}`;
  const timeoutMs = init.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const running = new Set<AbortController>();
  const ctx = { source: name, ...(init.profile !== undefined ? { profile: init.profile } : {}) };
  const bad = (what: string): RefreshSessionError =>
    new RefreshSessionError(
      "INVALID_CREDENTIALS",
      `The credential_process of ${where} (\`${program}\`) printed ${what}; it must print Version 1 JSON with ` +
        "AccessKeyId, SecretAccessKey and, for temporary credentials, SessionToken and Expiration",
      ctx,
    );

  const source = async (): Promise<AwsCredentialIdentity> => {
    const ac = new AbortController();
    running.add(ac);
    let stdout: string;
    try {
      ({ stdout } = await runCommand(spec, {
        timeoutMs,
        ...(init.env ? { env: init.env } : {}),
        signal: ac.signal,
      }));
    } catch (err) {
      const e = err as CommandError;
      const tail = e.stderr?.trim().slice(-STDERR_QUOTE_CHARS).replace(SECRET_LIKE, "****");
      const why =
        e.reason === "timeout"
          ? `did not finish within ${timeoutMs} ms and was killed (with everything it started)`
          : e.reason === "not-found"
            ? "was not found: check the program's name and PATH"
            : e.reason === "exit"
              ? `${e.exitSignal ? `was killed by ${e.exitSignal}` : `exited with status ${String(e.exitCode)}`}${tail ? `: ${tail}` : ""}`
              : e.reason === "aborted"
                ? "was stopped: the session was closed"
                : e.message;
      // The cause keeps the command's stderr for whoever logs the error whole: masked the same way.
      const cause =
        err instanceof CommandError
          ? new CommandError(e.reason, e.message, e.exitCode, e.exitSignal, e.stderr.replace(SECRET_LIKE, "****"))
          : err;
      throw new RefreshSessionError(
        "SOURCE_FAILED",
        `The credential_process of ${where}${inFile} (\`${program}\`) ${why}`,
        { ...ctx, cause },
      );
    } finally {
      running.delete(ac);
    }
    let out: unknown;
    try {
      out = JSON.parse(stdout);
    } catch {
      // Never quote the output: it may hold a secret.
      throw bad(stdout.trim() === "" ? "nothing on stdout" : "something that is not JSON");
    }
    if (out === null || typeof out !== "object" || Array.isArray(out)) throw bad("JSON that is not an object");
    const o = out as Record<string, unknown>;
    if (o.Version !== 1) throw bad(`\`Version\` ${JSON.stringify(o.Version ?? null)} (only 1 is defined)`);
    for (const field of ["AccessKeyId", "SecretAccessKey"]) {
      if (typeof o[field] !== "string" || o[field] === "") throw bad(`no \`${field}\``);
    }
    for (const field of ["SessionToken", "Expiration", "AccountId"]) {
      if (o[field] !== undefined && o[field] !== null && typeof o[field] !== "string") {
        throw bad(`a \`${field}\` that is not a string`);
      }
    }
    let expiration: Date | undefined;
    if (typeof o.Expiration === "string") {
      expiration = new Date(o.Expiration);
      if (!Number.isFinite(expiration.getTime())) throw bad("an `Expiration` that is not an ISO 8601 time");
    }
    const accountId = (typeof o.AccountId === "string" && o.AccountId) || init.accountId;
    return {
      accessKeyId: o.AccessKeyId as string,
      secretAccessKey: o.SecretAccessKey as string,
      ...(typeof o.SessionToken === "string" && o.SessionToken ? { sessionToken: o.SessionToken } : {}),
      ...(expiration ? { expiration } : {}),
      ...(accountId ? { accountId } : {}),
    };
  };
  return Object.assign(source, {
    sourceName: name,
    close: () => {
      for (const ac of running) ac.abort();
    },
  });
}
