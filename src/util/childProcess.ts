import { spawn } from "node:child_process";

/** How long a command a source runs (an MFA command, a credential_process) may take before it is killed. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
/** How much a command may print on stdout before it is killed (credential_process output is a few hundred bytes). */
export const DEFAULT_COMMAND_MAX_OUTPUT_BYTES = 1024 * 1024;

/** After a command exits, how long a process it left behind may keep its output open before it is ended. */
const EXIT_DRAIN_MS = 1_000;

/** What to run: an argv array (no shell) or a shell command line (`/bin/sh -c`, `cmd.exe /d /s /c` on Windows). */
export type CommandSpec = { argv: readonly string[] } | { shell: string };

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Kill the command (and every process it started) after this long. Default 60000. */
  timeoutMs?: number;
  /** Kill it once stdout passes this many bytes. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Environment of the command. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Abort (e.g. the source was closed): the command and its children are killed. */
  signal?: AbortSignal;
  /** `"inherit"` lets the command read the terminal (a prompt of its own). Default `"ignore"`. */
  stdin?: "inherit" | "ignore";
  /** `"inherit"` lets the command write to the terminal; `"pipe"` (default) keeps its last 4 KiB for the caller. */
  stderr?: "inherit" | "pipe";
}

/** Why a command did not give an answer. */
export type CommandFailureReason = "not-found" | "cannot-run" | "timeout" | "output-too-large" | "exit" | "aborted";

/** A command that did not give an answer; `stdout`/`stderr` are kept for the caller to judge, never shown here. */
export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    readonly reason: CommandFailureReason,
    message: string,
    readonly exitCode: number | null,
    readonly exitSignal: NodeJS.Signals | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** What a command printed, once it exited with status 0. */
export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** How to name a command in messages: its program, never its arguments (they may hold a secret). */
export function commandName(spec: CommandSpec): string {
  if ("argv" in spec) return spec.argv[0] ?? "";
  return spec.shell.trim().split(/\s+/)[0] ?? "";
}

/**
 * Runs a command with a deadline. It starts in its own process group, so a timeout, an abort or too much output kills
 * the whole group — a shell and whatever it started — not only the direct child. Resolves with its output when it
 * exits 0; rejects with a {@link CommandError} saying why otherwise.
 *
 * @example
 * ```ts
 * const { stdout } = await runCommand({ argv: ["ykman", "oath", "accounts", "code", "-s", "aws"] }, { timeoutMs: 30_000 });
 * ```
 */
export function runCommand(spec: CommandSpec, options: RunCommandOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const maxOutput = options.maxOutputBytes ?? DEFAULT_COMMAND_MAX_OUTPUT_BYTES;
  const name = commandName(spec);
  const windows = process.platform === "win32";
  const [file, args] =
    "argv" in spec
      ? [spec.argv[0] as string, spec.argv.slice(1)]
      : windows
        ? ["cmd.exe", ["/d", "/s", "/c", spec.shell]]
        : ["/bin/sh", ["-c", spec.shell]];
  return new Promise<CommandResult>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new CommandError("aborted", `\`${name}\` was not started: the source was closed`, null, null, ""));
      return;
    }
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      stdio: [options.stdin ?? "ignore", "pipe", options.stderr ?? "pipe"],
      // Its own process group (POSIX): a kill reaches everything it started. On Windows, taskkill-less best effort.
      detached: !windows,
      windowsHide: true,
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = "";
    let failure: CommandError | undefined;
    let settled = false;
    const killGroup = (): void => {
      try {
        if (!windows && child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        else child.kill("SIGKILL");
      } catch {
        /* already gone */
      }
    };
    const fail = (e: CommandError): void => {
      if (failure) return;
      failure = e;
      killGroup();
    };
    const timer = setTimeout(
      () => fail(new CommandError("timeout", `\`${name}\` did not finish within ${timeoutMs} ms`, null, null, err)),
      timeoutMs,
    );
    const onAbort = (): void =>
      fail(new CommandError("aborted", `\`${name}\` was stopped: the source was closed`, null, null, err));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    };
    child.stdout?.on("data", (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > maxOutput) {
        fail(
          new CommandError(
            "output-too-large",
            `\`${name}\` printed more than ${maxOutput} bytes on stdout`,
            null,
            null,
            err,
          ),
        );
        return;
      }
      out.push(d);
    });
    child.stderr?.on("data", (d: Buffer) => {
      err = (err + d.toString("utf8")).slice(-4096);
    });
    child.once("error", (e: NodeJS.ErrnoException) => {
      if (settled) return;
      finish();
      reject(
        failure ??
          new CommandError(
            e.code === "ENOENT" ? "not-found" : "cannot-run",
            e.code === "ENOENT" ? `\`${name}\` was not found` : `\`${name}\` could not be run (${e.code ?? e.message})`,
            null,
            null,
            err,
          ),
      );
    });
    // The answer is what it printed before it exited. A process it left running may hold stdout open: once the
    // command itself has exited, give the pipe a moment to drain, then end the leftovers (its own process group).
    let exited: { code: number | null; sig: NodeJS.Signals | null } | undefined;
    child.once("exit", (code, sig) => {
      exited = { code, sig };
      setTimeout(() => {
        if (!settled) killGroup();
      }, EXIT_DRAIN_MS).unref();
    });
    child.once("close", (closeCode, closeSig) => {
      if (settled) return;
      finish();
      if (failure) {
        reject(failure);
        return;
      }
      const code = exited?.code ?? closeCode;
      const sig = exited ? exited.sig : closeSig;
      if (code !== 0) {
        reject(
          new CommandError(
            "exit",
            sig ? `\`${name}\` was killed by ${sig}` : `\`${name}\` exited with status ${String(code)}`,
            code,
            sig,
            err,
          ),
        );
        return;
      }
      resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: err });
    });
  });
}
