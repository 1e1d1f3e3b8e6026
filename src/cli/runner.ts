import { errorMessage } from "../errors.js";

/** What a command writes to and reads from. */
export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Resolves when a long-running command should stop (the CLI: SIGINT or SIGTERM). */
  until: Promise<unknown>;
}

/** One command's entry point: its flags and arguments as commander hands them over, to an exit code. */
export type CliCommand = (flags: Record<string, unknown>, args: unknown[], io: CliIo) => Promise<number>;

/**
 * The block every command repeats: turn the flags into the command's input (a bad flag is reported as
 * `aws-refresh NAME: …` and ends with `badFlagsExit`), then run it and hand its exit code on.
 *
 * @example
 * ```ts
 * export const statusCommand: CliCommand = (flags, _args, io) =>
 *   runParsed("status", io, () => statusInput(flags), (input) => runStatus(input, io));
 * ```
 */
export async function runParsed<I>(
  name: string,
  io: Pick<CliIo, "stderr">,
  parse: () => I,
  run: (input: I) => Promise<number>,
  badFlagsExit = 2,
): Promise<number> {
  let input: I;
  try {
    input = parse();
  } catch (err) {
    io.stderr.write(`aws-refresh ${name}: ${errorMessage(err)}\n`);
    return badFlagsExit;
  }
  return run(input);
}
