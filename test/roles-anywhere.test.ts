import { spawnSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { inspect } from "node:util";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isRetryableSourceError } from "../src/refresh/retryable.js";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import {
  fromRolesAnywhere,
  isSigningHelperCommand,
  rolesAnywhereInitFromArgv,
  type RolesAnywhereInit,
} from "../src/sources/roles-anywhere.js";
import type { CertificateExpiring } from "../src/types.js";
import {
  addRolesAnywhere,
  createTestCa,
  startEmulator,
  type Emulator,
  type EmulatorRolesAnywhere,
  type ReceivedCreateSession,
  type TestCa,
  type TestCertificate,
} from "../src/testing.js";
import { fileDir, recordingLogger, sharedClock, type FileDir } from "./helpers/certs.js";
import { interopAvailable } from "./helpers/interop.js";
import { rejection } from "./helpers/rejection.js";

let emu: Emulator;
let ra: EmulatorRolesAnywhere;
let root: TestCa;
let sub: TestCa;
let files: FileDir;
const OP = "rolesanywhere:CreateSession";
const ROLE = "arn:aws:iam::123456789012:role/metaflow";
const OTHER_ROLE = "arn:aws:iam::123456789012:role/not-in-profile";
const open: RefreshableSession[] = [];
const crypto = interopAvailable("cryptography");

beforeAll(async () => {
  emu = await startEmulator();
  root = await createTestCa({ commonName: "on-prem root" });
  sub = await root.intermediate({ commonName: "on-prem issuing CA" });
  ra = addRolesAnywhere(emu, {
    trustAnchors: [{ certificates: [root.certificate] }, { certificates: [root.certificate], enabled: false }],
    profiles: [{ roleArns: [ROLE] }, { roleArns: [ROLE], acceptRoleSessionName: false, durationSeconds: 1800 }],
  });
  files = fileDir();
});
afterEach(() => {
  emu.clearFaults();
  emu.setClockOffset(0);
  ra.setTrustPolicy(undefined);
  for (const s of open.splice(0)) s.close();
});
afterAll(async () => {
  await emu.close();
  files.remove();
});

let n = 0;
async function host(
  options: Parameters<TestCa["leaf"]>[0] = {},
  issuer: TestCa = root,
): Promise<TestCertificate & { certFile: string; keyFile: string; chainFile: string | undefined }> {
  const name = `host-${++n}`;
  const leaf = await issuer.leaf({ commonName: name, ...options });
  return {
    ...leaf,
    certFile: files.write(`${name}.pem`, leaf.certificate),
    keyFile: files.write(`${name}.key`, leaf.privateKey),
    chainFile: leaf.chain ? files.write(`${name}-chain.pem`, leaf.chain) : undefined,
  };
}

function init(
  h: { certFile: string; keyFile: string; chainFile?: string | undefined },
  extra: Partial<RolesAnywhereInit> = {},
): RolesAnywhereInit {
  return {
    trustAnchorArn: ra.trustAnchorArns[0]!,
    profileArn: ra.profileArns[0]!,
    roleArn: ROLE,
    certificate: h.certFile,
    privateKey: h.keyFile,
    ...(h.chainFile ? { intermediates: h.chainFile } : {}),
    endpoint: emu.url,
    ...extra,
  };
}

/** Verifies the last CreateSession request with Python's `cryptography`, apart from any code of ours. */
function verifyInPython(req: ReceivedCreateSession, anchors?: string[]): Record<string, unknown> {
  const out = spawnSync("python3", ["test/helpers/verify_x509_sigv4.py"], {
    input: JSON.stringify({ ...req, ...(anchors ? { anchors } : {}) }),
    encoding: "utf8",
    timeout: 30_000,
  });
  const verdict = JSON.parse(out.stdout || "{}") as Record<string, unknown>;
  return { ...verdict, exitCode: out.status, stderr: out.stderr };
}

describe("fromRolesAnywhere against the emulator's CreateSession", () => {
  it.each(["EC", "RSA"] as const)(
    "trades a %s certificate for role credentials STS accepts; Python verifies the signature",
    async (alg) => {
      const h = await host({ keyAlgorithm: alg });
      const creds = await fromRolesAnywhere(init(h))();
      const sts = new STSClient({ region: emu.region, endpoint: emu.url, credentials: creds });
      const arn = (await sts.send(new GetCallerIdentityCommand({}))).Arn;
      sts.destroy();
      expect(arn).toBe(`arn:aws:sts::123456789012:assumed-role/metaflow/${h.serialNumber.toString(16)}`);
      expect(creds.accountId).toBe("123456789012");
      const req = ra.received().at(-1)!;
      expect(req.status).toBe(201);
      // 20-byte serials are past Number.MAX_SAFE_INTEGER: the credential must carry every digit.
      expect(h.serialNumber > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
      expect(req.headers.authorization).toContain(`Credential=${h.serialNumber.toString()}/`);
      expect(JSON.parse(req.body)).toEqual({ durationSeconds: 3600 });
      if (!crypto.ok) return;
      const verdict = verifyInPython(req, [root.certificate]);
      expect(verdict).toMatchObject({
        ok: true,
        algorithm: alg === "EC" ? "AWS4-X509-ECDSA-SHA256" : "AWS4-X509-RSA-SHA256",
        serial: h.serialNumber.toString(),
        service: "rolesanywhere",
        region: emu.region,
        anchored: true,
        exitCode: 0,
      });
      expect(verdict.signedHeaders).toEqual(["content-type", "host", "x-amz-date", "x-amz-x509"]);
      // The verifier can fail: a changed body no longer verifies.
      const tampered = verifyInPython({ ...req, body: JSON.stringify({ durationSeconds: 43200 }) });
      expect(tampered).toMatchObject({ ok: false, exitCode: 1 });
    },
  );

  it("sends and signs the intermediates; without them the chain does not reach the trust anchor", async () => {
    const h = await host({ keyAlgorithm: "RSA" }, sub);
    expect((await fromRolesAnywhere(init(h))()).accessKeyId).toMatch(/^ASIA/);
    const req = ra.received().at(-1)!;
    expect(req.headers["x-amz-x509-chain"]).toBe(
      Buffer.from(sub.certificate.replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64"),
    );
    if (crypto.ok) {
      const verdict = verifyInPython(req, [root.certificate]);
      expect(verdict).toMatchObject({ ok: true, chainLength: 1, anchored: true });
      expect(verdict.signedHeaders).toContain("x-amz-x509-chain");
    }
    const err = await rejection(fromRolesAnywhere(init({ ...h, chainFile: undefined }))());
    expect(err.code).toBe("CERTIFICATE_UNTRUSTED");
    expect(err.message).toContain("give the intermediates with `intermediates`");
  });

  it("serves 20 concurrent callers across 5 rotations with one CreateSession per rotation", async () => {
    const h = await host();
    const clock = sharedClock();
    const session = new RefreshableSession({ method: "roles-anywhere", ...init(h), refresh: { clock } });
    open.push(session);
    const keys = new Set([(await session.credentials()).accessKeyId]);
    for (let rotation = 0; rotation < 5; rotation++) {
      const current = await session.credentials();
      clock.offsetMs += current.expiration!.getTime() - clock.now() - 5 * 60_000;
      emu.setClockOffset(clock.offsetMs);
      const before = emu.calls(OP);
      const got = await Promise.all(Array.from({ length: 20 }, () => session.credentials()));
      expect(emu.calls(OP) - before).toBe(1);
      expect(new Set(got.map((c) => c.accessKeyId)).size).toBe(1);
      keys.add(got[0]!.accessKeyId);
    }
    expect(keys.size).toBe(6);
    expect(session.metrics().refreshFailures).toBe(0);
  });

  it("uses a certificate renewed on disk from the next refresh on", async () => {
    const h = await host();
    const source = fromRolesAnywhere(init(h));
    await source();
    expect(ra.received().at(-1)!.headers.authorization).toContain(`Credential=${h.serialNumber}/`);
    const renewed = await root.leaf({ commonName: "renewed", keyAlgorithm: "RSA" });
    files.write(h.keyFile.split("/").pop()!, renewed.privateKey);
    files.write(h.certFile.split("/").pop()!, renewed.certificate);
    const creds = await source();
    expect(ra.received().at(-1)!.headers.authorization).toContain(`Credential=${renewed.serialNumber}/`);
    expect(emu.credential(creds.accessKeyId)!.arn).toContain(renewed.serialNumber.toString(16));
  });

  it("asks for durationSeconds and roleSessionName, and validates them", async () => {
    const h = await host();
    await fromRolesAnywhere(init(h, { durationSeconds: 7200, roleSessionName: "nightly-flow" }))();
    expect(JSON.parse(ra.received().at(-1)!.body)).toEqual({ durationSeconds: 7200, roleSessionName: "nightly-flow" });
    // The second profile caps sessions at 30 minutes and refuses custom session names.
    const capped = await fromRolesAnywhere(init(h, { profileArn: ra.profileArns[1]!, durationSeconds: 7200 }))();
    expect(capped.expiration!.getTime() - Date.now()).toBeLessThanOrEqual(1800_000 + 2000);
    const refused = await rejection(
      fromRolesAnywhere(init(h, { profileArn: ra.profileArns[1]!, roleSessionName: "nightly-flow" }))(),
    );
    expect(refused.code).toBe("CONFIG_INVALID");
    expect(refused.message).toContain("ValidationException");
    expect(() => fromRolesAnywhere(init(h, { durationSeconds: 899 }))).toThrow(RangeError);
    expect(() => fromRolesAnywhere(init(h, { durationSeconds: 43_201 }))).toThrow(/`durationSeconds`/);
    expect(() => fromRolesAnywhere(init(h, { roleSessionName: "x" }))).toThrow(/`roleSessionName`/);
  });

  it("reports each refusal with its own code and what to do", async () => {
    const h = await host();
    const stranger = await (await createTestCa()).leaf();
    const untrusted = await rejection(
      fromRolesAnywhere(
        init({
          certFile: files.write("s.pem", stranger.certificate),
          keyFile: files.write("s.key", stranger.privateKey),
        }),
      )(),
    );
    expect(untrusted.code).toBe("CERTIFICATE_UNTRUSTED");
    expect(untrusted.message).toContain(ra.trustAnchorArns[0]!);

    const disabled = await rejection(fromRolesAnywhere(init(h, { trustAnchorArn: ra.trustAnchorArns[1]! }))());
    expect(disabled.code).toBe("CERTIFICATE_UNTRUSTED");

    ra.setTrustPolicy((q) => q.subject.includes("CN=someone-else"));
    const trust = await rejection(fromRolesAnywhere(init(h))());
    expect(trust.code).toBe("ACCESS_DENIED");
    expect(trust.message).toMatch(/trust policy must let rolesanywhere\.amazonaws\.com assume it/);
    ra.setTrustPolicy(undefined);

    const notInProfile = await rejection(fromRolesAnywhere(init(h, { roleArn: OTHER_ROLE }))());
    expect(notInProfile.code).toBe("ACCESS_DENIED");

    const anchor = ra.trustAnchorArns[0]!.replace(/[0-9a-f-]{36}$/, "00000000-0000-0000-0000-000000000000");
    const missing = await rejection(fromRolesAnywhere(init(h, { trustAnchorArn: anchor }))());
    expect(missing.code).toBe("CONFIG_INVALID");
    expect(missing.message).toContain("ResourceNotFoundException");

    // A clock 20 minutes off: the service refuses the signature's date, and the message says to check the clock.
    emu.setClockOffset(20 * 60_000);
    const skew = await rejection(fromRolesAnywhere(init(h))());
    expect(skew.code).toBe("SOURCE_FAILED");
    expect(skew.message).toMatch(/Signature expired.*clock/);
  });

  it("refuses an expired certificate or intermediate, a foreign key or a wrong passphrase before calling", async () => {
    const h = await host();
    const before = emu.calls(OP);
    const expiredLeaf = await root.leaf({
      notBefore: new Date(Date.now() - 86_400_000),
      notAfter: new Date(Date.now() - 60_000),
    });
    const expired = await rejection(
      fromRolesAnywhere(
        init({
          certFile: files.write("e.pem", expiredLeaf.certificate),
          keyFile: files.write("e.key", expiredLeaf.privateKey),
        }),
      )(),
    );
    expect(expired.code).toBe("CERTIFICATE_EXPIRED");
    const oldSub = await root.intermediate({ notAfter: new Date(Date.now() - 60_000) });
    const underOld = await host({}, oldSub);
    const expiredChain = await rejection(fromRolesAnywhere(init(underOld))());
    expect(expiredChain.code).toBe("CERTIFICATE_EXPIRED");
    expect(expiredChain.message).toContain("intermediate certificate");
    const other = await root.leaf();
    const mismatch = await rejection(
      fromRolesAnywhere(init({ ...h, keyFile: files.write("o.key", other.privateKey) }))(),
    );
    expect(mismatch.code).toBe("KEY_MISMATCH");
    const enc = createPrivateKey(h.privateKey).export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-128-cbc",
      passphrase: "s3cret-pass",
    });
    const encFile = files.write("enc.key", enc as string);
    const wrong = await rejection(
      fromRolesAnywhere(init({ ...h, keyFile: encFile }, { passphrase: "not-it-at-all" }))(),
    );
    expect(wrong.code).toBe("KEY_PASSPHRASE");
    expect(wrong.message).not.toContain("not-it-at-all");
    expect(emu.calls(OP)).toBe(before);
    expect(
      (await fromRolesAnywhere(init({ ...h, keyFile: encFile }, { passphrase: "s3cret-pass" }))()).accessKeyId,
    ).toMatch(/^ASIA/);
  });

  it("warns ahead of time when the certificate expires before the credential would", async () => {
    const soon = await root.leaf({ notAfter: new Date(Date.now() + 20 * 60_000) });
    const h = {
      certFile: files.write("soon.pem", soon.certificate),
      keyFile: files.write("soon.key", soon.privateKey),
    };
    const logger = recordingLogger();
    const session = new RefreshableSession({ method: "roles-anywhere", ...init(h), logger });
    open.push(session);
    const events: CertificateExpiring[] = [];
    session.on("certificate-expiring", (e) => events.push(e));
    const creds = await session.credentials();
    expect(events).toEqual([
      expect.objectContaining({ notAfter: soon.notAfter, credentialExpiration: creds.expiration, kind: "leaf" }),
    ]);
    expect(logger.lines.some((l) => l.startsWith("warn") && l.includes("renew it before then"))).toBe(true);
    expect(await session.validUntil()).toMatchObject({ source: "certificate", at: soon.notAfter });
    const facts = await session.sourceStatus();
    expect(facts.find((f) => f.key === "certificate.notAfter")?.problem).toMatch(/before the current credential/);
    expect(facts.find((f) => f.key === "rolesanywhere.roleArn")?.value).toBe(ROLE);
    expect(facts.find((f) => f.key === "certificate.keyMatches")?.value).toBe(true);
  });

  it("reports a throttled CreateSession (400 or 429 ThrottlingException) as a retryable failure, not a config error", async () => {
    const source = fromRolesAnywhere(init(await host()));
    for (const status of [400, 429]) {
      emu.fault(ra.operation, { error: { code: "ThrottlingException", status, message: "Rate exceeded" }, times: 1 });
      const err = await rejection(source());
      expect(err.code).toBe("SOURCE_FAILED");
      expect(err.message).toContain("ThrottlingException");
      expect(isRetryableSourceError(err)).toBe(true);
      expect((await source()).accessKeyId).toMatch(/^ASIA/);
    }
  });

  it("finds the endpoint from `endpoint`, AWS_ENDPOINT_URL_ROLESANYWHERE, AWS_ENDPOINT_URL, else the region", async () => {
    const h = await host();
    const { endpoint: _endpoint, ...base } = init(h);
    const specific = fromRolesAnywhere({
      ...base,
      env: { AWS_ENDPOINT_URL_ROLESANYWHERE: emu.url, AWS_ENDPOINT_URL: "http://127.0.0.1:9" },
    });
    expect(specific.endpoint.origin).toBe(emu.url);
    expect((await specific()).accessKeyId).toMatch(/^ASIA/);
    expect(fromRolesAnywhere({ ...base, env: { AWS_ENDPOINT_URL: emu.url } }).endpoint.origin).toBe(emu.url);
    expect(fromRolesAnywhere({ ...base, env: {} }).endpoint.href).toBe(
      `https://rolesanywhere.${emu.region}.amazonaws.com/sessions?profileArn=${encodeURIComponent(base.profileArn)}` +
        `&roleArn=${encodeURIComponent(ROLE)}&trustAnchorArn=${encodeURIComponent(base.trustAnchorArn)}`,
    );
    expect(fromRolesAnywhere({ ...base, region: "eu-west-1", env: {} }).region).toBe("eu-west-1");
  });

  it("never shows the key, the passphrase or a credential secret", async () => {
    const h = await host();
    const passphrase = "a-very-secret-passphrase";
    const enc = createPrivateKey(h.privateKey).export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase,
    });
    const logger = recordingLogger();
    const session = new RefreshableSession({
      method: "roles-anywhere",
      ...init(h, { privateKey: enc as string, passphrase }),
      logger,
    });
    open.push(session);
    const creds = await session.credentials();
    const shown =
      inspect(session, { depth: 8 }) + JSON.stringify(await session.sourceStatus()) + logger.lines.join("\n");
    for (const s of [passphrase, creds.secretAccessKey, creds.sessionToken!, (enc as string).split("\n")[1]!]) {
      expect(shown).not.toContain(s);
    }
  });

  it("validates its options with errors naming them", async () => {
    const h = await host();
    expect(() => fromRolesAnywhere(init(h, { trustAnchorArn: "arn:aws:iam::1:role/x" }))).toThrow(/`trustAnchorArn`/);
    expect(() => fromRolesAnywhere(init(h, { profileArn: "nope" }))).toThrow(/`profileArn`/);
    expect(() => fromRolesAnywhere(init(h, { roleArn: "nope" }))).toThrow(/`roleArn`/);
    expect(() =>
      fromRolesAnywhere(init(h, { profileArn: ra.profileArns[0]!.replace(`:${emu.region}:`, ":eu-north-1:") })),
    ).toThrow(/same region/);
    expect(() => fromRolesAnywhere(init(h, { endpoint: "ftp://x" }))).toThrow(/`endpoint`/);
    expect(() =>
      fromRolesAnywhere(init(h, { privateKey: { pkcs11: { module: "/x.so", pin: "1" } }, passphrase: "p" })),
    ).toThrow(/`passphrase` is for an encrypted PEM key/);
  });
});

describe("rolesAnywhereInitFromArgv: an aws_signing_helper credential-process command", () => {
  const anchor = "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/a1b2c3d4-0000-4000-8000-000000000001";
  const profile = "arn:aws:rolesanywhere:us-east-1:123456789012:profile/a1b2c3d4-0000-4000-8000-000000000002";
  const arns = ["--trust-anchor-arn", anchor, "--profile-arn", profile, "--role-arn", ROLE];

  it("reads every flag, in both `--flag value` and `--flag=value` forms", () => {
    expect(
      rolesAnywhereInitFromArgv([
        "/usr/local/bin/aws_signing_helper",
        "credential-process",
        "--certificate",
        "/etc/pki/cert.pem",
        "--private-key=/etc/pki/key.pem",
        "--intermediates",
        "/etc/pki/chain.pem",
        ...arns,
        "--session-duration",
        "7200",
        "--region=eu-west-1",
        "--endpoint",
        "https://rolesanywhere.eu-west-1.amazonaws.com",
        "--role-session-name",
        "flow-42",
        "--pkcs8-password",
        "pw",
        "--debug",
      ]),
    ).toEqual({
      trustAnchorArn: anchor,
      profileArn: profile,
      roleArn: ROLE,
      certificate: "/etc/pki/cert.pem",
      privateKey: "/etc/pki/key.pem",
      intermediates: "/etc/pki/chain.pem",
      durationSeconds: 7200,
      region: "eu-west-1",
      endpoint: "https://rolesanywhere.eu-west-1.amazonaws.com",
      roleSessionName: "flow-42",
      passphrase: "pw",
    });
  });

  it("reads the pkcs11: URI forms of the key and the certificate", () => {
    const init = rolesAnywhereInitFromArgv([
      "aws_signing_helper",
      "credential-process",
      "--certificate",
      "pkcs11:token=host;object=host-cert;type=cert",
      "--private-key",
      "pkcs11:token=host;object=host-key;id=%a1%02;type=private?pin-source=file:/run/pin",
      "--pkcs11-lib",
      "/usr/lib/softhsm/libsofthsm2.so",
      ...arns,
    ]);
    expect(init.certificate).toEqual({
      pkcs11: { module: "/usr/lib/softhsm/libsofthsm2.so", tokenLabel: "host", certificateLabel: "host-cert" },
    });
    expect(init.privateKey).toEqual({
      pkcs11: {
        module: "/usr/lib/softhsm/libsofthsm2.so",
        tokenLabel: "host",
        keyLabel: "host-key",
        keyId: "a102",
        pinFile: "/run/pin",
      },
    });
    // Only a certificate URI: the key is the token's object of the same name, as the helper does it.
    const one = rolesAnywhereInitFromArgv([
      "aws_signing_helper",
      "credential-process",
      "--certificate",
      "pkcs11:slot-id=3;object=host?pin-value=1234&module-path=/opt/hsm.so",
      ...arns,
    ]);
    expect(one.privateKey).toEqual({ pkcs11: { module: "/opt/hsm.so", slot: 3, keyLabel: "host", pin: "1234" } });
  });

  it("refuses what it cannot serve, naming the flag", () => {
    const base = [
      "aws_signing_helper",
      "credential-process",
      "--certificate",
      "c.pem",
      "--private-key",
      "k.pem",
      ...arns,
    ];
    expect(() => rolesAnywhereInitFromArgv([...base, "--frobnicate"])).toThrow(
      /Unknown aws_signing_helper flag `--frobnicate`/,
    );
    expect(() => rolesAnywhereInitFromArgv([...base, "--cert-selector", "Key=x509Subject,Value=CN=a"])).toThrow(
      /`--cert-selector` .*certificate stores/,
    );
    expect(() => rolesAnywhereInitFromArgv([...base, "--no-verify-ssl"])).toThrow(/never turned off/);
    expect(() => rolesAnywhereInitFromArgv([...base, "--with-proxy"])).toThrow(/`--with-proxy`/);
    expect(() => rolesAnywhereInitFromArgv([...base, "--region"])).toThrow(/`--region` needs a value/);
    expect(() => rolesAnywhereInitFromArgv([...base, "--role-arn", ROLE])).toThrow(/given twice/);
    expect(() => rolesAnywhereInitFromArgv([...base, "stray"])).toThrow(/Unexpected argument "stray"/);
    expect(() => rolesAnywhereInitFromArgv([...base, "--session-duration", "1h"])).toThrow(/`--session-duration`/);
    expect(() => rolesAnywhereInitFromArgv(base.filter((a) => a !== "--profile-arn" && a !== profile))).toThrow(
      /`--profile-arn` is required/,
    );
    expect(() =>
      rolesAnywhereInitFromArgv([
        ...base.slice(0, 4),
        "--private-key",
        "pkcs11:object=k",
        "--pkcs11-lib",
        "/x.so",
        ...arns,
      ]),
    ).toThrow(/without a PIN/);
    expect(() =>
      rolesAnywhereInitFromArgv([...base.slice(0, 4), "--private-key", "pkcs11:object=k?pin-value=1", ...arns]),
    ).toThrow(/`--pkcs11-lib`/);
    expect(() =>
      rolesAnywhereInitFromArgv([...base.slice(0, 4), "--private-key", "handle:0x81000001", ...arns]),
    ).toThrow(/TPM/);
    expect(() => rolesAnywhereInitFromArgv(["aws_signing_helper", "serve", ...arns])).toThrow(
      /Not an `aws_signing_helper credential-process`/,
    );
    expect(isSigningHelperCommand(["C:\\tools\\aws_signing_helper.exe", "credential-process"])).toBe(true);
    expect(isSigningHelperCommand(["aws", "credential-process"])).toBe(false);
  });

  it("serves the command's own flags natively against the emulator", async () => {
    const h = await host({}, sub);
    const init = rolesAnywhereInitFromArgv([
      "aws_signing_helper",
      "credential-process",
      "--certificate",
      h.certFile,
      "--private-key",
      h.keyFile,
      "--intermediates",
      h.chainFile!,
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
    ]);
    const creds = await fromRolesAnywhere(init)();
    expect(creds.expiration!.getTime() - Date.now()).toBeLessThanOrEqual(900_000 + 2000);
    expect(JSON.parse(ra.received().at(-1)!.body)).toEqual({ durationSeconds: 900 });
  });
});
