/**
 * The docs' TypeScript examples run, not only compile: each file of docs/examples/ is turned into JavaScript (esbuild,
 * no bundling), run by Node in a throwaway project that depends on this package by name (as a user's would), against
 * the project's emulator, and what it prints is checked. `npm run check` compiles the same files; the pages quote
 * them, and the last test checks that every quoted copy is the file's text.
 */
import { execFile, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { transformSync } from "esbuild";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { addSsoServices, startEmulator, type Emulator } from "../src/testing.js";
import { cleanEnv, ensureBuilt, ROOT, TEST_JWT } from "./helpers/cli.js";

const run = promisify(execFile);
const EXAMPLES = join(ROOT, "docs/examples");
/** Pages whose TypeScript blocks must all be quoted examples (the older pages keep their own snippets). */
const PAGES = [
  "README.md",
  "docs/README.md",
  "docs/library.md",
  "docs/engine.md",
  "docs/sources.md",
  "docs/profiles.md",
  "docs/recovery.md",
  "docs/sso.md",
  "docs/cli.md",
  "docs/emulator.md",
  "docs/benchmarks.md",
  "docs/errors.md",
  "docs/fleet.md",
];
/** Pages other work adds; links to them are kept, and checked once they exist (all exist now). */
const PAGES_TO_COME = new Set<string>([]);
// Compiled by `npm run check`, not run: they need what this machine has not (a PKCS#11 token or host certificate
// files under /etc, EKS's web-identity and Pod Identity variables, an `aws login` session in ~/.aws/login).
const COMPILE_ONLY = new Set(["iot-device.ts", "roles-anywhere-metaflow.ts", "fleet.ts", "aws-login.ts"]);

let emu: Emulator;
let project: string;
let home: string;
let broker: Server;
let brokerUrl: string;

/** A throwaway project: the package by name (a link to this checkout, built) and the SDK packages examples import. */
function consumer(): string {
  const dir = mkdtempSync(join(tmpdir(), "docs-examples-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "aws-refresh-session"), "dir");
  for (const scope of ["@aws-sdk", "@smithy", "@opentelemetry"]) {
    symlinkSync(join(ROOT, "node_modules", scope), join(dir, "node_modules", scope), "dir");
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "docs-examples", private: true, type: "module" }));
  return dir;
}

const CONFIG = (emulatorUrl: string): string =>
  [
    "[profile base]",
    "aws_access_key_id = AKIAEMULATORROOT0001",
    "aws_secret_access_key = emulator-root-secret-key-not-for-aws-0001",
    "",
    "[profile etl]",
    "role_arn = arn:aws:iam::123456789012:role/etl",
    "source_profile = base",
    "region = us-east-1",
    `endpoint_url = ${emulatorUrl}`,
    "",
    "[profile ml]",
    "sso_session = corp",
    "sso_account_id = 123456789012",
    "sso_role_name = AdministratorAccess",
    "region = us-east-1",
    "",
    "[sso-session corp]",
    "sso_start_url = https://acme.awsapps.com/start",
    "sso_region = us-east-1",
    "sso_registration_scopes = sso:account:access",
    "aws_refresh_sso_session_duration = 12h",
    "",
  ].join("\n");

/** The environment an example runs in: the test's config files and the emulator, no other AWS_* variable. */
function exampleEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return cleanEnv({
    HOME: home,
    AWS_CONFIG_FILE: join(home, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: "us-east-1",
    ...env,
  });
}

/** Writes the example as JavaScript into the throwaway project; returns its path. */
function compiled(file: string): string {
  const source = readFileSync(join(EXAMPLES, file), "utf8");
  const { code } = transformSync(source, { loader: "ts", format: "esm", target: "node20", sourcefile: file });
  const out = join(project, file.replace(/\.ts$/, ".mjs"));
  writeFileSync(out, code);
  return out;
}

/**
 * Runs an example that serves until SIGTERM: once it has set its SIGTERM handler (a preload says so on stderr), the
 * signal is sent; resolves to its exit code and output.
 */
function exampleUntilSigterm(
  file: string,
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const hook = join(project, "sigterm-hook.mjs");
  writeFileSync(
    hook,
    "const once = process.once.bind(process);\n" +
      "process.once = (event, fn) => { const r = once(event, fn); " +
      'if (event === "SIGTERM") process.stderr.write("[harness] SIGTERM handler set\\n"); return r; };\n',
  );
  const child = spawn(process.execPath, ["--import", hook, compiled(file)], { cwd: project, env: exampleEnv(env) });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (stderr.includes("[harness] SIGTERM handler set")) child.kill("SIGTERM");
  });
  return new Promise((done) => child.on("close", (code) => done({ code, stdout, stderr })));
}

/** Runs one example; resolves to what it printed on stdout and stderr. */
async function example(
  file: string,
  env: Record<string, string | undefined> = {},
): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [compiled(file)], { cwd: project, timeout: 60_000, env: exampleEnv(env) });
}

beforeAll(async () => {
  await ensureBuilt();
  emu = await startEmulator();
  // A user who approves each login a moment after being told: the SSO example's first fetch logs in headlessly, as a
  // job does when its session ends.
  const { oidc } = addSsoServices(emu);
  oidc.onDeviceAuthorization((a) => setTimeout(() => oidc.approve(a.userCode), 300));
  project = consumer();
  home = mkdtempSync(join(tmpdir(), "docs-examples-home-"));
  writeFileSync(join(home, "config"), CONFIG(emu.url));
  writeFileSync(join(home, "credentials"), "");
  const s3 = new S3Client({
    region: emu.region,
    endpoint: emu.url,
    forcePathStyle: true,
    credentials: emu.rootCredentials,
  });
  await s3.send(new CreateBucketCommand({ Bucket: "acme-etl-data" }));
  await s3.send(new CreateBucketCommand({ Bucket: "acme-ml-runs" }));
  await s3.send(new PutObjectCommand({ Bucket: "acme-etl-data", Key: "2026/05/01/part-0.csv", Body: "a,b\n1,2\n" }));
  s3.destroy();
  writeFileSync(join(home, "web-identity-token"), TEST_JWT);
  // A credential broker such as a vault: each call issues a new 15-minute emulator credential.
  broker = createServer((_req, res) => {
    const c = emu.issueCredential("AssumedRole", "arn:aws:sts::123456789012:assumed-role/broker/etl", "AROA:etl", 900);
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify({
        key: c.accessKeyId,
        secret: c.secretAccessKey,
        token: c.sessionToken,
        expires: new Date(c.expiration as number).toISOString(),
      }),
    );
  });
  await new Promise<void>((r) => broker.listen(0, "127.0.0.1", r));
  brokerUrl = `http://127.0.0.1:${(broker.address() as AddressInfo).port}/v1/aws/creds/etl`;
}, 120_000);

afterEach(() => {
  emu.clearFaults();
  emu.setClockOffset(0);
  emu.setCredentialLifetime(3600);
});

afterAll(async () => {
  await new Promise((r) => broker?.close(r));
  await emu?.close();
});

describe("docs/examples", () => {
  it("profile-session.ts: a role profile, kept fresh, lists the bucket as the role", async () => {
    const { stdout } = await example("profile-session.ts");
    expect(stdout).toMatch(/^running as arn:aws:sts::123456789012:assumed-role\/etl\//m);
    expect(stdout).toMatch(/^1 objects; credentials expire \d{4}-\d\d-\d\dT/m);
    expect(emu.calls("sts:AssumeRole")).toBeGreaterThanOrEqual(1);
  });

  it("refreshable-any-client.ts: refreshable(fromIni()) with a region lists buckets with one source call", async () => {
    const { stdout, stderr } = await example("refreshable-any-client.ts");
    expect(stderr).not.toMatch(/Region is missing/);
    expect(stdout).toMatch(/^new credential \*{4}\w{4}, expires \d{4}-/m);
    expect(stdout).toMatch(/^buckets: .*acme-etl-data/m);
    expect(stdout).toMatch(/^source calls so far: 1$/m);
  });

  it("session-options.ts: a hand-built client from clientConfig() and plugin() reads the object", async () => {
    const { stdout } = await example("session-options.ts");
    expect(stdout).toMatch(/^read 8 bytes$/m);
    expect(stdout).toMatch(/^refreshes=1 failures=0 advisoryMs=1200000 mandatoryMs=600000$/m);
  });

  it("engine-single-flight.ts: one source call for 500 callers, static stability, a new credential after expiry", async () => {
    const { stdout } = await example("engine-single-flight.ts");
    expect(stdout).toMatch(/^500 concurrent callers, 1 source call$/m);
    expect(stdout).toMatch(/^forced refresh failed: .*the broker is down/m);
    expect(stdout).toMatch(/^still serving 0001; refreshFailures=1$/m);
    expect(stdout).toMatch(/^after expiry: serving (?!0001)\d{4}, never an expired one$/m);
  });

  it("sources-sts-mfa.ts: one MFA prompt for two role credentials, and a role chain", async () => {
    const { stdout } = await example("sources-sts-mfa.ts", { AWS_PROFILE: "base" });
    expect(stdout).toMatch(/^admin: arn:aws:sts::123456789012:assumed-role\/admin\//m);
    expect(stdout).toMatch(/^MFA prompts: 1; MFA session ends \d{4}-/m);
    expect(stdout).toMatch(/^spoke: arn:aws:sts::123456789012:assumed-role\/spoke\//m);
    expect(emu.requests("sts:GetSessionToken").length).toBeGreaterThanOrEqual(1);
  });

  it("sources-web-identity.ts: AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE from the environment", async () => {
    const { stdout } = await example("sources-web-identity.ts", {
      AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/ci",
      AWS_WEB_IDENTITY_TOKEN_FILE: join(home, "web-identity-token"),
    });
    expect(stdout).toMatch(/^web identity: arn:aws:sts::123456789012:assumed-role\/ci\//m);
  });

  it("sources-custom.ts: a broker function as method custom and as fromCustom()", async () => {
    const { stdout } = await example("sources-custom.ts", { BROKER_URL: brokerUrl });
    expect(stdout).toMatch(/^session: arn:aws:sts::123456789012:assumed-role\/broker\/etl$/m);
    expect(stdout).toMatch(/^engine: broker, expires \d{4}-/m);
  });

  it("sources-provider.ts: SDK providers given background refresh", async () => {
    const { stdout } = await example("sources-provider.ts");
    expect(stdout).toMatch(/^fromIni: arn:aws:sts::123456789012:assumed-role\/etl\//m);
    expect(stdout).toMatch(/^fromTemporaryCredentials: expires \d{4}-/m);
  });

  it("profiles-one-read.ts: one read, two profiles described", async () => {
    const { stdout } = await example("profiles-one-read.ts");
    expect(stdout).toMatch(/^read .*config: profiles base, etl, ml$/m);
    expect(stdout).toMatch(/^etl \(assume-role\): assume arn:aws:iam::123456789012:role\/etl from profile base/m);
    expect(stdout).toMatch(/; region us-east-1$/m);
    expect(stdout).toMatch(/^etl expires \d{4}-/m);
    expect(stdout).toMatch(/^base: profile base: static keys in /m);
  });

  it("recovery-session.ts: an ExpiredToken answer is replayed with a fresh credential", async () => {
    emu.fault("s3:GetObject", { error: { code: "ExpiredToken", status: 400 }, times: 1 });
    const { stdout } = await example("recovery-session.ts");
    expect(stdout).toMatch(/^GetObject: ExpiredToken, replayed with \*{4}\w{4}$/m);
    expect(stdout).toMatch(/^got 8 bytes; recoveries=1$/m);
  });

  it("recovery-plugin.ts: the plugin on a hand-built client recovers too", async () => {
    emu.fault("s3:ListObjectsV2", { error: { code: "ExpiredToken", status: 400 }, times: 1 });
    const { stdout } = await example("recovery-plugin.ts");
    expect(stdout).toMatch(/^recovered ListObjectsV2 \(ExpiredToken\)$/m);
    expect(stdout).toMatch(/^listed 1 objects$/m);
  });

  it("clock-skew.ts: a local clock 10 minutes behind the emulator's is measured and warned about", async () => {
    emu.setClockOffset(10 * 60_000);
    const { stdout, stderr } = await example("clock-skew.ts");
    expect(stdout).toMatch(/^AWS's clock minus ours: (599|600|601) s$/m);
    expect(stderr).toMatch(/local clock is \d+ ms behind AWS/);
  });

  it("presign.ts: a 6-hour URL on 1-hour credentials is capped, strict refuses, the URL works", async () => {
    const { stdout } = await example("presign.ts");
    expect(stdout).toMatch(/^capped: the link works until \d{4}-/m);
    expect(stdout).toMatch(/^the URL itself says \d{4}-/m);
    expect(stdout).toMatch(/^strict: PRESIGN_LIFETIME$/m);
    expect(stdout).toMatch(/^GET 200$/m);
  });

  it("errors-handling.ts: a wrong-shape credential is SOURCE_FAILED with INVALID_CREDENTIALS as cause", async () => {
    const { stdout } = await example("errors-handling.ts");
    expect(stdout).toMatch(/^SOURCE_FAILED \(cause: INVALID_CREDENTIALS\) from custom/m);
    expect(stdout).toMatch(/^PROFILE_NOT_FOUND from /m);
    expect(stdout).toMatch(/^profile: no-such-profile$/m);
  });

  it("emulator-test.ts: a job over rotations, faults and a revocation, every put recovered", async () => {
    const { stdout } = await example("emulator-test.ts");
    const m = /^(\d+) puts, (\d+) AssumeRole calls, (\d+) refused, all recovered$/m.exec(stdout);
    expect(m, stdout).not.toBeNull();
    expect(Number(m?.[2])).toBeGreaterThanOrEqual(3);
    expect(stdout).toMatch(/^recoveries=1$/m);
  });

  it("emulator-certificates.ts: IoT and Roles Anywhere sessions against the emulator", async () => {
    const { stdout } = await example("emulator-certificates.ts");
    expect(stdout).toMatch(/^iot: arn:aws:sts::123456789012:assumed-role\/uploader\//m);
    expect(stdout).toMatch(/^roles-anywhere: arn:aws:sts::123456789012:assumed-role\/metaflow-onprem\//m);
    expect(stdout).toMatch(/^certificate ends \d{4}-/m);
  });

  it("emulator-sso.ts: a job over two 8-second SSO sessions, re-logged-in, no call failed", async () => {
    const { stdout } = await example("emulator-sso.ts");
    const m = /^(\d+) calls, none failed; (\d+) logins; (\d+) Identity Center sessions$/m.exec(stdout);
    expect(m, stdout).not.toBeNull();
    expect(Number(m?.[2])).toBeGreaterThanOrEqual(2); // the first login, and one before the first session ended
    expect(Number(m?.[3])).toBeGreaterThanOrEqual(2);
    expect(stdout).toMatch(/^refresh tokens used twice: 0$/m);
  });

  it("telemetry.ts: instruments a session and a server, and SIGTERM shuts everything down", async () => {
    const { code, stderr } = await exampleUntilSigterm("telemetry.ts", { AWS_PROFILE: "base" });
    // The handler closed the instruments, the server, the session and the provider: had one stayed open (the server's
    // socket), the process would not have exited at all.
    expect(code).toBe(0);
    expect(stderr.replace("[harness] SIGTERM handler set\n", "")).toBe("");
  });

  it("sso-long-job.ts: an SSO profile with no login yet logs in headlessly and puts the object", async () => {
    const { stdout, stderr } = await example("sso-long-job.ts");
    expect(stderr).toMatch(/^approve http:\/\/127\.0\.0\.1:\d+\/device\?user_code=[\w-]+ \(code [\w-]+\)$/m); // the event
    const told = readFileSync(join(home, "aws-logins.txt"), "utf8"); // the notify command
    expect(told).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/device\?user_code=[\w-]+$/m);
    expect(stdout).toMatch(/^SSO login picked up \(device-authorization\); carrying on$/m);
    expect(stdout).toMatch(/^session ends \d{4}-.*: /m);
    expect(emu.s3.object("acme-ml-runs", "run-1/started")).toBeDefined();
  });
});

describe("docs pages", () => {
  it("quote every example exactly as its file, and quote only files that exist", () => {
    const quoted = new Set<string>();
    for (const page of PAGES) {
      const path = join(ROOT, page);
      if (!existsSync(path)) continue;
      const text = readFileSync(path, "utf8");
      // Every TypeScript block is a quoted example: `<!-- example: NAME.ts -->` just before its fence.
      const blocks = [...text.matchAll(/(?:<!-- example: ([\w.-]+\.ts) -->\n\n?)?```ts\n([\s\S]*?)```/g)];
      for (const [, name, body] of blocks) {
        expect(name, `${page}: a \`\`\`ts block without <!-- example: NAME.ts --> before it`).toBeDefined();
        const file = join(EXAMPLES, name as string);
        expect(existsSync(file), `${page} quotes docs/examples/${name}, which does not exist`).toBe(true);
        expect(body, `${page}: the copy of ${name} differs from the file`).toBe(readFileSync(file, "utf8"));
        quoted.add(name as string);
      }
    }
    // Every example is quoted by a page, or (the older pages) linked from one, so none is dead.
    const linked = readdirSync(join(ROOT, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => readFileSync(join(ROOT, "docs", f), "utf8"))
      .join("\n");
    for (const f of readdirSync(EXAMPLES).filter((x) => x.endsWith(".ts"))) {
      expect(quoted.has(f) || linked.includes(`(examples/${f})`), `docs/examples/${f} is shown by no page`).toBe(true);
    }
  });

  it("every example that is not compile-only has a test here", () => {
    const tested = readFileSync(resolve(__filename), "utf8");
    for (const f of readdirSync(EXAMPLES).filter((x) => x.endsWith(".ts") && !COMPILE_ONLY.has(x))) {
      const runs = tested.includes(`example("${f}"`) || tested.includes(`exampleUntilSigterm("${f}"`);
      expect(runs, `docs/examples/${f} is not run by test/docs-examples.test.ts`).toBe(true);
    }
  });

  it("link only to files and headings that exist", () => {
    const slugs = (file: string): Set<string> => {
      const text = readFileSync(file, "utf8").replace(/^```[\s\S]*?^```/gm, "");
      const seen = new Set<string>();
      for (const [, heading] of text.matchAll(/^#{1,6} (.+)$/gm)) {
        // GitHub's anchors: lower case, punctuation dropped (hyphens kept), each space a hyphen.
        seen.add(
          (heading as string)
            .toLowerCase()
            .replace(/[^\p{L}\p{N} _-]/gu, "")
            .replace(/ /g, "-"),
        );
      }
      return seen;
    };
    for (const page of PAGES) {
      const path = join(ROOT, page);
      if (!existsSync(path)) continue;
      const text = readFileSync(path, "utf8").replace(/^```[\s\S]*?^```/gm, "");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue; // https:, mailto:
        const [file = "", anchor] = (target as string).split("#");
        const resolved = file === "" ? path : resolve(dirname(path), file);
        const relative = resolved.slice(ROOT.length + 1);
        if (!existsSync(resolved)) {
          expect(PAGES_TO_COME.has(relative), `${page} links to ${target}, which does not exist`).toBe(true);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith(".md")) {
          expect(slugs(resolved).has(anchor), `${page} links to ${target}: no such heading in ${relative}`).toBe(true);
        }
      }
    }
  });
});
