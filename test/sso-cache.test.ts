import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build as esbuild } from "esbuild";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { RefreshSessionError } from "../src/errors.js";
import {
  checkTokenFile,
  readJsonFile,
  registrationCacheKey,
  tokenCacheKey,
  writeJsonAtomic,
  formatCacheTime,
} from "../src/sso/cache.js";
import { tokenPathFor } from "../src/sso/login.js";
import { loadSsoConfig } from "../src/sso/config.js";
import { interopAvailable } from "./helpers/interop.js";
import { waitForOutput } from "./helpers/cli.js";
import { ssoWorld, type SsoWorld } from "./helpers/sso.js";
import { waitFor } from "./helpers/wait.js";

const root = resolve(__dirname, "..");
const run = promisify(execFile);

let world: SsoWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function python(code: string): string {
  const out = spawnSync("python3", ["-c", code], { encoding: "utf8", timeout: 30_000 });
  if (out.status !== 0) throw new Error(out.stderr);
  return out.stdout.trim();
}

describe("SSO cache: file names and format shared with botocore and the AWS CLI v2", () => {
  const boto = interopAvailable("boto3");

  it.skipIf(!boto.ok)("names token files exactly as botocore's SSOTokenLoader does", () => {
    const cases: [string, string | undefined][] = [
      ["https://corp.awsapps.com/start", "corp"],
      ["https://legacy.awsapps.com/start", undefined],
      ["https://d-123.awsapps.com/start#/", "équipe données"],
    ];
    for (const [url, session] of cases) {
      const expected = python(
        `from botocore.utils import SSOTokenLoader; print(SSOTokenLoader()._generate_cache_key(${JSON.stringify(url)}, ${
          session === undefined ? "None" : JSON.stringify(session)
        }))`,
      );
      expect(tokenCacheKey(url, session)).toBe(expected);
    }
  });

  it.skipIf(!boto.ok)("names client registrations as the AWS CLI v2 does (sha1 of its sorted JSON arguments)", () => {
    const cases = [
      {
        startUrl: "https://corp.awsapps.com/start",
        region: "us-east-1",
        scopes: ["sso:account:access"],
        sessionName: "corp",
      },
      { startUrl: "https://legacy.awsapps.com/start", region: "eu-west-1", scopes: undefined, sessionName: undefined },
      { startUrl: "https://x.awsapps.com/start", region: "us-east-1", scopes: ["a", "b:c"], sessionName: "séance" },
    ];
    for (const c of cases) {
      // The AWS CLI v2's BaseSSOTokenFetcher._registration_cache_key, run by Python itself.
      const expected = python(
        "import hashlib, json; args = {'tool': 'botocore', 'startUrl': " +
          JSON.stringify(c.startUrl) +
          ", 'region': " +
          JSON.stringify(c.region) +
          ", 'scopes': " +
          (c.scopes ? JSON.stringify(c.scopes) : "None") +
          ", 'session_name': " +
          (c.sessionName ? JSON.stringify(c.sessionName) : "None") +
          "}; print(hashlib.sha1(json.dumps(args, sort_keys=True).encode('utf-8')).hexdigest())",
      );
      expect(registrationCacheKey(c)).toBe(expected);
    }
  });

  it("writes atomically with mode 0600 in a 0700 directory, leaving no temporary file", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "sso-atomic-")), "sso", "cache");
    const file = join(dir, "x.json");
    await writeJsonAtomic(file, { accessToken: "t", expiresAt: formatCacheTime(Date.now() + 60_000) });
    await writeJsonAtomic(file, { accessToken: "u", expiresAt: formatCacheTime(Date.now() + 60_000) });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual(["x.json"]);
    expect(JSON.parse(readFileSync(file, "utf8")).accessToken).toBe("u");
    expect(formatCacheTime(Date.UTC(2024, 0, 2, 3, 4, 5, 678))).toBe("2024-01-02T03:04:05Z");
  });

  it("names the file and the fix for corrupt JSON, an empty file and missing or wrong fields, never its content", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sso-bad-"));
    const file = join(dir, "t.json");
    const ctx = { profile: "dev", fix: "aws-refresh login --profile dev" };
    const secret = "aoaSECRETTOKENVALUE123";
    const cases: [string, RegExp][] = [
      [
        `{"accessToken": "${secret}", "expiresAt": `,
        /is not valid JSON\. Delete it and run `aws-refresh login --profile dev`/,
      ],
      ["", /is not valid JSON \(it is empty\)/],
      [`["${secret}"]`, /does not hold a JSON object/],
      [`{"expiresAt": "2030-01-01T00:00:00Z"}`, /has no `accessToken`/],
      [`{"accessToken": "${secret}"}`, /has no valid `expiresAt`/],
      [`{"accessToken": "${secret}", "expiresAt": "tomorrow"}`, /has no valid `expiresAt`/],
      [
        `{"accessToken": "${secret}", "expiresAt": "2030-01-01T00:00:00Z", "refreshToken": 5}`,
        /`refreshToken` that is not a string/,
      ],
    ];
    for (const [content, message] of cases) {
      writeFileSync(file, content);
      const err = await (async () => {
        const got = await readJsonFile(file, ctx);
        return checkTokenFile(got!.value, file, ctx);
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RefreshSessionError);
      expect((err as RefreshSessionError).code).toBe("SSO_CACHE_INVALID");
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).not.toContain(secret);
    }
  });
});

describe("SSO cache shared by 8 processes", () => {
  beforeAll(async () => {
    const built = join(root, "dist/index.js");
    if (!existsSync(built) || !readFileSync(built, "utf8").includes("fromSso")) {
      await run("npx", ["tsup"], { cwd: root });
    }
  }, 120_000);

  it("makes one CreateToken per refresh, takes over the lock of a process killed mid-write, and never shows a corrupt file", async () => {
    world = await ssoWorld({
      // Role credentials for 4 s, SSO tokens for 2 s: several token refreshes while the workers run.
      emulator: { credentialLifetimeSeconds: 4 },
      sso: { accessTokenLifetimeSeconds: 2 },
    });
    const w = world;
    await w.login();
    const cfg = await loadSsoConfig({ profile: "dev" });
    const tokenFile = tokenPathFor(cfg);
    // A token about to expire, written long ago: every process must refresh it before using it.
    const stale = JSON.parse(readFileSync(tokenFile, "utf8")) as Record<string, unknown>;
    writeFileSync(tokenFile, JSON.stringify({ ...stale, expiresAt: formatCacheTime(Date.now() + 1500) }));
    utimesSync(tokenFile, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));

    const dir = mkdtempSync(join(tmpdir(), "sso-workers-"));
    const dist = pathToFileURL(join(root, "dist/index.js")).href;
    const worker = join(dir, "worker.mjs");
    // A job: whoami every 50 ms, says "started" after its first success, and stops once the test closes its stdin and
    // it has made more than 10 requests (or at its deadline, argv[2] ms). Its lock goes stale after 4 s without an
    // update (one every 2 s): short, so the killed writer's lock is taken over quickly, yet long enough that eight
    // workers on a loaded 2-core machine keep the locks they hold (at 2 s, a worker stalled past it lost its lock
    // mid-refresh and a second worker presented the same refresh token).
    writeFileSync(
      worker,
      `import { RefreshableSession } from ${JSON.stringify(dist)};
       const session = new RefreshableSession({ method: "sso", profile: "dev", lockStaleMs: 4000, loginTimeoutMs: 5000, autoLogin: false });
       let requests = 0; const failures = [];
       let stop = false;
       process.stdin.on("end", () => (stop = true)).resume();
       const deadline = Date.now() + Number(process.argv[2]);
       while (!(stop && requests > 10) && Date.now() < deadline) {
         try {
           await session.whoami();
           if (++requests === 1) console.log("started");
         } catch (e) { failures.push(String(e && e.message)); }
         await new Promise((r) => setTimeout(r, 50));
       }
       session.close();
       process.stdin.destroy();
       console.log(JSON.stringify({ requests, failures }));`,
    );
    // The library's own writer, run in a process of its own: takes the cache lock, then rewrites the token file with a
    // large extra field. Half way through writing its temporary file it says "mid-write" and stops there, to be killed.
    const hammerTs = join(dir, "hammer.ts");
    writeFileSync(
      hammerTs,
      `import { readFileSync } from "node:fs";
       import { open } from "node:fs/promises";
       import { withCacheLock, writeJsonAtomic } from ${JSON.stringify(join(root, "src/sso/cache.ts"))};
       const file = process.argv[2] as string;
       void (async () => {
         const probe = await open(file, "r");
         const proto = Object.getPrototypeOf(probe);
         await probe.close();
         const writeFile = proto.writeFile;
         proto.writeFile = async function (this: unknown, data: string, options: unknown) {
           await writeFile.call(this, data.slice(0, data.length >> 1), options);
           process.stdout.write("mid-write\\n");
           setInterval(() => {}, 60_000);
           await new Promise(() => {});
         };
         await withCacheLock(file, async () => {
           const token = JSON.parse(readFileSync(file, "utf8"));
           await writeJsonAtomic(file, { ...token, padding: "x".repeat(1 << 20) });
         }, { staleMs: 2000 });
       })();`,
    );
    const hammer = join(dir, "hammer.cjs");
    await esbuild({
      entryPoints: [hammerTs],
      bundle: true,
      platform: "node",
      format: "cjs",
      outfile: hammer,
      logLevel: "error",
    });

    let invalidReads = 0;
    let reads = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        try {
          const v = JSON.parse(readFileSync(tokenFile, "utf8")) as { accessToken?: unknown };
          if (typeof v.accessToken !== "string") invalidReads++;
        } catch {
          invalidReads++;
        }
        reads++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    let started = 0;
    const children: ChildProcess[] = [];
    const workers = Array.from(
      { length: 8 },
      () =>
        new Promise<{ code: number | null; out: string; err: string }>((done) => {
          const child = spawn(process.execPath, [worker, "90000"], { env: w.env, cwd: root });
          children.push(child);
          let out = "";
          let err = "";
          child.stdout.on("data", (d: Buffer) => {
            const had = out.includes("started\n");
            out += d.toString();
            if (!had && out.includes("started\n")) started++;
          });
          child.stderr.on("data", (d: Buffer) => (err += d.toString()));
          child.on("close", (code) => done({ code, out, err }));
        }),
    );
    try {
      // Mid-run (every worker has refreshed the stale token or used another's refresh, and is calling AWS), a process
      // takes the cache lock and is killed while writing the token file.
      await waitFor(() => started === 8, { what: "8 workers making requests", timeoutMs: 60_000 });
      const killed = spawn(process.execPath, [hammer, tokenFile], {
        env: w.env,
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"],
      });
      await waitForOutput(killed.stdout!, "mid-write", 60_000);
      // It holds the lock: every refresh from here on comes after its lock went stale.
      const grantsAtKill = w.oidc.grants("refresh_token");
      killed.kill("SIGKILL");
      await new Promise((r) => killed.once("close", r));
      const tmpName = (n: string): boolean => n.includes(`.${killed.pid}.`) && n.endsWith(".tmp");
      const leftover = readdirSync(w.cacheDir).filter(tmpName);
      // The workers carry on through a refresh made after the dead writer's lock went stale.
      await waitFor(
        () => w.oidc.grants("refresh_token") > grantsAtKill && w.oidc.grants("refresh_token") >= 3 && reads > 100,
        { what: "a refresh after the killed process's lock went stale", timeoutMs: 60_000 },
      );
      expect(w.oidc.grants("refresh_token")).toBeGreaterThan(grantsAtKill);
      expect(leftover).toHaveLength(1);
    } finally {
      for (const c of children) c.stdin!.end();
    }

    const results = await Promise.all(workers);
    polling = false;
    await poll;
    for (const r of results) {
      expect(r.code, r.err).toBe(0);
      const summary = JSON.parse(r.out.trim().split("\n").at(-1) as string) as { requests: number; failures: string[] };
      expect(summary.failures).toEqual([]);
      expect(summary.requests).toBeGreaterThan(10);
    }
    // The killed writer left only its hidden temporary file (checked above); readers never saw a corrupt or empty
    // token file.
    expect(reads).toBeGreaterThan(100);
    expect(invalidReads).toBe(0);
    const final = JSON.parse(readFileSync(tokenFile, "utf8")) as Record<string, unknown>;
    expect(typeof final.accessToken).toBe("string");
    expect(final.padding).toBeUndefined();
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    // Several refreshes happened, including after the killed process's lock went stale (checked above), and no refresh
    // token was ever presented twice: one CreateToken per refresh across the 8 processes.
    expect(w.oidc.grants("refresh_token")).toBeGreaterThanOrEqual(3);
    expect(w.oidc.reusedRefreshTokens()).toBe(0);
  }, 150_000);
});
