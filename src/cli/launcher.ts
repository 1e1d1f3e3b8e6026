/**
 * The installed `aws-refresh` executable (package.json's `bin`, built as CommonJS to dist/cli.cjs): Node.js starts a
 * CommonJS script without setting up its ES module loader, which on Node 20 costs a quarter of a bare `node -e 0`.
 * `--version`, `--help` (./fastPath.ts) and a `credential-process` cache hit (./credentialProcessQuick.ts) are
 * answered here, bundled in; everything else imports the program (dist/cli.js, built from ./main.ts), which loads
 * each command's code when it runs.
 */
import { answerAtOnce } from "./fastPath.js";

// A specifier in a variable, so the bundler leaves the import to run time: dist/cli.js next to this file.
const program = "./cli.js";

async function launch(): Promise<void> {
  const args = process.argv.slice(2);
  if (answerAtOnce(args, process.stdout)) return;
  if (args[0] === "credential-process") {
    // Bundled in, but run (and its built-ins loaded) only here: `--version` does not pay for it.
    const { answerFromCache } = await import("./credentialProcessQuick.js");
    if (await answerFromCache(args.slice(1), process.env, process.stdout)) return;
  }
  await import(program);
}

void launch();
