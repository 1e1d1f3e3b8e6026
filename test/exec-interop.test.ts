import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmulator, type Emulator } from "../src/testing.js";
import { awsConfigDir, cleanEnv, ensureBuilt, ROOT, runCli, ROOT_PROFILE } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";
import { startMotoAccount, type Moto } from "./helpers/moto.js";

const boto3 = interopAvailable("boto3");
const moto = interopAvailable("moto");
const CHILD = join(ROOT, "test/helpers/boto3_child.py");

beforeAll(async () => {
  await ensureBuilt();
}, 120_000);

describe.skipIf(!boto3.ok)("exec: a boto3 job over many rotations", () => {
  // 5-second credentials. The server's engine refreshes 2.5 to 1.9 s before expiry (its 30/20-minute windows clamp to
  // a half and a quarter of the lifetime), as it does 30 to 22.5 minutes before expiry for a 1-hour credential.
  // botocore's 15-minute window is fixed; the child's credential clock is moved back by 15 min - 1.25 s so that window
  // opens a quarter of a lifetime (1.25 s) before expiry, as 15 minutes is a quarter of a 1-hour credential.
  const LIFETIME = 5;
  // The child stops after 6 credentials (5 rotations) and 200 calls; this is only its deadline.
  const SECONDS = 75;
  let emu: Emulator;

  beforeAll(async () => {
    emu = await startEmulator({ credentialLifetimeSeconds: LIFETIME });
  });
  afterAll(async () => {
    await emu.close();
  });

  it("makes S3 calls for >= 5 rotations with zero errors and about one server request per rotation", async () => {
    const { env } = awsConfigDir(
      ROOT_PROFILE +
        "[profile ml]\nrole_arn = arn:aws:iam::123456789012:role/ml\nsource_profile = root\nregion = us-east-1\n",
    );
    const r = await runCli(["exec", "--profile", "ml", "--", "python3", CHILD], {
      env: cleanEnv({
        ...env,
        AWS_ENDPOINT_URL: emu.url,
        CHILD_SECONDS: String(SECONDS),
        CHILD_UNTIL_KEYS: "6",
        CHILD_UNTIL_CALLS: "202",
        CHILD_BUCKET: "rotation",
        CHILD_CLOCK_SHIFT_SECONDS: String(-(900 - LIFETIME / 4)),
      }),
      timeoutMs: 100_000,
    });
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1) as string);
    const rotations = emu.calls("sts:AssumeRole") - 1; // the first call is the fetch before the child starts
    expect(out.errors).toBe(0);
    expect(out.firstError).toBeNull();
    expect(out.calls).toBeGreaterThan(200);
    expect(rotations).toBeGreaterThanOrEqual(5);
    expect(out.keys).toBeGreaterThanOrEqual(5); // the child really moved on to each new credential
    // One request per credential the child used, give or take one at each end: never one per call.
    expect(out.served).toBeGreaterThanOrEqual(out.keys);
    expect(out.served).toBeLessThanOrEqual(out.keys + 3);
    expect(out.served).toBeLessThanOrEqual(rotations + 3);
  }, 120_000);
});

describe.skipIf(!boto3.ok || !moto.ok)("exec: boto3 against moto_server (third-party signature checks)", () => {
  let server: Moto;
  let keys: { id: string; secret: string };
  beforeAll(async () => {
    const account = await startMotoAccount({ user: "exec", roles: ["etl"] });
    server = account.server;
    keys = { id: account.userKeys.accessKeyId, secret: account.userKeys.secretAccessKey };
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("assumes the role and boto3 makes S3 calls moto accepts", async () => {
    const { env } = awsConfigDir(
      `[profile user]\naws_access_key_id = ${keys.id}\naws_secret_access_key = ${keys.secret}\n` +
        "[profile etl]\nrole_arn = arn:aws:iam::123456789012:role/etl\nsource_profile = user\n" +
        "role_session_name = moto-exec\nregion = us-east-1\n",
    );
    const r = await runCli(["exec", "--profile", "etl", "--", "python3", CHILD], {
      env: cleanEnv({
        ...env,
        AWS_ENDPOINT_URL: server.url,
        CHILD_SECONDS: "40",
        CHILD_UNTIL_CALLS: "12",
        CHILD_BUCKET: "moto-exec",
      }),
      timeoutMs: 80_000,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("assumed-role/etl/moto-exec");
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1) as string);
    expect(out).toMatchObject({ errors: 0, keys: 1, served: 1 });
    expect(out.calls).toBeGreaterThan(10);
  }, 90_000);
});
