import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import type { Command } from "commander";
import type { Logger } from "@smithy/types";
import { describeTime, errorMessage, formatDuration } from "../errors.js";
import { childEnvironment, EXEC_MARKER_ENV } from "../server/childEnvironment.js";
import type { RefreshableSession } from "../session/RefreshableSession.js";
import { DEFAULT_SSO_LOGIN_TIMEOUT_MS } from "../sources/sso.js";
import {
  DEFAULT_SERVER_ADVISORY_MS,
  DEFAULT_SERVER_MANDATORY_MS,
  startCredentialServer,
  type CredentialServer,
} from "../server/credentialServer.js";
import type { RegisterCommand } from "./commands.js";
import { parseDuration } from "./duration.js";
import { probeIdentity } from "./identity.js";
import { hasCredentials, loadProfiles, resolveSource, type ResolvedSource, type SourceInput } from "./profile.js";
import { checkRequirement, formatRequirement } from "./requirement.js";
import { addSourceOptions, sourceInputFrom, type SourceFlags } from "./sourceOptions.js";

/** `exec` itself failed before or instead of running the command (as `env` and `docker run` use 125). */
export const EXIT_EXEC_FAILED = 125;
/** The command was found but could not be run. */
export const EXIT_CANNOT_RUN = 126;
/** The command was not found. */
export const EXIT_NOT_FOUND = 127;
/** Clock skew against AWS beyond which `exec` and `status` warn (the SDK for JavaScript corrects beyond it too). */
export const SKEW_WARNING_MS = 5 * 60_000;
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

/**
 * A logger that writes the engine's warnings and errors to `stderr` and drops the rest. While `quiet()` returns true
 * nothing is written (a failing first fetch is reported once, by the command, not also by the engine). Records that
 * are not text are dropped: the SDK clients inside a source (the SSO portal, SSO-OIDC) log one object per failed
 * call, which would print as `[object Object]`, and whose failure the engine reports in words anyway.
 */
export function stderrLogger(stderr: NodeJS.WritableStream, quiet: () => boolean = () => false): Logger {
  const write = (...parts: unknown[]): void => {
    if (quiet() || typeof parts[0] !== "string") return;
    stderr.write(`${parts.map(String).join(" ")}\n`);
  };
  return { debug: () => {}, info: () => {}, warn: write, error: write };
}

/**
 * While `holding()` (before the command starts, or before the server serves), the engine's log lines are held back,
 * and with them the SSO source's login prompt: a profile whose session has ended would wait for a login nobody was
 * told about. This says it on stderr instead (URL, code, how long it waits), and when the login is picked up.
 */
export function announceSsoLogins(
  session: RefreshableSession,
  say: (line: string) => void,
  holding: () => boolean,
  loginTimeoutMs: number = DEFAULT_SSO_LOGIN_TIMEOUT_MS,
): void {
  session.on("sso-login-required", (e) => {
    if (!holding()) return; // the engine's logger says it now
    say(
      `IAM Identity Center login needed for profile ${e.profile ?? "?"} (${e.reason}): open ` +
        `${e.verificationUriComplete} and confirm code ${e.userCode} before ${e.expiresAt.toISOString()}; waiting up ` +
        `to ${formatDuration(loginTimeoutMs)} (--login-timeout), or log in elsewhere (\`aws-refresh login\`, ` +
        "`aws sso login`)",
    );
  });
  session.on("sso-login-completed", (e) => {
    if (holding()) say(`IAM Identity Center login picked up for profile ${e.profile ?? "?"}; carrying on`);
  });
}

/** A line warning that the `[default]` profile would shadow the server in a child, or undefined. */
export async function defaultProfileShadow(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  let profiles;
  try {
    profiles = await loadProfiles(env);
  } catch {
    return undefined;
  }
  if (!hasCredentials(profiles.get("default"))) return undefined;
  return (
    "the [default] profile holds credentials, and SDKs and the AWS CLI read it before the credential server: a " +
    "program that uses it gets those credentials, not the ones served. Move them to a named profile."
  );
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
      if (probe.skewMs !== undefined && Math.abs(probe.skewMs) > SKEW_WARNING_MS) {
        say(
          `warning: this machine's clock is ${formatDuration(Math.abs(probe.skewMs))} ` +
            `${probe.skewMs > 0 ? "behind" : "ahead of"} AWS; requests may be refused as skewed. Synchronize it (NTP).`,
        );
      }
    }
    const shadow = await defaultProfileShadow(env);
    if (shadow) say(`warning: ${shadow}`);
    if (!input.quiet) say(`${who}${resolved.description}; ${expiry}; running ${input.command[0]}`);

    const childEnv = childEnvironment(env, {
      url: server.urlFor(resolved.name),
      token: server.token,
      ...(resolved.region ? { region: resolved.region } : {}),
      marker: resolved.name,
    });
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

/** Registers `aws-refresh exec`. */
export const registerExec: RegisterCommand = (program: Command, setExitCode) => {
  const cmd = program
    .command("exec")
    .usage("[options] -- COMMAND [ARGS...]")
    .summary("run a command with always-fresh AWS credentials")
    .description(
      "Run COMMAND with AWS credentials that stay valid for as long as it runs, in any language. A credential server " +
        "on 127.0.0.1 (random port, random 256-bit bearer token) serves the chosen source, refreshing it in the " +
        "background; the command gets AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN, which " +
        "every AWS SDK and the AWS CLI read, and loses AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, " +
        "AWS_PROFILE and AWS_DEFAULT_PROFILE (which would stop it from asking). AWS_REGION and AWS_DEFAULT_REGION are set " +
        "when known. Credentials are fetched before the command starts, so a bad profile fails at once. SIGINT, " +
        "SIGTERM, SIGHUP, SIGQUIT and SIGUSR2 are forwarded. Exit status: the command's, 128+N when signal N killed it, " +
        "125 when exec failed, 126 when the command cannot run, 127 when it is not found.\n\n" +
        "Examples:\n" +
        "  aws-refresh exec --profile ml -- python flow.py run\n" +
        "  aws-refresh exec --profile ml --require 30h -- python train.py\n" +
        "  aws-refresh exec --role-arn arn:aws:iam::123456789012:role/deploy -- terraform apply",
    )
    .argument("<command...>", "the command to run and its arguments (after --)")
    .passThroughOptions();
  addSourceOptions(cmd, { role: true, sso: true });
  cmd
    .option("--require <duration>", "fail unless the source can keep credentials valid this long, e.g. 30h")
    .option("--lazy", "do not fetch credentials before the command starts (first request does)")
    .option("--quiet", "no start message on stderr (warnings still show)")
    .action(async (command: string[], opts: ExecFlags) => {
      let input: ExecInput;
      try {
        input = {
          source: sourceInputFrom(opts),
          command,
          ...(opts.require !== undefined ? { requireMs: parseDuration(opts.require, "--require") } : {}),
          ...(opts.lazy ? { lazy: true } : {}),
          ...(opts.quiet ? { quiet: true } : {}),
        };
      } catch (err) {
        process.stderr.write(`aws-refresh exec: ${errorMessage(err)}\n`);
        setExitCode(EXIT_EXEC_FAILED);
        return;
      }
      setExitCode(await runExec(input, { env: process.env, stderr: process.stderr }));
    });
};
