import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: { index: "src/index.ts", testing: "src/testing.ts" },
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
    // `node --`: Node.js 20 would otherwise take `--env-file` (a flag of `serve`) for itself anywhere in argv.
    banner: { js: "#!/usr/bin/env -S node --" },
  },
]);
