import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two files at a time, whatever the core count: most tests wait on timers, child processes and loopback servers,
    // not on a CPU, and vitest's default on a 2-core machine (cores - 1) runs the files one after another.
    maxWorkers: 2,
    reporters: ["default"],
    // The SDK warns once per process that future releases need Node 22; it says nothing about our code.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
