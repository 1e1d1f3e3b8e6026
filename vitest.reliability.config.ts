import { defineConfig } from "vitest/config";

// `npm run reliability`: the long form of test/reliability.test.ts (not part of CI's time budget), which rewrites
// docs/reliability.md with its figures. The short form runs in `npm test` with the default config.
export default defineConfig({
  test: {
    include: ["test/reliability.test.ts"],
    testTimeout: 3_600_000,
    hookTimeout: 120_000,
    pool: "forks",
    reporters: ["default"],
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      RELIABILITY_LONG: "1",
      RELIABILITY_REPORT: "docs/reliability.md",
    },
  },
});
