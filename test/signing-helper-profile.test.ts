import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addRolesAnywhere,
  createTestCa,
  startEmulator,
  type Emulator,
  type EmulatorRolesAnywhere,
} from "../src/testing.js";
import { fileDir, type FileDir } from "./helpers/certs.js";
import { awsConfigDir, cleanEnv, ensureBuilt, ROOT, runCli } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";

const boto3 = interopAvailable("boto3");
const CHILD = join(ROOT, "test/helpers/boto3_child.py");
const ROLE = "arn:aws:iam::123456789012:role/metaflow";
const OP = "rolesanywhere:CreateSession";

describe("a profile whose credential_process runs aws_signing_helper, served natively", () => {
  const LIFETIME = 5;
  let emu: Emulator;
  let ra: EmulatorRolesAnywhere;
  let files: FileDir;
  let config: string;

  beforeAll(async () => {
    await ensureBuilt();
    emu = await startEmulator({ credentialLifetimeSeconds: LIFETIME });
    const root = await createTestCa();
    const sub = await root.intermediate();
    const host = await sub.leaf({ commonName: "metaflow-1" });
    ra = addRolesAnywhere(emu, {
      trustAnchors: [{ certificates: [root.certificate] }],
      profiles: [{ roleArns: [ROLE] }],
    });
    files = fileDir();
    const cert = files.write("cert.pem", host.certificate);
    const key = files.write("key.pem", host.privateKey);
    const chain = files.write("chain.pem", host.chain);
    config =
      "[profile ra]\nregion = us-east-1\n" +
      `credential_process = aws_signing_helper credential-process --certificate ${cert} --private-key "${key}" ` +
      `--intermediates ${chain} --trust-anchor-arn ${ra.trustAnchorArns[0]} --profile-arn ${ra.profileArns[0]} ` +
      `--role-arn ${ROLE} --endpoint ${emu.url} --session-duration 900\n`;
  }, 120_000);
  afterAll(async () => {
    await emu?.close();
    files?.remove();
  });

  it("leaves a command with flags it cannot honour to the helper itself, and status says why", async () => {
    const { env } = awsConfigDir(
      "[profile store]\ncredential_process = aws_signing_helper credential-process --cert-selector " +
        `Key=x509Subject,Value=CN=a --trust-anchor-arn ${ra.trustAnchorArns[0]} --profile-arn ${ra.profileArns[0]} ` +
        `--role-arn ${ROLE}\n`,
    );
    const r = await runCli(["status", "--profile", "store", "--json"], { env: cleanEnv(env), timeoutMs: 60_000 });
    const report = JSON.parse(r.stdout) as {
      sourceFacts: { key: string; value: unknown; problem?: string }[];
      source: { kind: string };
    };
    expect(report.source.kind).toBe("credential-process");
    const fact = report.sourceFacts.find((f) => f.key === "rolesanywhere.servedNatively");
    expect(fact?.value).toBe(false);
    expect(fact?.problem).toContain("`--cert-selector`");
  }, 60_000);

  it("is served without the helper being installed", () => {
    expect(spawnSync("aws_signing_helper", ["version"]).error).toBeDefined();
  });

  it("status says it is served natively, with the certificate's facts", async () => {
    const { env } = awsConfigDir(config);
    const r = await runCli(["status", "--profile", "ra", "--json"], { env: cleanEnv(env), timeoutMs: 60_000 });
    const report = JSON.parse(r.stdout) as {
      sourceFacts: { key: string; value: unknown }[];
      source: { kind: string; description: string };
    };
    expect(report.source.kind).toBe("roles-anywhere");
    expect(report.source.description).toContain("served natively");
    expect(report.sourceFacts.find((f) => f.key === "rolesanywhere.servedNatively")?.value).toBe(true);
    expect(report.sourceFacts.find((f) => f.key === "certificate.subject")?.value).toContain("CN=metaflow-1");
  }, 60_000);

  it.skipIf(!boto3.ok)(
    "exec runs a boto3 job across >= 5 rotations with one CreateSession per rotation, not one per request",
    async () => {
      const { env } = awsConfigDir(config);
      const before = emu.calls(OP);
      const r = await runCli(["exec", "--profile", "ra", "--", "python3", CHILD], {
        env: cleanEnv({
          ...env,
          AWS_ENDPOINT_URL: emu.url,
          CHILD_SECONDS: "28",
          CHILD_BUCKET: "signing-helper",
          CHILD_CLOCK_SHIFT_SECONDS: String(-(900 - LIFETIME / 4)),
        }),
        timeoutMs: 90_000,
      });
      expect(r.stderr).not.toMatch(/Traceback/);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1) as string);
      const sessions = emu.calls(OP) - before;
      expect(out.errors).toBe(0);
      expect(out.calls).toBeGreaterThan(200);
      expect(sessions - 1).toBeGreaterThanOrEqual(5);
      expect(out.keys).toBeGreaterThanOrEqual(5);
      // The helper would have made one CreateSession per credential request; here there is about one per rotation.
      expect(sessions).toBeLessThanOrEqual(out.keys + 3);
    },
    90_000,
  );
});
