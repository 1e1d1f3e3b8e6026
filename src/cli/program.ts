import { Command } from "commander";
import { commands } from "./commands.js";
import type { CliIo } from "./runner.js";
import { VERSION } from "./version.js";

/**
 * The top-level help's width, whatever the terminal's: fixed so that the text `--help` prints without loading
 * commander (./fastPath.ts, rendered at build time) is the text commander renders. Commands' own help still follows
 * the terminal.
 */
export const TOP_LEVEL_HELP_WIDTH = 80;

/**
 * Builds the `aws-refresh` program. Every command is declared from its spec (./commands.ts) without loading its
 * code; the command's module is imported when it runs, and its exit code handed to `setExitCode`.
 *
 * @example
 * ```ts
 * const program = buildProgram((code) => (exitCode = code), () => io);
 * await program.parseAsync(process.argv);
 * ```
 */
export function buildProgram(setExitCode: (code: number) => void, io: () => CliIo): Command {
  const program = new Command("aws-refresh")
    .description("AWS credentials that stay valid for as long as your job runs")
    .version(VERSION, "-V, --version", "print the version")
    .showHelpAfterError()
    .enablePositionalOptions();
  for (const spec of commands) {
    const cmd = program.command(spec.name);
    spec.declare(cmd);
    cmd.action(async (...received: unknown[]) => {
      // commander passes the arguments, then the options, then the command itself.
      const args = received.slice(0, -2);
      const flags = received.at(-2) as Record<string, unknown>;
      const run = await spec.load();
      setExitCode(await run(flags, args, io()));
    });
  }
  // After the commands are declared, so that they do not inherit it.
  program.configureHelp({ helpWidth: TOP_LEVEL_HELP_WIDTH });
  return program;
}

/**
 * The top-level help exactly as `aws-refresh --help` writes it (tsup.config.ts renders it at build time for
 * ./fastPath.ts).
 *
 * @example
 * ```ts
 * process.stdout.write(topLevelHelp());
 * ```
 */
export function topLevelHelp(): string {
  let out = "";
  const program = buildProgram(
    () => {},
    () => {
      throw new Error("the help runs no command");
    },
  );
  program.configureOutput({ writeOut: (s) => (out += s) });
  program.outputHelp();
  return out;
}

/**
 * The SDK warns once per process that its releases after January 2027 need Node.js 22. That is about our
 * dependency, not the user's job, and on every CLI run it would bury the one line that matters; other warnings still
 * print as Node prints them. (Not done through the SDK's environment variable: `exec` children would inherit it.)
 */
function quietSdkNodeVersionWarning(): void {
  process.removeAllListeners("warning");
  process.on("warning", (w) => {
    if (!w.message.startsWith("NodeVersionSupportWarning")) process.stderr.write(`(node) ${w.name}: ${w.message}\n`);
  });
}

/** Resolves on the first SIGINT or SIGTERM, for the commands that run until stopped; listens only once asked. */
function stopSignal(): Promise<unknown> {
  return new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
}

/**
 * Parses `argv` (as `process.argv`) and runs the command; resolves with the exit code for `cli/main.ts`.
 *
 * @example
 * ```ts
 * process.exit(await runProgram(process.argv));
 * ```
 */
export async function runProgram(argv: readonly string[]): Promise<number> {
  quietSdkNodeVersionWarning();
  let exitCode = 0;
  let until: Promise<unknown> | undefined;
  const program = buildProgram(
    (code) => {
      exitCode = code;
    },
    () => ({
      env: process.env,
      stdout: process.stdout,
      stderr: process.stderr,
      get until() {
        return (until ??= stopSignal());
      },
    }),
  );
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    if (typeof code === "number") return code;
    process.stderr.write(`aws-refresh: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return exitCode;
}
