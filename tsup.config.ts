import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";
import { topLevelHelp } from "./src/cli/program.js";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };
// The top-level help, rendered here from the program itself, so `--help` prints it without loading commander.
const help = topLevelHelp();

export default defineConfig([
  {
    entry: { index: "src/index.ts", testing: "src/testing.ts", telemetry: "src/telemetry/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: false,
    target: "node20",
    splitting: false,
  },
  {
    entry: { cli: "src/cli/main.ts" },
    format: ["esm"],
    sourcemap: true,
    target: "node20",
    // Each command's code (and the SDK it needs) in chunks loaded when the command runs: `--help`, `--version` and a
    // credential-process cache hit load commander and little else.
    splitting: true,
    outDir: "dist",
    // Not tsup's `clean` (it empties all of dist/, the library and the single executable included): `npm run build`
    // removes dist/cli-chunks before it runs tsup.
    clean: false,
    esbuildOptions(options) {
      options.chunkNames = "cli-chunks/[name]-[hash]";
      options.entryNames = "[name]";
    },
    define: { __AWS_REFRESH_VERSION__: JSON.stringify(version), __AWS_REFRESH_HELP__: JSON.stringify(help) },
    // `node --`: Node.js 20 would otherwise take `--env-file` (a flag of `serve`) for itself anywhere in argv.
    banner: { js: "#!/usr/bin/env -S node --" },
  },
  {
    // The installed `aws-refresh` (package.json's `bin`): CommonJS, so `--version` and `--help` start without Node's
    // ES module loader; it imports dist/cli.js for everything else.
    entry: { cli: "src/cli/launcher.ts" },
    format: ["cjs"],
    target: "node20",
    outDir: "dist",
    clean: false,
    define: { __AWS_REFRESH_VERSION__: JSON.stringify(version), __AWS_REFRESH_HELP__: JSON.stringify(help) },
    banner: { js: "#!/usr/bin/env -S node --" },
  },
]);
