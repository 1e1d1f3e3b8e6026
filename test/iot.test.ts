import { inspect } from "node:util";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkRequirement } from "../src/cli/requirement.js";
import type { ResolvedSource } from "../src/cli/profile.js";
import { isRetryableSourceError } from "../src/refresh/retryable.js";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import { fromIotCertificate, type IotCertificateInit } from "../src/sources/iot.js";
import type { CertificateExpiring } from "../src/types.js";
import {
  createTestCa,
  startEmulator,
  startIotCredentialsEndpoint,
  type Emulator,
  type IotCredentialsEndpoint,
  type TestCa,
  type TestCertificate,
} from "../src/testing.js";
import { fileDir, recordingLogger, sharedClock, type FileDir } from "./helpers/certs.js";
import { rejection } from "./helpers/rejection.js";

let emu: Emulator;
let iot: IotCredentialsEndpoint;
let ca: TestCa;
let files: FileDir;
const ALIAS = "emulator-role-alias";
const OP = "iot:AssumeRoleWithCertificate";
const open: RefreshableSession[] = [];

beforeAll(async () => {
  emu = await startEmulator();
  iot = await startIotCredentialsEndpoint(emu);
  ca = iot.deviceCa as TestCa;
  files = fileDir();
});
afterEach(() => {
  emu.clearFaults();
  emu.setClockOffset(0);
  for (const s of open.splice(0)) s.close();
});
afterAll(async () => {
  await emu.close();
  files.remove();
});

let n = 0;
/** A device certificate and key written to files, attached to a thing named after it. */
async function device(
  options: Parameters<TestCa["leaf"]>[0] = {},
  issuer: TestCa = ca,
): Promise<TestCertificate & { certFile: string; keyFile: string; thing: string }> {
  const thing = `thing-${++n}`;
  const leaf = await issuer.leaf({ commonName: thing, ...options });
  iot.attachThing(thing, leaf.certificate);
  return {
    ...leaf,
    thing,
    certFile: files.write(`${thing}.pem`, leaf.certificate + leaf.chain),
    keyFile: files.write(`${thing}.key`, leaf.privateKey),
  };
}

function init(d: { certFile: string; keyFile: string; thing: string }, extra: Partial<IotCertificateInit> = {}) {
  return {
    endpoint: iot.url,
    ca: iot.serverCa,
    roleAlias: ALIAS,
    thingName: d.thing,
    certificate: d.certFile,
    privateKey: d.keyFile,
    region: emu.region,
    ...extra,
  } satisfies IotCertificateInit;
}

async function callerArn(creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) {
  const sts = new STSClient({ region: emu.region, endpoint: emu.url, credentials: creds });
  try {
    return (await sts.send(new GetCallerIdentityCommand({}))).Arn;
  } finally {
    sts.destroy();
  }
}

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase();

describe("fromIotCertificate against the emulator's IoT credentials endpoint", () => {
  it.each(["EC", "RSA"] as const)("trades a %s device certificate for role credentials STS accepts", async (alg) => {
    const d = await device({ keyAlgorithm: alg });
    const source = fromIotCertificate(init(d));
    const before = emu.calls(OP);
    const creds = await source();
    expect(emu.calls(OP)).toBe(before + 1);
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(creds.expiration!.getTime()).toBeGreaterThan(Date.now() + 3000_000);
    // The role session is named after the certificate id (its SHA-256), as AWS IoT names it.
    expect(await callerArn(creds)).toBe(
      `arn:aws:sts::${emu.accountId}:assumed-role/emulator-iot/${fingerprint(d.certificate)}`,
    );
    expect(source.sourceName).toBe(`iot:${ALIAS}`);
  });

  it("serves 20 concurrent callers across 5 rotations with one endpoint call per rotation", async () => {
    const d = await device();
    const clock = sharedClock();
    const session = new RefreshableSession({ method: "iot", ...init(d), refresh: { clock } });
    open.push(session);
    const first = await session.credentials();
    const keys = new Set([first.accessKeyId]);
    for (let rotation = 0; rotation < 5; rotation++) {
      const current = await session.credentials();
      // Jump both clocks to 5 minutes before expiry: inside the mandatory window, callers wait for one refresh.
      clock.offsetMs += current.expiration!.getTime() - clock.now() - 5 * 60_000;
      emu.setClockOffset(clock.offsetMs);
      const before = emu.calls(OP);
      const got = await Promise.all(Array.from({ length: 20 }, () => session.credentials()));
      expect(emu.calls(OP) - before).toBe(1);
      expect(new Set(got.map((c) => c.accessKeyId)).size).toBe(1);
      expect(got[0]!.accessKeyId).not.toBe(current.accessKeyId);
      keys.add(got[0]!.accessKeyId);
    }
    expect(keys.size).toBe(6);
    expect(session.metrics().refreshFailures).toBe(0);
  });

  it("uses a certificate renewed on disk from the next refresh on", async () => {
    const d = await device();
    const source = fromIotCertificate(init(d));
    const a = await source();
    expect(emu.credential(a.accessKeyId)!.arn).toContain(fingerprint(d.certificate));
    const renewed = await ca.leaf({ commonName: d.thing, keyAlgorithm: "RSA" });
    iot.attachThing(d.thing, renewed.certificate);
    // Key first, then certificate, each written whole: the way a renewal agent should do it.
    files.write(`${d.thing}.key`, renewed.privateKey);
    files.write(`${d.thing}.pem`, renewed.certificate);
    const b = await source();
    expect(emu.credential(b.accessKeyId)!.arn).toContain(fingerprint(renewed.certificate));
    expect(emu.credential(b.accessKeyId)!.arn).not.toContain(fingerprint(d.certificate));
  });

  it("presents an intermediate chain, from the certificate file or from `intermediates`", async () => {
    const sub = await ca.intermediate({ commonName: "emulator IoT sub CA" });
    const d = await device({ keyAlgorithm: "RSA" }, sub);
    // device() wrote the leaf followed by its chain.
    expect((await fromIotCertificate(init(d))()).accessKeyId).toMatch(/^ASIA/);
    const leafOnly = files.write(`${d.thing}-leaf.pem`, d.certificate);
    const chain = files.write(`${d.thing}-chain.pem`, d.chain);
    expect(
      (await fromIotCertificate(init({ ...d, certFile: leafOnly }, { intermediates: chain }))()).accessKeyId,
    ).toMatch(/^ASIA/);
    // Without the intermediate, the endpoint cannot chain the leaf to the CA it trusts.
    const err = await rejection(fromIotCertificate(init({ ...d, certFile: leafOnly }))());
    expect(err.code).toBe("CERTIFICATE_UNTRUSTED");
  });

  it("decrypts an encrypted key with `passphrase`; a wrong or missing one is KEY_PASSPHRASE, never shown", async () => {
    const d = await device();
    const passphrase = "correct horse battery staple";
    const encrypted = createPrivateKey(d.privateKey).export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase,
    }) as string;
    const keyFile = files.write(`${d.thing}-enc.key`, encrypted);
    expect((await fromIotCertificate(init({ ...d, keyFile }, { passphrase }))()).accessKeyId).toMatch(/^ASIA/);
    const before = emu.calls(OP);
    const wrong = await rejection(fromIotCertificate(init({ ...d, keyFile }, { passphrase: "Tr0ub4dor&3" }))());
    expect(wrong.code).toBe("KEY_PASSPHRASE");
    expect(wrong.message).toMatch(/passphrase .* is wrong/);
    expect(wrong.message).not.toContain("Tr0ub4dor");
    const missing = await rejection(fromIotCertificate(init({ ...d, keyFile }))());
    expect(missing.code).toBe("KEY_PASSPHRASE");
    expect(missing.message).toContain("encrypted and no passphrase");
    expect(emu.calls(OP)).toBe(before);
  });

  it("reports each refusal with its own code and what to do", async () => {
    const d = await device();
    const other = await (await createTestCa({ commonName: "unknown CA" })).leaf({ commonName: d.thing });
    const stranger = await rejection(
      fromIotCertificate(
        init({
          ...d,
          certFile: files.write("stranger.pem", other.certificate),
          keyFile: files.write("stranger.key", other.privateKey),
        }),
      )(),
    );
    expect(stranger.code).toBe("CERTIFICATE_UNTRUSTED");
    expect(stranger.message).toContain("Certificate is invalid on this endpoint");

    const notAttached = await rejection(fromIotCertificate(init(d, { thingName: "someone-else" }))());
    expect(notAttached.code).toBe("IOT_THING_NOT_ATTACHED");
    expect(notAttached.message).toContain("aws iot attach-thing-principal --thing-name someone-else");

    iot.setPolicyAllows(d.certificate, false);
    const denied = await rejection(fromIotCertificate(init(d))());
    iot.setPolicyAllows(d.certificate, true);
    expect(denied.code).toBe("ACCESS_DENIED");
    expect(denied.message).toContain("iot:AssumeRoleWithCertificate");

    const noAlias = await rejection(fromIotCertificate(init(d, { roleAlias: "no-such-alias" }))());
    expect(noAlias.code).toBe("CONFIG_INVALID");
    expect(noAlias.message).toContain("Role alias does not exist");

    iot.setCertificateActive(d.certificate, false);
    const inactive = await rejection(fromIotCertificate(init(d))());
    iot.setCertificateActive(d.certificate, true);
    expect(inactive.code).toBe("CERTIFICATE_UNTRUSTED");

    iot.setRoleAlias("broken-alias", { roleArn: "not-a-role" });
    const noRole = await rejection(fromIotCertificate(init(d, { roleAlias: "broken-alias" }))());
    expect(noRole.code).toBe("ACCESS_DENIED");
    expect(noRole.message).toContain("trust policy");
  });

  it("refuses an expired certificate or a key of another certificate before calling the endpoint", async () => {
    const d = await device();
    const expired = await ca.leaf({
      commonName: d.thing,
      notBefore: new Date(Date.now() - 48 * 3_600_000),
      notAfter: new Date(Date.now() - 3_600_000),
    });
    const before = emu.calls(OP);
    const old = await rejection(
      fromIotCertificate(
        init({
          ...d,
          certFile: files.write("expired.pem", expired.certificate),
          keyFile: files.write("expired.key", expired.privateKey),
        }),
      )(),
    );
    expect(old.code).toBe("CERTIFICATE_EXPIRED");
    expect(old.message).toContain(expired.notAfter.toISOString());
    const other = await ca.leaf();
    const mismatch = await rejection(
      fromIotCertificate(init({ ...d, keyFile: files.write("other.key", other.privateKey) }))(),
    );
    expect(mismatch.code).toBe("KEY_MISMATCH");
    expect(mismatch.message).toContain(d.certFile);
    expect(emu.calls(OP)).toBe(before);
  });

  it("warns ahead of time when the certificate expires before the credential would (event, log, status, --require)", async () => {
    const d = await device();
    const soon = await ca.leaf({ commonName: d.thing, notAfter: new Date(Date.now() + 30 * 60_000) });
    iot.attachThing(d.thing, soon.certificate);
    files.write(`${d.thing}.key`, soon.privateKey);
    files.write(`${d.thing}.pem`, soon.certificate);
    const logger = recordingLogger();
    const session = new RefreshableSession({ method: "iot", ...init(d), logger });
    open.push(session);
    const events: CertificateExpiring[] = [];
    session.on("certificate-expiring", (e) => events.push(e));
    const creds = await session.credentials();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: `iot:${ALIAS}`,
      notAfter: soon.notAfter,
      credentialExpiration: creds.expiration,
      kind: "leaf",
      serialNumber: soon.serialNumber.toString(),
      location: d.certFile,
    });
    expect(logger.lines.filter((l) => l.startsWith("warn") && l.includes(soon.notAfter.toISOString()))).toHaveLength(1);
    await session.refresh();
    expect(events).toHaveLength(1); // once per certificate
    const status = await session.sourceStatus();
    const notAfter = status.find((s) => s.key === "certificate.notAfter");
    expect(notAfter?.value).toBe(soon.notAfter.toISOString());
    expect(notAfter?.problem).toMatch(/before the current credential/);
    const end = await session.validUntil();
    expect(end).toMatchObject({ source: "certificate", at: soon.notAfter, kind: "leaf", location: d.certFile });
    const resolved = {
      session,
      profile: undefined,
      kind: "default-chain",
      description: "iot",
    } as unknown as ResolvedSource;
    const check = await checkRequirement(resolved, 2 * 3_600_000);
    expect(check.ok).toBe(false);
    expect(check.fix).toContain(`Renew the certificate before ${soon.notAfter.toISOString()}`);
  });

  it("keeps serving the credential while the endpoint fails, and recovers when it answers again", async () => {
    const d = await device();
    const session = new RefreshableSession({ method: "iot", ...init(d), refresh: { retryBaseMs: 50 } });
    open.push(session);
    const a = await session.credentials();
    emu.fault(OP, { error: { code: "InternalFailure", status: 500 } });
    await expect(session.refresh()).rejects.toThrow(/500/);
    expect((await session.credentials()).accessKeyId).toBe(a.accessKeyId);
    emu.clearFaults();
    expect((await session.refresh()).accessKeyId).not.toBe(a.accessKeyId);
  });

  it("reports throttling and 5xx as retryable source failures, and the next call succeeds", async () => {
    const d = await device();
    const source = fromIotCertificate(init(d));
    for (const error of [
      { code: "ThrottlingException", status: 429 },
      // AWS's JSON services mostly throttle with a 400: still throttling, never a config mistake.
      { code: "ThrottlingException", status: 400 },
      { code: "ServiceUnavailable", status: 503 },
    ]) {
      emu.fault(OP, { error, times: 1 });
      const err = await rejection(source());
      expect(err.code).toBe("SOURCE_FAILED");
      expect(err.actionable).toBe(false);
      if (error.code === "ThrottlingException") expect(isRetryableSourceError(err)).toBe(true);
      expect(err.message).toContain(`AWS IoT answered ${error.status}`);
      expect((await source()).accessKeyId).toMatch(/^ASIA/);
    }
  });

  it("never shows a key, passphrase or credential secret in util.inspect, status or logs", async () => {
    const d = await device();
    const passphrase = "hunter2-hunter2";
    const encrypted = createPrivateKey(d.privateKey).export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase,
    }) as string;
    const logger = recordingLogger();
    const session = new RefreshableSession({
      method: "iot",
      ...init(d, { privateKey: encrypted, passphrase }),
      logger,
    });
    open.push(session);
    const creds = await session.credentials();
    emu.fault(OP, { error: { code: "InternalFailure", status: 500 }, times: 1 });
    await session.refresh().catch(() => {});
    const shown =
      inspect(session, { depth: 6 }) +
      inspect(session.credentials, { depth: 6 }) +
      JSON.stringify(await session.sourceStatus()) +
      logger.lines.join("\n");
    for (const secret of [passphrase, creds.secretAccessKey, creds.sessionToken!, d.privateKey.split("\n")[1]!]) {
      expect(shown).not.toContain(secret);
    }
  });

  it("validates its options with errors naming them", () => {
    const base = { roleAlias: ALIAS, certificate: "c.pem", privateKey: "k.pem" };
    expect(() => fromIotCertificate({ ...base, endpoint: "http://example.com" })).toThrow(/`endpoint` must be https/);
    expect(() => fromIotCertificate({ ...base, endpoint: "a1b2c3-ats.iot.eu-west-1.amazonaws.com" })).toThrow(
      /data \(MQTT\) endpoint.*iot:CredentialProvider/,
    );
    expect(() => fromIotCertificate({ ...base, endpoint: iot.url, roleAlias: "bad alias" })).toThrow(/`roleAlias`/);
    expect(() => fromIotCertificate({ ...base, endpoint: iot.url, thingName: "a b" })).toThrow(/`thingName`/);
    expect(() => fromIotCertificate({ ...base, endpoint: iot.url, certificate: "" })).toThrow(/`certificate`/);
    expect(() =>
      fromIotCertificate({
        ...base,
        endpoint: iot.url,
        privateKey: { pkcs11: { module: "/x.so", pin: "1", keyId: "01" } },
      }),
    ).toThrow(/`privateKey.pkcs11.keyId` is not supported/);
    expect(() =>
      fromIotCertificate({ ...base, endpoint: iot.url, privateKey: { pkcs11: { module: "/x.so" } } as never }),
    ).toThrow(/`privateKey.pkcs11.pin` or `privateKey.pkcs11.pinFile`/);
    expect(fromIotCertificate({ ...base, endpoint: "x1.credentials.iot.eu-west-2.amazonaws.com" }).region).toBe(
      "eu-west-2",
    );
  });
});
