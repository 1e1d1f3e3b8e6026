/**
 * The `aws-refresh` program's entry (dist/cli.js; the installed bin, ./launcher.ts, imports it): the only place that
 * exits. `--version`, `--help` and a `credential-process` cache hit are answered before commander is loaded
 * (./fastPath.ts, ./credentialProcessQuick.ts); everything else goes to the program (./program.ts), which loads each
 * command's code when it runs.
 */
import { answerAtOnce } from "./fastPath.js";

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (answerAtOnce(args, process.stdout)) return;
  if (args[0] === "credential-process") {
    const { answerFromCache } = await import("./credentialProcessQuick.js");
    if (await answerFromCache(args.slice(1), process.env, process.stdout)) return;
  }
  const { runProgram } = await import("./program.js");
  process.exit(await runProgram(process.argv));
}

void main();
