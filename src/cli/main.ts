import { Command } from "commander";
import { commands } from "./commands.js";

/** Builds the `aws-refresh` program. Commands live one per file and register themselves in ./commands.ts. */
export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command("aws-refresh")
    .description("AWS credentials that stay valid for as long as your job runs")
    .showHelpAfterError()
    .enablePositionalOptions();
  for (const register of commands) register(program, setExitCode);
  return program;
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

async function main(): Promise<void> {
  quietSdkNodeVersionWarning();
  let exitCode = 0;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    if (typeof code === "number") process.exit(code);
    process.stderr.write(`aws-refresh: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  process.exit(exitCode);
}

void main();
