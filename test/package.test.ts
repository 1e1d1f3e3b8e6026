import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
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
  if (!existsSync(join(root, "dist/telemetry.cjs")) || !existsSync(join(root, "dist/index.js"))) {
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

  it("ships the telemetry entry, ESM and CommonJS, and the main entries never import @opentelemetry/api", async () => {
    const dir = consumer();
    const probe = `JSON.stringify({ keys: Object.keys(t).sort(), ok: typeof t.instrumentSession === "function" })`;
    writeFileSync(join(dir, "t.mjs"), `import * as t from "aws-refresh-session/telemetry"; console.log(${probe});`);
    writeFileSync(join(dir, "t.cjs"), `const t = require("aws-refresh-session/telemetry"); console.log(${probe});`);
    const esm = JSON.parse((await run(process.execPath, ["t.mjs"], { cwd: dir })).stdout);
    const cjs = JSON.parse((await run(process.execPath, ["t.cjs"], { cwd: dir })).stdout);
    expect(esm.ok).toBe(true);
    expect(cjs.keys).toEqual(esm.keys);
    expect(esm.keys).toEqual(expect.arrayContaining(["instrumentCredentialServer", "instrumentRefreshable"]));
    // Only the telemetry entry refers to the peer dependency; the others run without it being installed.
    for (const f of ["index.js", "index.cjs", "testing.js", "testing.cjs", "cli.js", "cli.cjs"]) {
      expect(readFileSync(join(root, "dist", f), "utf8")).not.toContain("@opentelemetry");
    }
    expect(readFileSync(join(root, "dist/telemetry.cjs"), "utf8")).toContain('require("@opentelemetry/api")');
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    expect(pkg.peerDependenciesMeta["@opentelemetry/api"]).toEqual({ optional: true });
    expect(pkg.dependencies["@opentelemetry/api"]).toBeUndefined();
  });

  it("engines names the Node majors CI tests: the machine's and .ci/run's extra versions", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const engines = [...String(pkg.engines.node).matchAll(/\^(\d+)\.0\.0/g)].map((m) => Number(m[1]));
    const ci = /^EXTRA_NODE_VERSIONS="([\d ]+)"$/m.exec(readFileSync(join(root, ".ci/run"), "utf8"));
    const extra = (ci?.[1] ?? "").split(" ").map(Number);
    expect(pkg.engines.node).toBe(engines.map((v) => `^${v}.0.0`).join(" || "));
    expect(extra.length).toBeGreaterThan(0);
    // Every extra version is in engines, and engines has one more: the machine's own, which runs `npm test`.
    expect(engines.filter((v) => !extra.includes(v))).toHaveLength(1);
    expect(extra.every((v) => engines.includes(v))).toBe(true);
    expect(engines).toContain(Number(process.versions.node.split(".")[0]));
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
        sessionToken: c.SessionToken!,
        expiration: c.Expiration!,
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
