import { spawnSync } from "node:child_process";

/** Debian's chromium, which the browser tests drive with playwright-core (`.ci/run` installs it). */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Whether an interop tool (moto_server, python3 with boto3 or cryptography, the aws CLI, chromium, SoftHSM2) is here.
 * Tests that need one skip with a clear message where it is missing, except under REQUIRE_INTEROP=1 (CI), where a
 * missing tool is a failure.
 */
export function interopAvailable(what: "moto" | "boto3" | "aws-cli" | "chromium" | "cryptography" | "softhsm2"): {
  ok: boolean;
  reason: string;
} {
  const probe =
    what === "moto"
      ? spawnSync("moto_server", ["--help"], { encoding: "utf8", timeout: 30_000 })
      : what === "boto3"
        ? spawnSync("python3", ["-c", "import boto3, botocore"], { encoding: "utf8", timeout: 30_000 })
        : what === "chromium"
          ? spawnSync(CHROMIUM, ["--version"], { encoding: "utf8", timeout: 30_000 })
          : what === "cryptography"
            ? spawnSync("python3", ["-c", "import cryptography.x509"], { encoding: "utf8", timeout: 30_000 })
            : what === "softhsm2"
              ? spawnSync("softhsm2-util", ["--version"], { encoding: "utf8", timeout: 30_000 })
              : spawnSync("aws", ["--version"], { encoding: "utf8", timeout: 30_000 });
  const ok = probe.status === 0;
  const reason = ok
    ? ""
    : `${what} is not available (${probe.error?.message ?? probe.stderr?.trim() ?? "exit " + probe.status})`;
  if (!ok && process.env.REQUIRE_INTEROP === "1") {
    throw new Error(`REQUIRE_INTEROP=1 but ${reason}; install it (see .ci/run)`);
  }
  if (!ok) console.warn(`skipping ${what} interop tests: ${reason}`);
  return { ok, reason };
}
