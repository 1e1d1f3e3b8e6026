/**
 * The CLI's certificate flags: IAM Roles Anywhere (as aws_signing_helper spells them) and AWS IoT, on exec, serve,
 * credential-process and status, against the emulator, with real clients (boto3, the AWS CLI v1), PKCS#11 through
 * SoftHSM2, and the flags it refuses.
 */
import { execFile } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addRolesAnywhere,
  createTestCa,
  startEmulator,
  startIotCredentialsEndpoint,
  type Emulator,
  type EmulatorRolesAnywhere,
  type IotCredentialsEndpoint,
  type TestCa,
} from "../src/testing.js";
import { sourceInputFrom } from "../src/cli/sourceOptions.js";
import { fileDir, type FileDir } from "./helpers/certs.js";
import { awsConfigDir, cleanEnv, CLI, ensureBuilt, ROOT, runCli, waitForOutput, withServe } from "./helpers/cli.js";
import { interopAvailable } from "./helpers/interop.js";
import { SOFTHSM_MODULE, softHsmToken, type SoftHsmToken } from "./helpers/softhsm.js";

const run = promisify(execFile);
const boto3 = interopAvailable("boto3");
const awsCli = interopAvailable("aws-cli");
const hsm = interopAvailable("softhsm2");
const CHILD = join(ROOT, "test/helpers/boto3_child.py");
const ROLE = "arn:aws:iam::123456789012:role/metaflow";
const RA_OP = "rolesanywhere:CreateSession";
const IOT_OP = "iot:AssumeRoleWithCertificate";
const ALIAS = "device-uploader";
const THING = "sensor-7";
/** Credentials live this long in the rotation tests (seconds). */
const LIFETIME = 5;

let emu: Emulator;
let ra: EmulatorRolesAnywhere;
let iot: IotCredentialsEndpoint;
let root: TestCa;
let files: FileDir;
let raFlags: string[];
let iotFlags: string[];

beforeAll(async () => {
  await ensureBuilt();
  emu = await startEmulator({ credentialLifetimeSeconds: LIFETIME });
  root = await createTestCa();
  const sub = await root.intermediate();
  const host = await sub.leaf({ commonName: "metaflow-1", keyAlgorithm: "RSA" });
  const device = await root.leaf({ commonName: THING });
  ra = addRolesAnywhere(emu, {
    trustAnchors: [{ certificates: [root.certificate] }],
    profiles: [{ roleArns: [ROLE] }],
  });
  iot = await startIotCredentialsEndpoint(emu, {
    trustedCas: [root.certificate],
    roleAliases: { [ALIAS]: { roleArn: "arn:aws:iam::123456789012:role/uploader" } },
  });
  iot.attachThing(THING, device.certificate);
  files = fileDir();
  raFlags = [
    "--certificate",
    files.write("host.pem", host.certificate),
    "--private-key",
    files.write("host.key", host.privateKey),
    "--intermediates",
    files.write("chain.pem", host.chain),
    "--trust-anchor-arn",
    ra.trustAnchorArns[0]!,
    "--profile-arn",
    ra.profileArns[0]!,
    "--role-arn",
    ROLE,
    "--endpoint",
    emu.url,
    "--session-duration",
    "900",
  ];
  iotFlags = [
    "--iot-endpoint",
    iot.url,
    "--ca",
    files.write("iot-ca.pem", iot.serverCa),
    "--role-alias",
    ALIAS,
    "--thing-name",
    THING,
    "--certificate",
    files.write("device.pem", device.certificate),
    "--private-key",
    files.write("device.key", device.privateKey),
  ];
}, 120_000);

afterAll(async () => {
  await iot?.close();
  await emu?.close();
  files?.remove();
});

/** An environment with no profile and no AWS variable, S3/STS at the emulator. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({ ...awsConfigDir("").env, AWS_ENDPOINT_URL: emu.url, ...extra });
}

describe("bad certificate flags", () => {
  const fakeRa = [
    "--certificate",
    "/nonexistent/c.pem",
    "--private-key",
    "/nonexistent/k.pem",
    "--trust-anchor-arn",
    "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/a",
    "--profile-arn",
    "arn:aws:rolesanywhere:us-east-1:123456789012:profile/p",
    "--role-arn",
    ROLE,
  ];

  it("refuses a mix of methods, or of a method and a profile, naming the flags (exit 2; exec 125)", async () => {
    const mix = await runCli(["credential-process", ...fakeRa, "--iot-endpoint", "x.example", "--role-alias", "a"], {
      env: env(),
    });
    expect(mix.code).toBe(2);
    expect(mix.stderr).toContain("`--trust-anchor-arn`, `--profile-arn` (IAM Roles Anywhere)");
    expect(mix.stderr).toContain("`--iot-endpoint`, `--role-alias` (AWS IoT) choose different sources");
    expect(mix.stdout).toBe("");

    const profile = await runCli(["exec", "--profile", "ml", ...fakeRa, "--", "true"], { env: env() });
    expect(profile.code).toBe(125);
    expect(profile.stderr).toMatch(/`--profile` and `--trust-anchor-arn`, `--profile-arn` \(IAM Roles Anywhere\)/);

    const duration = await runCli(["status", ...fakeRa, "--duration", "1h"], { env: env() });
    expect(duration.code).toBe(2);
    expect(duration.stderr).toContain("`--duration` does not apply to IAM Roles Anywhere");
    expect(duration.stderr).toContain("`--session-duration`");

    const role = await runCli(["status", ...iotFlags, "--role-arn", ROLE], { env: env() });
    expect(role.code).toBe(2);
    expect(role.stderr).toContain("`--role-arn` does not apply to AWS IoT");
  });

  it("names every missing flag of the method the flags chose", async () => {
    const ra1 = await runCli(["credential-process", "--certificate", "c.pem", "--trust-anchor-arn", "x"], {
      env: env(),
    });
    expect(ra1.code).toBe(2);
    expect(ra1.stderr).toContain("IAM Roles Anywhere (chosen by `--trust-anchor-arn`) needs");
    expect(ra1.stderr).toContain("`--private-key`, `--profile-arn`, `--role-arn` too");

    const iot1 = await runCli(["status", "--iot-endpoint", "x.example", "--certificate", "c.pem"], { env: env() });
    expect(iot1.code).toBe(2);
    expect(iot1.stderr).toContain("AWS IoT (chosen by `--iot-endpoint`) needs `--role-alias`, `--private-key` too");

    const none = await runCli(["credential-process", "--certificate", "c.pem", "--private-key", "k.pem"], {
      env: env(),
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("need a certificate source: IAM Roles Anywhere (`--trust-anchor-arn`");

    const serve = await runCli(["serve", "--role-arn", ROLE], { env: env() });
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain("`--role-arn` of serve is IAM Roles Anywhere's");
  });

  it("refuses a PIN or passphrase on the command line, and never prints it", async () => {
    const secret = "918273645";
    const cases: string[][] = [
      ["--pin", secret],
      [`--pin=${secret}`],
      [`--pkcs8-password=${secret}`],
      ["--passphrase", secret],
    ];
    for (const extra of cases) {
      const r = await runCli(["credential-process", ...fakeRa, ...extra], { env: env() });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is refused: a secret on the command line shows in `ps`/);
      expect(r.stderr + r.stdout).not.toContain(secret);
    }
    const uri = `pkcs11:token=t;object=k?pin-value=${secret}&module-path=${SOFTHSM_MODULE}`;
    const inUri = await runCli(
      ["exec", ...fakeRa.slice(0, 2), "--private-key", uri, ...fakeRa.slice(4), "--", "true"],
      {
        env: env(),
      },
    );
    expect(inUri.code).toBe(125);
    expect(inUri.stderr).toContain("holds the PIN (pin-value=)");
    expect(inUri.stderr).toContain("AWS_REFRESH_PKCS11_PIN");
    expect(inUri.stderr + inUri.stdout).not.toContain(secret);
  });

  it("--help of exec, serve, credential-process and status lists the flags in their own groups", async () => {
    for (const command of ["exec", "serve", "credential-process", "status"]) {
      const r = await runCli([command, "--help"], { env: env() });
      expect(r.code).toBe(0);
      const ra = r.stdout.indexOf("\nIAM Roles Anywhere (");
      const iotGroup = r.stdout.indexOf("\nAWS IoT credentials provider (");
      expect(ra, command).toBeGreaterThan(0);
      expect(iotGroup, command).toBeGreaterThan(ra);
      const raPart = r.stdout.slice(ra, iotGroup);
      for (const flag of [
        "--certificate <path|pkcs11:uri>",
        "--private-key <path|pkcs11:uri>",
        "--intermediates <path>",
        "--trust-anchor-arn <arn>",
        "--profile-arn <arn>",
        "--session-duration <duration>",
        "--endpoint <url>",
        "--pkcs11-lib <path>",
        "--pin-file <path>",
        "--passphrase-file <path>",
      ]) {
        expect(raPart, `${command} ${flag}`).toContain(flag);
      }
      for (const flag of ["--iot-endpoint <host|url>", "--role-alias <name>", "--thing-name <name>", "--ca <path>"]) {
        expect(r.stdout.slice(iotGroup), `${command} ${flag}`).toContain(flag);
      }
      expect(r.stdout).toContain("--role-arn <arn>");
      expect(r.stdout).not.toMatch(/--pin <|--pkcs8-password/);
    }
  });
});

describe("certificate flags read in process (no source set up)", () => {
  const ra = {
    certificate: "c.pem",
    privateKey: "k.pem",
    trustAnchorArn: "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/a",
    profileArn: "arn:aws:rolesanywhere:us-east-1:123456789012:profile/p",
    roleArn: ROLE,
  };
  const uri = "pkcs11:token=t;object=k";

  it("reads IAM Roles Anywhere into the helper's flags, and AWS IoT into its options", () => {
    expect(sourceInputFrom({ ...ra, sessionDuration: "2h", region: "eu-west-1" })).toEqual({
      region: "eu-west-1",
      certificate: {
        method: "roles-anywhere",
        roleArn: ROLE,
        helperFlags: [
          ["--certificate", "c.pem"],
          ["--private-key", "k.pem"],
          ["--trust-anchor-arn", ra.trustAnchorArn],
          ["--profile-arn", ra.profileArn],
          ["--role-arn", ROLE],
          ["--session-duration", "7200"],
          ["--region", "eu-west-1"],
        ],
      },
    });
    expect(
      sourceInputFrom({
        iotEndpoint: "x.example",
        roleAlias: "a",
        certificate: "c.pem",
        privateKey: uri,
        pkcs11Lib: "/m.so",
        pinFile: "/p",
      }),
    ).toEqual({
      certificate: {
        method: "iot",
        endpoint: "x.example",
        roleAlias: "a",
        certificate: "c.pem",
        privateKey: uri,
        pkcs11Lib: "/m.so",
        pinFile: "/p",
      },
    });
    // A pkcs11: certificate is the key's URI too, as for the helper.
    const { privateKey: _key, ...noKey } = ra;
    const both = sourceInputFrom({ ...noKey, certificate: uri, pkcs11Lib: "/m.so" });
    expect(both.certificate?.method).toBe("roles-anywhere");
  });

  it("refuses what a certificate source cannot use, naming the flag", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...ra, pinFile: "/p" }, /`--pin-file` is for a pkcs11: `--private-key`/],
      [
        { ...ra, privateKey: uri, pkcs11Lib: "/m.so", passphraseFile: "/p" },
        /`--passphrase-file` is for an encrypted PEM/,
      ],
      [{ ...ra, privateKey: uri }, /needs its module: give `--pkcs11-lib`/],
      [{ ...ra, pkcs11Lib: "/m.so" }, /`--pkcs11-lib` is for pkcs11: URIs/],
      [
        { ...ra, privateKey: "pkcs11:bogus=1", pkcs11Lib: "/m.so" },
        /`--private-key`: The pkcs11: URI has an unknown attribute `bogus`/,
      ],
      [{ ...ra, sessionDuration: "10m" }, /`--session-duration` must be whole seconds from 15m to 12h/],
      [{ ...ra, roleArn: " " }, /`--role-arn` is empty/],
      [{ ...ra, region: "" }, /`--region` is empty/],
      [
        { iotEndpoint: "x", roleAlias: "a", certificate: uri, privateKey: uri, pkcs11Lib: "/m.so" },
        /AWS IoT: `--certificate` must be a PEM file/,
      ],
      [
        { iotEndpoint: "x", roleAlias: "a", certificate: "c.pem", privateKey: "pkcs11:id=%01", pkcs11Lib: "/m.so" },
        /by label: give object=/,
      ],
      [
        { iotEndpoint: "x", roleAlias: "a", certificate: "c.pem", privateKey: "k.pem", region: "" },
        /`--region` is empty/,
      ],
      [{ ...ra, mfaSerial: "arn:aws:iam::123456789012:mfa/me" }, /`--mfa-serial` does not apply to IAM Roles Anywhere/],
      [{ ...ra, notify: "true" }, /`--notify` does not apply/],
    ];
    for (const [flags, message] of cases) expect(() => sourceInputFrom(flags), JSON.stringify(flags)).toThrow(message);
  });

  it("leaves the other sources alone", () => {
    expect(sourceInputFrom({ profile: "ml", region: "eu-west-1" })).toEqual({ profile: "ml", region: "eu-west-1" });
  });
});

describe("IAM Roles Anywhere from the command line", () => {
  it("status --json describes the source: kind, description, the certificate's notAfter", async () => {
    const r = await runCli(["status", ...raFlags, "--json"], { env: env(), timeoutMs: 60_000 });
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      profile: string | null;
      source: { kind: string; description: string; name: string };
      identity: { Arn: string } | null;
      sessionEnd: { basis: string } | null;
      sourceFacts: { key: string; value: unknown }[];
    };
    expect(r.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.profile).toBeNull();
    expect(report.source).toMatchObject({ kind: "roles-anywhere", name: "roles-anywhere" });
    expect(report.source.description).toContain(`IAM Roles Anywhere for ${ROLE} (certificate ${raFlags[1]}`);
    expect(report.identity?.Arn).toMatch(/^arn:aws:sts::123456789012:assumed-role\/metaflow\//);
    const fact = (key: string): unknown => report.sourceFacts.find((f) => f.key === key)?.value;
    expect(fact("rolesanywhere.trustAnchorArn")).toBe(ra.trustAnchorArns[0]);
    expect(fact("certificate.subject")).toContain("CN=metaflow-1");
    expect(Date.parse(fact("certificate.notAfter") as string)).toBeGreaterThan(Date.now());
    expect(fact("certificate.chain")).toBe(1);
    expect(report.sessionEnd?.basis).toMatch(/certificate .* expires/);
  }, 60_000);

  it("status says what to do when the certificate expires within the hour", async () => {
    const short = await root.leaf({ commonName: "short-lived", notAfter: new Date(Date.now() + 30 * 60_000) });
    const flags = [...raFlags];
    flags[1] = files.write("short.pem", short.certificate);
    flags[3] = files.write("short.key", short.privateKey);
    flags.splice(4, 2); // under the root: no intermediates
    const r = await runCli(["status", ...flags, "--json"], { env: env(), timeoutMs: 60_000 });
    const report = JSON.parse(r.stdout) as { ok: boolean; problems: { what: string; fix: string }[] };
    expect(r.code).toBe(1);
    expect(report.problems).toContainEqual({
      what: expect.stringMatching(/certificate CN=short-lived.* expires .*no credential can be had with it after that/),
      fix: "renew the certificate and write it to the same place (it is read again at every refresh)",
    });
  }, 60_000);

  it.skipIf(!boto3.ok)(
    "exec runs a boto3 job across >= 5 rotations, about one CreateSession per rotation",
    async () => {
      const before = emu.calls(RA_OP);
      const r = await runCli(["exec", ...raFlags, "--", "python3", CHILD], {
        env: env({
          CHILD_SECONDS: "60",
          CHILD_UNTIL_KEYS: "6",
          CHILD_BUCKET: "cert-cli-ra",
          // botocore's fixed 15-minute refresh window, moved to a quarter of these 5-second lifetimes.
          CHILD_CLOCK_SHIFT_SECONDS: String(-(900 - LIFETIME / 4)),
        }),
        timeoutMs: 90_000,
      });
      expect(r.stderr).not.toMatch(/Traceback/);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`IAM Roles Anywhere for ${ROLE}`);
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1) as string);
      const sessions = emu.calls(RA_OP) - before;
      expect(out.errors).toBe(0);
      expect(out.keys).toBeGreaterThanOrEqual(6);
      expect(sessions - 1).toBeGreaterThanOrEqual(5);
      // One CreateSession per credential, not one per request (aws_signing_helper's credential-process).
      expect(sessions).toBeLessThanOrEqual(out.keys + 3);
      expect(out.calls).toBeGreaterThan(sessions * 4);
    },
    90_000,
  );

  it.skipIf(!awsCli.ok)(
    "credential-process feeds the AWS CLI v1 across rotations, one CreateSession per credential",
    async () => {
      await rotationsThroughAwsCli(raFlags, RA_OP, "roles-anywhere", "assumed-role/metaflow/");
    },
    120_000,
  );

  it("an encrypted key takes its passphrase from AWS_REFRESH_KEY_PASSPHRASE or --passphrase-file, never shown", async () => {
    const passphrase = "correct horse 8231";
    const pem = readFileSync(raFlags[3]!, "utf8");
    const encrypted = createPrivateKey(pem).export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase,
    }) as string;
    const flags = [...raFlags];
    flags[3] = files.write("host-encrypted.key", encrypted);
    const fromEnv = await runCli(["credential-process", "--no-cache", ...flags], {
      env: env({ AWS_REFRESH_KEY_PASSPHRASE: passphrase }),
    });
    expect(fromEnv.stderr).toBe("");
    expect(JSON.parse(fromEnv.stdout).AccessKeyId).toMatch(/^ASIA/);
    const file = files.write("passphrase.txt", `${passphrase}\n`);
    const fromFile = await runCli(["credential-process", "--no-cache", ...flags, "--passphrase-file", file], {
      env: env(),
    });
    expect(fromFile.code).toBe(0);
    const wrong = await runCli(["credential-process", "--no-cache", ...flags], {
      env: env({ AWS_REFRESH_KEY_PASSPHRASE: "not-it-5512" }),
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/passphrase .* is wrong.*AWS_REFRESH_KEY_PASSPHRASE or --passphrase-file/);
    expect(wrong.stderr).not.toContain("not-it-5512");
    const none = await runCli(["credential-process", "--no-cache", ...flags], { env: env() });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/is encrypted and no passphrase was given.*AWS_REFRESH_KEY_PASSPHRASE/);
  }, 60_000);

  it("serve serves it at /profiles/roles-anywhere", async () => {
    await withServe(raFlags, env(), async (info) => {
      const p = info.profiles["roles-anywhere"];
      expect(p.url).toMatch(/\/profiles\/roles-anywhere$/);
      const token = readFileSync(info.tokenFile, "utf8");
      const res = await fetch(p.url, { headers: { Authorization: token } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { AccessKeyId: string; Expiration: string };
      expect(body.AccessKeyId).toMatch(/^ASIA/);
      expect(p.env.AWS_REGION).toBe(emu.region);
    });
  }, 60_000);
});

describe("AWS IoT from the command line", () => {
  it("status --json describes the source: kind, description, the certificate's notAfter", async () => {
    const r = await runCli(["status", ...iotFlags, "--json"], { env: env(), timeoutMs: 60_000 });
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      source: { kind: string; description: string; name: string };
      identity: { Arn: string } | null;
      sourceFacts: { key: string; value: unknown }[];
    };
    expect(r.code).toBe(0);
    expect(report.source).toMatchObject({ kind: "iot", name: "iot" });
    expect(report.source.description).toBe(
      `AWS IoT role alias ${ALIAS} at ${new URL(iot.url).host} for thing ${THING} (certificate ${iotFlags[9]})`,
    );
    expect(report.identity?.Arn).toMatch(/assumed-role\/uploader\//);
    const fact = (key: string): unknown => report.sourceFacts.find((f) => f.key === key)?.value;
    expect(fact("iot.roleAlias")).toBe(ALIAS);
    expect(fact("iot.thingName")).toBe(THING);
    expect(Date.parse(fact("certificate.notAfter") as string)).toBeGreaterThan(Date.now());
  }, 60_000);

  it("a thing the certificate is not attached to fails with what to do, exit 1", async () => {
    const flags = [...iotFlags];
    flags[flags.indexOf("--thing-name") + 1] = "someone-else";
    const r = await runCli(["credential-process", ...flags, "--no-cache"], { env: env(), timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/someone-else/);
  }, 60_000);

  it.skipIf(!boto3.ok)(
    "exec runs a boto3 job across >= 5 rotations, about one call to the endpoint per rotation",
    async () => {
      const before = emu.calls(IOT_OP);
      const r = await runCli(["exec", ...iotFlags, "--", "python3", CHILD], {
        env: env({
          CHILD_SECONDS: "60",
          CHILD_UNTIL_KEYS: "6",
          CHILD_BUCKET: "cert-cli-iot",
          CHILD_CLOCK_SHIFT_SECONDS: String(-(900 - LIFETIME / 4)),
        }),
        timeoutMs: 90_000,
      });
      expect(r.stderr).not.toMatch(/Traceback/);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1) as string);
      const fetched = emu.calls(IOT_OP) - before;
      expect(out.errors).toBe(0);
      expect(out.keys).toBeGreaterThanOrEqual(6);
      expect(fetched - 1).toBeGreaterThanOrEqual(5);
      expect(fetched).toBeLessThanOrEqual(out.keys + 3);
    },
    90_000,
  );

  it.skipIf(!awsCli.ok)(
    "credential-process feeds the AWS CLI v1 across rotations, one call to the endpoint per credential",
    async () => {
      await rotationsThroughAwsCli(iotFlags, IOT_OP, "iot", "assumed-role/uploader/");
    },
    120_000,
  );
});

/**
 * A profile whose credential_process is `aws-refresh credential-process <flags>`, used by the AWS CLI v1. First with
 * long-lived credentials: a second `aws` run is a cache hit (no call to the source). Then with credentials that live
 * LIFETIME seconds and `--min-ttl 1s`: runs go on until the cache held 6 distinct credentials, every run answered
 * (an expired credential would be refused by the emulator) and one source call per credential.
 */
async function rotationsThroughAwsCli(flags: string[], op: string, name: string, arnPart: string): Promise<void> {
  const cfg = awsConfigDir("");
  const cache = join(cfg.dir, "cache");
  const quoted = flags.map((f) => (/[\s"]/.test(f) ? JSON.stringify(f) : f)).join(" ");
  writeFileSync(
    cfg.env.AWS_CONFIG_FILE,
    `[profile cert]\nregion = ${emu.region}\n` +
      `credential_process = ${process.execPath} ${CLI} credential-process ${quoted} --cache-dir ${cache} --min-ttl 1s\n`,
  );
  const e = cleanEnv({ ...cfg.env, AWS_ENDPOINT_URL: emu.url });
  const aws = async (): Promise<string> => {
    const out = await run("aws", ["sts", "get-caller-identity", "--profile", "cert"], { env: e, timeout: 60_000 });
    return (JSON.parse(out.stdout) as { Arn: string }).Arn;
  };
  const cachedKey = (): string => {
    const [file] = readdirSync(cache).filter((f) => f.endsWith(".json"));
    expect(file).toMatch(new RegExp(`^${name}-[0-9a-f]{16}\\.json$`));
    return (JSON.parse(readFileSync(join(cache, file!), "utf8")) as { AccessKeyId: string }).AccessKeyId;
  };
  emu.setCredentialLifetime(3600);
  try {
    const before = emu.calls(op);
    expect(await aws()).toContain(arnPart);
    expect(await aws()).toContain(arnPart);
    expect(emu.calls(op) - before).toBe(1);
  } finally {
    emu.setCredentialLifetime(LIFETIME);
  }
  const keys = new Set([cachedKey()]);
  const before = emu.calls(op);
  let runs = 0;
  // The 1-hour credential would stay good for the cache: the short lifetimes start with the next fetch.
  rmSync(
    join(
      cache,
      readdirSync(cache).find((f) => f.endsWith(".json"))!,
    ),
  );
  while (keys.size < 7 && runs < 60) {
    expect(await aws()).toContain(arnPart);
    runs++;
    keys.add(cachedKey());
  }
  expect(keys.size).toBeGreaterThanOrEqual(7);
  // Each run asks credential_process more than once (botocore refreshes a credential this short at every use): a
  // cache that fetched at every call would make several source calls per run; these make one per credential, and at
  // most one more in a run where the cached one ran out in the middle.
  const calls = emu.calls(op) - before;
  expect(calls).toBeGreaterThanOrEqual(keys.size - 1);
  expect(calls - (keys.size - 1)).toBeLessThanOrEqual(runs);
}

/** Runs `aws-refresh emulate --json …args`, hands its printed JSON to `body`, then stops it with SIGTERM. */
async function withEmulate(args: string[], body: (info: any) => Promise<void>): Promise<void> {
  let failure: unknown;
  const result = await runCli(["emulate", "--json", ...args], {
    env: env(),
    timeoutMs: 90_000,
    onStart: (p) => {
      let out = "";
      p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      void waitForOutput(p.stdout!, "\n")
        .then(() => body(JSON.parse(out.split("\n")[0] as string)))
        .catch((err: unknown) => (failure = err))
        .finally(() => p.kill("SIGTERM"));
    },
  });
  if (failure) throw failure;
  expect(result.code).toBe(0);
}

describe("aws-refresh emulate", () => {
  it("--trust-ca: certificates of your own CA work against its Roles Anywhere; --certs-dir keeps the files", async () => {
    const certsDir = join(files.dir, "emulate-certs");
    const rootFile = files.write("own-root.pem", root.certificate);
    await withEmulate(["--trust-ca", rootFile, "--certs-dir", certsDir], async (info) => {
      const r = info.certificates.rolesAnywhere as Record<string, string>;
      expect(info.certificates.certsDir).toBe(certsDir);
      // The test's own host certificate (under an intermediate of the test's root), with the emulate's ARNs.
      const flags = [...raFlags];
      for (const [flag, value] of [
        ["--trust-anchor-arn", r.trustAnchorArn],
        ["--profile-arn", r.profileArn],
        ["--role-arn", r.roleArn],
        ["--endpoint", r.endpoint],
      ] as const) {
        flags[flags.indexOf(flag) + 1] = value!;
      }
      const out = await runCli(["credential-process", "--no-cache", ...flags], { env: env() });
      expect(out.stderr).toBe("");
      expect(JSON.parse(out.stdout).AccessKeyId).toMatch(/^ASIA/);
    });
    expect(readdirSync(certsDir).sort()).toEqual(
      ["ca.pem", "device.key", "device.pem", "host.key", "host.pem", "intermediates.pem", "iot-server-ca.pem"].sort(),
    );
  }, 90_000);

  it("--no-certificates starts neither endpoint", async () => {
    await withEmulate(["--no-certificates"], async (info) => {
      expect(info.certificates).toBeUndefined();
      expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    });
  }, 60_000);

  it("starts Roles Anywhere and IoT with a test CA, and prints the flags and files to use them", async () => {
    let failure: unknown;
    let dir = "";
    const result = await runCli(["emulate", "--json", "--lifetime", "1h"], {
      env: env(),
      timeoutMs: 90_000,
      onStart: (p) => {
        let out = "";
        p.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          if (!out.includes("\n") || dir) return;
          const info = JSON.parse(out.split("\n")[0] as string) as {
            url: string;
            certificates: {
              certsDir: string;
              rolesAnywhere: Record<string, string>;
              iot: Record<string, string>;
            };
          };
          dir = info.certificates.certsDir;
          const r = info.certificates.rolesAnywhere;
          const i = info.certificates.iot;
          const e = env({ AWS_ENDPOINT_URL: info.url });
          void (async () => {
            for (const f of ["ca.pem", "host.pem", "host.key", "intermediates.pem", "device.pem", "device.key"]) {
              expect(existsSync(join(dir, f)), f).toBe(true);
            }
            const raRun = await runCli(
              [
                "credential-process",
                "--no-cache",
                "--endpoint",
                r.endpoint!,
                "--trust-anchor-arn",
                r.trustAnchorArn!,
                "--profile-arn",
                r.profileArn!,
                "--role-arn",
                r.roleArn!,
                "--certificate",
                r.certificate!,
                "--intermediates",
                r.intermediates!,
                "--private-key",
                r.privateKey!,
              ],
              { env: e },
            );
            expect(raRun.stderr).toBe("");
            expect(JSON.parse(raRun.stdout).AccessKeyId).toMatch(/^ASIA/);
            const iotRun = await runCli(
              [
                "status",
                "--json",
                "--iot-endpoint",
                i.endpoint!,
                "--ca",
                i.ca!,
                "--role-alias",
                i.roleAlias!,
                "--thing-name",
                i.thingName!,
                "--certificate",
                i.certificate!,
                "--private-key",
                i.privateKey!,
              ],
              { env: e },
            );
            expect(JSON.parse(iotRun.stdout).identity.Arn).toContain(`assumed-role/emulator-iot/`);
          })()
            .catch((err: unknown) => (failure = err))
            .finally(() => p.kill("SIGTERM"));
        });
      },
    });
    if (failure) throw failure;
    expect(result.code).toBe(0);
    // A directory it made for itself is removed when it stops.
    expect(dir).not.toBe("");
    expect(existsSync(dir)).toBe(false);
  }, 90_000);

  it("prints the certificate flags in its text output", async () => {
    let text = "";
    const result = await runCli(["emulate"], {
      env: env(),
      timeoutMs: 60_000,
      onStart: (p) => {
        p.stdout!.on("data", (d: Buffer) => (text += d.toString()));
        // The text is on stdout by then.
        void waitForOutput(p.stderr!, "Press Ctrl-C").then(() => p.kill("SIGTERM"));
      },
    });
    expect(result, JSON.stringify(result)).toMatchObject({ code: 0 });
    expect(text).toMatch(/# IAM Roles Anywhere at http:\/\/127\.0\.0\.1:\d+\/sessions/);
    expect(text).toMatch(/--trust-anchor-arn arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor\//);
    expect(text).toMatch(/# AWS IoT credentials provider at https:\/\/127\.0\.0\.1:\d+ /);
    expect(text).toMatch(
      /--role-alias emulator-role-alias .*\n.*--thing-name emulator-thing --certificate \S+device\.pem/,
    );
    // The directory it made for the certificates is gone once it stopped.
    const dir = /# Certificates and keys \(test only\) are in (\S+)\.\n/.exec(text)?.[1];
    expect(dir).toBeDefined();
    expect(existsSync(dir!)).toBe(false);
  }, 60_000);
});

describe.skipIf(!hsm.ok)("PKCS#11 URIs through SoftHSM2", () => {
  let token: SoftHsmToken;
  let hsmRa: string[];
  let hsmIot: string[];

  beforeAll(async () => {
    // Sets SOFTHSM2_CONF in this process, which the CLI's environment (cleanEnv) passes on.
    token = softHsmToken("cli-token", "pin-5522");
    const leaf = await root.leaf({ commonName: "hsm-host" });
    const device = await root.leaf({ commonName: "hsm-device" });
    iot.attachThing("hsm-device", device.certificate);
    token.importKey(leaf.privateKey, "host-key", "01");
    token.importCertificate(leaf.certificate, "host-key", "01");
    token.importKey(device.privateKey, "device-key", "02");
    hsmRa = [
      "--certificate",
      `pkcs11:token=cli-token;object=host-key;type=cert`,
      "--private-key",
      `pkcs11:token=cli-token;object=host-key;type=private`,
      "--pkcs11-lib",
      SOFTHSM_MODULE,
      "--trust-anchor-arn",
      ra.trustAnchorArns[0]!,
      "--profile-arn",
      ra.profileArns[0]!,
      "--role-arn",
      ROLE,
      "--endpoint",
      emu.url,
    ];
    hsmIot = [
      "--iot-endpoint",
      iot.url,
      "--ca",
      iotFlags[3]!,
      "--role-alias",
      ALIAS,
      "--thing-name",
      "hsm-device",
      "--certificate",
      files.write("hsm-device.pem", device.certificate),
      "--private-key",
      `pkcs11:token=cli-token;object=device-key?module-path=${SOFTHSM_MODULE}`,
    ];
  }, 120_000);
  afterAll(() => token?.dir.remove());

  it("Roles Anywhere: certificate and key on the token, the PIN from AWS_REFRESH_PKCS11_PIN", async () => {
    const r = await runCli(["credential-process", "--no-cache", ...hsmRa], {
      env: env({ AWS_REFRESH_PKCS11_PIN: token.pin }),
      timeoutMs: 60_000,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
  }, 60_000);

  it("a missing PIN says where to give it; a wrong one is refused and never shown", async () => {
    const none = await runCli(["credential-process", "--no-cache", ...hsmRa], { env: env(), timeoutMs: 60_000 });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("give the token's user PIN in AWS_REFRESH_PKCS11_PIN or with --pin-file FILE");
    const wrong = "7777-wrong";
    const bad = await runCli(["credential-process", "--no-cache", ...hsmRa], {
      env: env({ AWS_REFRESH_PKCS11_PIN: wrong }),
      timeoutMs: 60_000,
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/PIN/);
    expect(bad.stderr + bad.stdout).not.toContain(wrong);
  }, 60_000);

  it("AWS IoT: the token's key does the TLS handshake, the PIN from --pin-file; status --json shows the key", async () => {
    const pinFile = files.write("pin.txt", `${token.pin}\n`);
    const r = await runCli(["status", "--json", ...hsmIot, "--pin-file", pinFile], {
      env: env(),
      timeoutMs: 60_000,
    });
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      source: { kind: string };
      identity: { Arn: string } | null;
      sourceFacts: { key: string; value: unknown }[];
    };
    expect(report.source.kind).toBe("iot");
    expect(report.identity?.Arn).toMatch(/assumed-role\/uploader\//);
    expect(String(report.sourceFacts.find((f) => f.key === "certificate.key")?.value)).toContain("PKCS#11");
    expect(r.stdout + r.stderr).not.toContain(token.pin);
  }, 60_000);
});
