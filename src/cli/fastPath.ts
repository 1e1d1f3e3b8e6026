/**
 * `aws-refresh --version` and `aws-refresh --help`, answered before commander (and the ~20 modules it loads,
 * `child_process` among them) is imported: the two things a newcomer runs first, and the ones a script runs to check
 * the tool is there. The top-level help is commander's own text, rendered at build time (see tsup.config.ts) from
 * the same program `./program.ts` builds, at its fixed width; a test checks the two agree.
 */
import { VERSION } from "./version.js";

/** The top-level help, as `program.outputHelp()` writes it; set at build time, undefined when run from source. */
declare const __AWS_REFRESH_HELP__: string | undefined;
const HELP: string | undefined = typeof __AWS_REFRESH_HELP__ === "string" ? __AWS_REFRESH_HELP__ : undefined;

/**
 * Answers `argv` (the arguments after the script) when it is exactly `--version`/`-V` or `--help`/`-h`, writing
 * what commander would write; false for anything else (the program then parses it).
 *
 * @example
 * ```ts
 * if (!answerAtOnce(process.argv.slice(2), process.stdout)) await (await import("./program.js")).runProgram();
 * ```
 */
export function answerAtOnce(argv: readonly string[], stdout: NodeJS.WritableStream): boolean {
  if (argv.length !== 1) return false;
  const [arg] = argv;
  if (arg === "--version" || arg === "-V") {
    stdout.write(`${VERSION}\n`);
    return true;
  }
  if ((arg === "--help" || arg === "-h") && HELP !== undefined) {
    stdout.write(HELP);
    return true;
  }
  return false;
}
