import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/testing.js";
import { awsConfigDir, cleanEnv, CLI, ensureBuilt, ROOT, ROOT_PROFILE } from "./helpers/cli.js";

// What the CLI loads to answer, counted by a preload that records every module a process loaded. Start-up speed
// itself is measured in bench/startup.mjs; here, what must not be loaded is not.
const run = promisify(execFile);
const RECORDER = join(__dirname, "helpers/record-modules.cjs");

let emu: Emulator;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await ensureBuilt();
  emu = await startEmulator();
  const cfg = awsConfigDir(
    `${ROOT_PROFILE}[profile base]\nrole_arn = arn:aws:iam::123456789012:role/base\nsource_profile = root\n`,
  );
  dir = cfg.dir;
  env = cleanEnv({ ...cfg.env, AWS_ENDPOINT_URL: emu.url });
}, 120_000);

afterAll(async () => {
  await emu.close();
});

let runs = 0;
/** The installed `aws-refresh` (package.json's bin), and the program it imports for anything but --version/--help. */
const BIN = join(ROOT, "dist/cli.cjs");

/** Runs `node dist/cli.js ...args` (or `entry`) with the recorder; its stdout and the modules it loaded (paths). */
async function recorded(args: string[], entry = CLI): Promise<{ stdout: string; modules: string[] }> {
  const file = join(dir, `modules-${runs++}.json`);
  const out = await run(process.execPath, ["--require", RECORDER, "--", entry, ...args], {
    env: { ...env, RECORD_MODULES_FILE: file },
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  const modules = JSON.parse(readFileSync(file, "utf8")) as string[];
  rmSync(file);
  rmSync(`${file}.esm`, { force: true });
  return { stdout: out.stdout, modules };
}

/** The packages (`@aws-sdk/client-sts`, `commander`…) among recorded module paths. */
function packages(modules: string[]): Set<string> {
  const names = new Set<string>();
  for (const m of modules) {
    const at = m.lastIndexOf("/node_modules/");
    if (at < 0) continue;
    const [scope, name] = m.slice(at + "/node_modules/".length).split("/");
    names.add(scope!.startsWith("@") ? `${scope}/${name}` : scope!);
  }
  return names;
}

describe("what the CLI loads", () => {
  it("package.json's bin is dist/cli.cjs, which hands commands to the program", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(join(ROOT, pkg.bin["aws-refresh"])).toBe(BIN);
    const r = await recorded(["credential-process", "--help"], BIN);
    expect(r.stdout).toContain("Usage: aws-refresh credential-process [options]");
    expect(packages(r.modules).has("commander")).toBe(true);
  });

  for (const entry of [BIN, CLI]) {
    const name = entry === BIN ? "dist/cli.cjs" : "dist/cli.js";
    it(`${name} answers --version and --help (-V, -h) without loading commander, as commander would`, async () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
      // `help` goes through commander: the text the fast path prints must be the one commander renders.
      const byCommander = (await run(process.execPath, ["--", entry, "help"], { env, encoding: "utf8" })).stdout;
      expect(byCommander).toContain("credential-process [options]");
      for (const flag of ["--help", "-h"]) {
        const r = await recorded([flag], entry);
        expect(r.stdout).toBe(byCommander);
        expect(packages(r.modules).has("commander")).toBe(false);
      }
      for (const flag of ["--version", "-V"]) {
        const r = await recorded([flag], entry);
        expect(r.stdout).toBe(`${pkg.version}\n`);
        expect(packages(r.modules).size).toBe(0);
      }
    });
  }

  it("credential-process answers a cache hit without the SDK or the lock; a miss loads them (control)", async () => {
    const cache = join(dir, "cache");
    const args = ["credential-process", "--profile", "base", "--cache-dir", cache];
    const miss = await recorded(args);
    const missed = packages(miss.modules);
    // The control: the recorder sees the SDK when it is loaded, so its absence below means something.
    expect([...missed].some((p) => p.startsWith("@aws-sdk/"))).toBe(true);
    expect(missed.has("proper-lockfile")).toBe(true);

    const before = emu.calls("sts:AssumeRole");
    const keyId = JSON.parse(miss.stdout).AccessKeyId;
    for (const entry of [CLI, BIN]) {
      const hit = await recorded(args, entry);
      expect(JSON.parse(hit.stdout).AccessKeyId).toBe(keyId);
      const loaded = packages(hit.modules);
      expect([...loaded].filter((p) => p.startsWith("@aws-sdk/"))).toEqual([]);
      expect(loaded.has("proper-lockfile")).toBe(false);
      // Nor commander, nor the SDK's INI loader (@smithy/core): the hit is answered before the program is loaded.
      expect([...loaded]).toEqual([]);
    }
    // The flags' other spellings hit the same entry; a flag the quick path leaves to commander runs the command.
    const full = await recorded([...args.slice(0, 3), `--cache-dir=${cache}`, "--min-ttl", "20m"], BIN);
    expect(JSON.parse(full.stdout).AccessKeyId).toBe(keyId);
    const viaProgram = await recorded([...args, "--no-cache"], BIN);
    expect(packages(viaProgram.modules).has("commander")).toBe(true);
    expect(emu.calls("sts:AssumeRole")).toBe(before + 1);
  });

  it("the quick path leaves what the full command refuses to it, even with a cache entry", async () => {
    const cache = join(dir, "cache-refused");
    const args = ["credential-process", "--profile", "base", "--cache-dir", cache];
    expect(JSON.parse((await recorded(args, BIN)).stdout).Version).toBe(1);
    const configFile = env.AWS_CONFIG_FILE as string;
    const good = readFileSync(configFile, "utf8");
    try {
      // A key given twice: the AWS CLI refuses the file, and so does credential-process, cached entry or not.
      writeFileSync(configFile, `${good}region = us-east-1\nregion = eu-west-1\n`);
      const r = await run(process.execPath, ["--", BIN, ...args], { env, encoding: "utf8" }).catch(
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      expect((r as { code?: number }).code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(configFile);
    } finally {
      writeFileSync(configFile, good);
    }
    // A loop is reported by the full command, not answered from the cache.
    const loop = await run(process.execPath, ["--", BIN, ...args], {
      env: { ...env, AWS_REFRESH_CREDENTIAL_PROCESS: "base" },
      encoding: "utf8",
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect((loop as { code?: number }).code).toBe(1);
    expect(loop.stderr).toContain("loop");
  });
});
