import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { ListObjectsV2Command, CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { refreshable } from "../src/refresh/refreshable.js";
import { startEmulator } from "../src/testing.js";

const run = promisify(execFile);
const root = resolve(__dirname, "..");

beforeAll(async () => {
  // `npm test` builds first; a lone `vitest run` of this file builds if dist/ is missing.
  if (!existsSync(join(root, "dist/index.cjs")) || !existsSync(join(root, "dist/index.js"))) {
    await run("npx", ["tsup"], { cwd: root });
  }
}, 120_000);

/** A throwaway project that depends on this package by name, as a user's would. */
function consumer(): string {
  const dir = mkdtempSync(join(tmpdir(), "consumer-"));
  mkdirSync(join(dir, "node_modules"));
  // Node resolves through the link to the real path, so the package finds its own dependencies as when installed.
  symlinkSync(root, join(dir, "node_modules", "aws-refresh-session"), "dir");
  return dir;
}

describe("package", () => {
  it("is importable from ESM and CommonJS with the same named exports, and the testing entry too", async () => {
    const dir = consumer();
    writeFileSync(
      join(dir, "esm.mjs"),
      `import * as m from "aws-refresh-session"; import * as t from "aws-refresh-session/testing";
       console.log(JSON.stringify({ main: Object.keys(m).sort(), testing: Object.keys(t).sort(), ok: typeof m.refreshable === "function" && typeof m.RefreshableSession === "function" }));`,
    );
    writeFileSync(
      join(dir, "cjs.cjs"),
      `const m = require("aws-refresh-session"); const t = require("aws-refresh-session/testing");
       console.log(JSON.stringify({ main: Object.keys(m).sort(), testing: Object.keys(t).sort(), ok: typeof m.refreshable === "function" && typeof m.RefreshableSession === "function" }));`,
    );
    const esm = JSON.parse((await run(process.execPath, ["esm.mjs"], { cwd: dir })).stdout);
    const cjs = JSON.parse((await run(process.execPath, ["cjs.cjs"], { cwd: dir })).stdout);
    expect(esm.ok).toBe(true);
    expect(cjs.ok).toBe(true);
    expect(cjs.main).toEqual(esm.main);
    expect(cjs.testing).toEqual(esm.testing);
    expect(esm.main).toContain("RefreshSessionError");
    expect(esm.testing).toContain("startEmulator");
    for (const f of ["dist/index.d.ts", "dist/index.d.cts", "dist/testing.d.ts", "dist/testing.d.cts"]) {
      expect(existsSync(join(root, f))).toBe(true);
    }
  });

  it("close() lets the process exit on its own, timers and all", async () => {
    const dir = consumer();
    writeFileSync(
      join(dir, "exit.mjs"),
      `import { refreshable } from "aws-refresh-session";
       const creds = refreshable(async () => ({ accessKeyId: "AKIA1", secretAccessKey: "s", expiration: new Date(Date.now() + 3600e3) }));
       await creds();
       if (!creds.metrics().nextRefreshAt) throw new Error("expected a scheduled refresh");
       creds.close();
       console.log("closed");`,
    );
    // Without close() the timers are unref()ed anyway; with it they are gone. Either way the process must end.
    writeFileSync(
      join(dir, "noclose.mjs"),
      `import { refreshable } from "aws-refresh-session";
       const creds = refreshable(async () => ({ accessKeyId: "AKIA1", secretAccessKey: "s", expiration: new Date(Date.now() + 3600e3) }));
       await creds();
       console.log("left open");`,
    );
    const t0 = Date.now();
    expect((await run(process.execPath, ["exit.mjs"], { cwd: dir, timeout: 20_000 })).stdout.trim()).toBe("closed");
    expect((await run(process.execPath, ["noclose.mjs"], { cwd: dir, timeout: 20_000 })).stdout.trim()).toBe(
      "left open",
    );
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
});

describe("SDK integration", () => {
  it("the SDK does not wrap the engine in its own memoizer: a refresh reaches the very next request", async () => {
    const emu = await startEmulator();
    let n = 0;
    const creds = refreshable(async () => {
      n++;
      const { STSClient, AssumeRoleCommand } = await import("@aws-sdk/client-sts");
      const sts = new STSClient({ region: "us-east-1", endpoint: emu.url, credentials: emu.rootCredentials });
      const out = await sts.send(
        new AssumeRoleCommand({ RoleArn: "arn:aws:iam::123456789012:role/m", RoleSessionName: `s${n}` }),
      );
      sts.destroy();
      const c = out.Credentials!;
      return {
        accessKeyId: c.AccessKeyId!,
        secretAccessKey: c.SecretAccessKey!,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
      };
    });
    const s3 = new S3Client({ region: "us-east-1", endpoint: emu.url, forcePathStyle: true, credentials: creds });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: "memo" }));
      const firstKey = emu.requests("s3:CreateBucket").at(-1)!.accessKeyId;
      const fresh = await creds.refresh();
      expect(fresh.accessKeyId).not.toBe(firstKey);
      await s3.send(new ListObjectsV2Command({ Bucket: "memo" }));
      // The SDK's memoizer would still hold the hour-long first credential here.
      expect(emu.requests("s3:ListObjectsV2").at(-1)!.accessKeyId).toBe(fresh.accessKeyId);
      expect(creds.memoized).toBe(true);
    } finally {
      s3.destroy();
      creds.close();
      await emu.close();
    }
  });
});
