import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import { errorMessage } from "../errors.js";
import { describeTime } from "../util/timeText.js";
import { childEnvironment, EXEC_MARKER_ENV } from "../server/childEnvironment.js";
import {
  DEFAULT_SERVER_ADVISORY_MS,
  DEFAULT_SERVER_MANDATORY_MS,
  startCredentialServer,
  type CredentialServer,
} from "../server/credentialServer.js";
import { runParsed, type CliCommand } from "./runner.js";
import { parseDuration } from "../util/duration.js";
import { probeIdentity } from "./identity.js";
import { resolveSource, type ResolvedSource, type SourceInput } from "./profile.js";
import { announceSsoLogins, stderrLogger } from "./output.js";
import { childConfigFiles, type ChildConfigFiles } from "./childConfig.js";
import { skewWarning } from "./warnings.js";
import { checkRequirement, formatRequirement } from "./requirement.js";
import { sourceInputFrom, type SourceFlags } from "./sourceOptions.js";

/** `exec` itself failed before or instead of running the command (as `env` and `docker run` use 125). */
export const EXIT_EXEC_FAILED = 125;
/** The command was found but could not be run. */
export const EXIT_CANNOT_RUN = 126;
/** The command was not found. */
export const EXIT_NOT_FOUND = 127;
/** Signals passed on to the child. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR2"];

/** Input of {@link runExec}. */
export interface ExecInput {
  source: SourceInput;
  /** The command and its arguments. */
  command: string[];
  /** Fail unless the source can keep credentials valid this long (ms). */
  requireMs?: number;
  /** Do not fetch credentials (or call STS) before the command starts. */
  lazy?: boolean;
  /** No start message. */
  quiet?: boolean;
  /** Loopback address of the credential server. Default 127.0.0.1. */
  host?: string;
}

/** What `exec` needs from its surroundings. */
export interface ExecDeps {
  env: NodeJS.ProcessEnv;
  stderr: NodeJS.WritableStream;
  /** Where signals to forward come from. Default: `process`. */
  signals?: NodeJS.EventEmitter;
  /** Called once the server listens and the child runs (tests). */
  onStarted?: (info: { server: CredentialServer; child: ChildProcess; resolved: ResolvedSource }) => void;
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return code ?? EXIT_EXEC_FAILED;
}

/**
 * Runs a command with always-fresh credentials: starts a credential server on loopback for the source, fetches a
 * credential first (unless `lazy`) so a bad profile fails at once, and runs the command with
 * `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN` set and the variables that would shadow
 * them removed. Forwards signals; resolves to the command's exit code (128 + signal number when a signal killed it),
 * or 125/126/127 when `exec` itself, or starting the command, failed.
 *
 * @example
 * ```ts
 * const code = await runExec(
 *   { source: { profile: "ml" }, command: ["python", "flow.py", "run"], requireMs: 30 * 3_600_000 },
 *   { env: process.env, stderr: process.stderr },
 * );
 * ```
 */
export async function runExec(input: ExecInput, deps: ExecDeps): Promise<number> {
  const { stderr, env } = deps;
  const say = (line: string): void => void stderr.write(`aws-refresh exec: ${line}\n`);
  if (!Array.isArray(input.command) || input.command.length === 0 || !input.command[0]) {
    say("no command given; usage: aws-refresh exec [options] -- COMMAND [ARGS...]");
    return EXIT_EXEC_FAILED;
  }
  if (env[EXEC_MARKER_ENV]) {
    say(
      `already running inside \`aws-refresh exec\` (serving ${env[EXEC_MARKER_ENV]}): this program already gets ` +
        "fresh credentials from the outer one. Run the command directly, or unset " +
        `${EXEC_MARKER_ENV} if you really mean to nest.`,
    );
    return EXIT_EXEC_FAILED;
  }
  let resolved: ResolvedSource;
  let childStarted = false;
  try {
    resolved = await resolveSource(input.source, {
      env,
      refresh: { advisoryMs: DEFAULT_SERVER_ADVISORY_MS, mandatoryMs: DEFAULT_SERVER_MANDATORY_MS },
      logger: stderrLogger(stderr, () => !childStarted),
    });
  } catch (err) {
    say(errorMessage(err));
    return EXIT_EXEC_FAILED;
  }
  const { session } = resolved;
  announceSsoLogins(session, say, () => !childStarted, input.source.loginTimeoutMs);
  let copies: ChildConfigFiles | undefined;
  let server: CredentialServer | undefined;
  try {
    server = await startCredentialServer({
      profiles: { [resolved.name]: session },
      ...(input.host ? { host: input.host } : {}),
    });
    let expiry = "credentials are fetched when the command first asks";
    if (!input.lazy || input.requireMs !== undefined) {
      let creds;
      try {
        creds = await session.credentials();
      } catch (err) {
        say(`${errorMessage(err)}\nThe command was not started.`);
        return EXIT_EXEC_FAILED;
      }
      expiry = creds.expiration
        ? `credentials expire ${describeTime(creds.expiration)} and are refreshed in the background`
        : "long-term keys, which do not expire";
    }
    if (input.requireMs !== undefined) {
      const check = await checkRequirement(resolved, input.requireMs, { notify: input.source.notify !== undefined });
      if (check.error) {
        say(`${check.error.message}\nThe command was not started.`);
        return EXIT_EXEC_FAILED;
      }
      if (check.note) say(`note: ${check.note}`);
      else if (!input.quiet) {
        say(
          `--require ${formatRequirement(input.requireMs)}: ok` +
            (check.end ? ` (${check.end.basis}: ${describeTime(check.end.at)})` : ""),
        );
      }
    }
    let who = "";
    if (!input.lazy) {
      const probe = await probeIdentity(session, resolved.region);
      if (probe.identity) who = `${probe.identity.Arn} via `;
      const skew = skewWarning(probe.skewMs);
      if (skew) say(`warning: ${skew}. Synchronize it (NTP).`);
    }
    // [default]'s credentials would come before the server in the child's SDK: it gets copies without them.
    copies = await childConfigFiles(resolved.config, env);
    if (copies && !input.quiet) {
      say(
        `note: the [default] profile holds credentials, which SDKs and the AWS CLI read before the credential ` +
          `server; ${input.command[0]} gets copies of your config files without them (in ${copies.dir}, removed ` +
          "when it ends). Profiles whose source_profile is default do not work inside it; move the keys to a named " +
          "profile to avoid this.",
      );
    }
    if (!input.quiet) say(`${who}${resolved.description}; ${expiry}; running ${input.command[0]}`);

    const childEnv = {
      ...childEnvironment(env, {
        url: server.urlFor(resolved.name),
        token: server.token,
        ...(resolved.region ? { region: resolved.region } : {}),
        marker: resolved.name,
      }),
      ...copies?.env,
    };
    childStarted = true;
    return await runChild(input.command, childEnv, deps, (child) =>
      deps.onStarted?.({ server: server as CredentialServer, child, resolved }),
    );
  } catch (err) {
    say(errorMessage(err));
    return EXIT_EXEC_FAILED;
  } finally {
    await server?.close();
    resolved.close();
    await copies?.remove();
  }
}

function runChild(
  command: string[],
  env: NodeJS.ProcessEnv,
  deps: ExecDeps,
  started: (child: ChildProcess) => void,
): Promise<number> {
  const signals = deps.signals ?? process;
  return new Promise<number>((resolve) => {
    const [file, ...args] = command as [string, ...string[]];
    const child = spawn(file, args, { env, stdio: "inherit" });
    const handlers = new Map<NodeJS.Signals, () => void>();
    const cleanup = (): void => {
      for (const [sig, h] of handlers) signals.removeListener(sig, h);
    };
    for (const sig of FORWARDED_SIGNALS) {
      const h = (): void => {
        if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      };
      handlers.set(sig, h);
      signals.on(sig, h);
    }
    child.once("error", (err: NodeJS.ErrnoException) => {
      cleanup();
      const code = err.code === "ENOENT" ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
      deps.stderr.write(
        `aws-refresh exec: cannot run ${JSON.stringify(file)}: ${err.code === "ENOENT" ? "command not found" : err.message}\n`,
      );
      resolve(code);
    });
    child.once("spawn", () => started(child));
    child.once("exit", (code, signal) => {
      cleanup();
      resolve(exitCodeOf(code, signal));
    });
  });
}

interface ExecFlags extends SourceFlags {
  require?: string;
  lazy?: boolean;
  quiet?: boolean;
}

/** `aws-refresh exec`'s flags and arguments to its input; throws naming a bad flag. */
export function execInput(flags: ExecFlags, command: string[], terminal = false): ExecInput {
  const source = sourceInputFrom(flags);
  // At a terminal, without a notify hook, the person running the job can approve a login in the browser.
  if (terminal && source.notify === undefined) source.interactiveLogin = true;
  return {
    source,
    command,
    ...(flags.require !== undefined ? { requireMs: parseDuration(flags.require, "--require") } : {}),
    ...(flags.lazy ? { lazy: true } : {}),
    ...(flags.quiet ? { quiet: true } : {}),
  };
}

/** The CLI's entry point for `aws-refresh exec`. */
export const execCommand: CliCommand = (flags, args, io) =>
  runParsed(
    "exec",
    io,
    () => execInput(flags as ExecFlags, args[0] as string[], process.stdin.isTTY === true),
    (input) => runExec(input, { env: io.env, stderr: io.stderr }),
    EXIT_EXEC_FAILED,
  );
