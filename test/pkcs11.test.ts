import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RefreshableSession } from "../src/session/RefreshableSession.js";
import { fromIotCertificate, type IotCertificateInit } from "../src/sources/iot.js";
import { fromRolesAnywhere, rolesAnywhereInitFromArgv, type RolesAnywhereInit } from "../src/sources/roles-anywhere.js";
import {
  addRolesAnywhere,
  createTestCa,
  startEmulator,
  startIotCredentialsEndpoint,
  type Emulator,
  type EmulatorRolesAnywhere,
  type IotCredentialsEndpoint,
  type TestCa,
  type TestCertificate,
} from "../src/testing.js";
import { recordingLogger } from "./helpers/certs.js";
import { interopAvailable } from "./helpers/interop.js";
import { SOFTHSM_MODULE, softHsmToken, type SoftHsmToken } from "./helpers/softhsm.js";
import { rejection } from "./helpers/rejection.js";

const hsm = interopAvailable("softhsm2");
const python = interopAvailable("cryptography");
const ROLE = "arn:aws:iam::123456789012:role/hsm-host";

describe.skipIf(!hsm.ok)("PKCS#11 keys through SoftHSM2", () => {
  let emu: Emulator;
  let ra: EmulatorRolesAnywhere;
  let iot: IotCredentialsEndpoint;
  let token: SoftHsmToken;
  let fresh: SoftHsmToken;
  let root: TestCa;
  let ecLeaf: TestCertificate;
  let rsaLeaf: TestCertificate;
  let ecCertFile: string;
  let rsaCertFile: string;
  let device: TestCertificate;
  let deviceRsa: TestCertificate;

  beforeAll(async () => {
    token = softHsmToken("aws-refresh-test");
    emu = await startEmulator();
    root = await createTestCa();
    ecLeaf = await root.leaf({ commonName: "hsm-ec" });
    rsaLeaf = await root.leaf({ commonName: "hsm-rsa", keyAlgorithm: "RSA" });
    ra = addRolesAnywhere(emu, {
      trustAnchors: [{ certificates: [root.certificate] }],
      profiles: [{ roleArns: [ROLE] }],
    });
    iot = await startIotCredentialsEndpoint(emu);
    device = await iot.deviceCa!.leaf({ commonName: "hsm-device" });
    deviceRsa = await iot.deviceCa!.leaf({ commonName: "hsm-device-rsa", keyAlgorithm: "RSA" });
    iot.attachThing("hsm-device", device.certificate);
    token.importKey(ecLeaf.privateKey, "ec-key", "01");
    token.importKey(rsaLeaf.privateKey, "rsa-key", "02");
    token.importKey(device.privateKey, "device-key", "03");
    token.importKey(deviceRsa.privateKey, "device-rsa-key", "04");
    token.importCertificate(ecLeaf.certificate, "ec-cert", "01");
    fresh = token.addToken("never-logged-in", "pin-8316");
    fresh.importKey(device.privateKey, "device-key", "03");
    ecCertFile = token.dir.write("ec.pem", ecLeaf.certificate);
    rsaCertFile = token.dir.write("rsa.pem", rsaLeaf.certificate);
  });
  afterAll(async () => {
    await emu?.close();
    token?.dir.remove();
  });

  const raInit = (extra: Partial<RolesAnywhereInit>): RolesAnywhereInit => ({
    trustAnchorArn: ra.trustAnchorArns[0]!,
    profileArn: ra.profileArns[0]!,
    roleArn: ROLE,
    certificate: ecCertFile,
    privateKey: { pkcs11: { module: SOFTHSM_MODULE, tokenLabel: token.label, pin: token.pin, keyLabel: "ec-key" } },
    endpoint: emu.url,
    ...extra,
  });

  describe("IAM Roles Anywhere: the token signs CreateSession (pkcs11js)", () => {
    it("signs with an EC key found by label; Python verifies the DER signature the token's r||s became", async () => {
      const creds = await fromRolesAnywhere(raInit({}))();
      expect(emu.credential(creds.accessKeyId)!.arn).toBe(
        `arn:aws:sts::123456789012:assumed-role/hsm-host/${ecLeaf.serialNumber.toString(16)}`,
      );
      if (python.ok) {
        const out = spawnSync("python3", ["test/helpers/verify_x509_sigv4.py"], {
          input: JSON.stringify({ ...ra.received().at(-1)!, anchors: [root.certificate] }),
          encoding: "utf8",
        });
        expect(JSON.parse(out.stdout)).toMatchObject({ ok: true, algorithm: "AWS4-X509-ECDSA-SHA256", anchored: true });
      }
    });

    it("signs with an RSA key found by id, the PIN read from a file, in the token's slot", async () => {
      const pinFile = token.dir.write("pin", `${token.pin}\n`);
      const source = fromRolesAnywhere(
        raInit({
          certificate: rsaCertFile,
          privateKey: { pkcs11: { module: SOFTHSM_MODULE, slot: token.slot, pinFile, keyId: "02" } },
        }),
      );
      const sts = new STSClient({ region: emu.region, endpoint: emu.url, credentials: await source() });
      expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toContain(rsaLeaf.serialNumber.toString(16));
      sts.destroy();
      expect(ra.received().at(-1)!.headers.authorization).toMatch(/^AWS4-X509-RSA-SHA256 /);
    });

    it("reads the certificate from the token too, through the helper's pkcs11: URIs", async () => {
      const init = rolesAnywhereInitFromArgv([
        "aws_signing_helper",
        "credential-process",
        "--certificate",
        `pkcs11:token=${token.label};object=ec-cert;type=cert?pin-value=${token.pin}`,
        "--private-key",
        `pkcs11:token=${token.label};object=ec-key;type=private?pin-value=${token.pin}`,
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
      ]);
      const source = fromRolesAnywhere(init);
      expect((await source()).accessKeyId).toMatch(/^ASIA/);
      expect(ra.received().at(-1)!.headers.authorization).toContain(`Credential=${ecLeaf.serialNumber}/`);
      expect(await source.validUntil()).toMatchObject({ source: "certificate", at: ecLeaf.notAfter });
    });

    it("refreshes in the background session with the token, and reports the key in status", async () => {
      const session = new RefreshableSession({ method: "roles-anywhere", ...raInit({}) });
      try {
        const a = await session.credentials();
        const b = await session.refresh();
        expect(b.accessKeyId).not.toBe(a.accessKeyId);
        const facts = await session.sourceStatus();
        expect(facts.find((f) => f.key === "certificate.key")?.value).toContain(`token "${token.label}"`);
        expect(JSON.stringify(facts)).not.toContain(token.pin);
      } finally {
        session.close();
      }
    });

    it("a wrong PIN is PKCS11_PIN_INCORRECT, never shown, and nothing is sent", async () => {
      const before = emu.calls("rolesanywhere:CreateSession");
      const err = await rejection(
        fromRolesAnywhere(
          raInit({
            privateKey: {
              pkcs11: { module: SOFTHSM_MODULE, tokenLabel: token.label, pin: "999999", keyLabel: "ec-key" },
            },
          }),
        )(),
      );
      expect(err.code).toBe("PKCS11_PIN_INCORRECT");
      expect(err.message).toContain("CKR_PIN_INCORRECT");
      expect(err.message).not.toContain("999999");
      expect(emu.calls("rolesanywhere:CreateSession")).toBe(before);
    });

    it("a token key of another certificate is KEY_MISMATCH; a missing one names what the token holds", async () => {
      const mismatch = await rejection(
        fromRolesAnywhere(
          raInit({
            privateKey: {
              pkcs11: { module: SOFTHSM_MODULE, tokenLabel: token.label, pin: token.pin, keyLabel: "rsa-key" },
            },
          }),
        )(),
      );
      expect(mismatch.code).toBe("KEY_MISMATCH");
      const missing = await rejection(
        fromRolesAnywhere(
          raInit({
            privateKey: {
              pkcs11: { module: SOFTHSM_MODULE, tokenLabel: token.label, pin: token.pin, keyLabel: "nope" },
            },
          }),
        )(),
      );
      expect(missing.code).toBe("PKCS11_FAILED");
      expect(missing.message).toContain('No private key on PKCS#11 token "aws-refresh-test"');
      const ambiguous = await rejection(
        fromRolesAnywhere(
          raInit({ privateKey: { pkcs11: { module: SOFTHSM_MODULE, tokenLabel: token.label, pin: token.pin } } }),
        )(),
      );
      expect(ambiguous.message).toMatch(/Several private keys .*"ec-key"/);
      const noToken = await rejection(
        fromRolesAnywhere(
          raInit({ privateKey: { pkcs11: { module: SOFTHSM_MODULE, tokenLabel: "other", pin: "1", keyLabel: "k" } } }),
        )(),
      );
      expect(noToken.message).toContain(`"${token.label}" (slot ${token.slot})`);
      const noModule = await rejection(
        fromRolesAnywhere(
          raInit({ privateKey: { pkcs11: { module: "/nonexistent/libp11.so", pin: "1", keyLabel: "k" } } }),
        )(),
      );
      expect(noModule.code).toBe("PKCS11_FAILED");
      expect(noModule.message).toContain("Cannot load the PKCS#11 module /nonexistent/libp11.so");
    });
  });

  describe("AWS IoT: the token signs the TLS handshake (aws-crt)", () => {
    const iotInit = (
      cert: TestCertificate,
      keyLabel: string,
      extra: Partial<IotCertificateInit> = {},
    ): IotCertificateInit => ({
      endpoint: iot.url,
      ca: iot.serverCa,
      roleAlias: "emulator-role-alias",
      certificate: cert.certificate,
      privateKey: { pkcs11: { module: SOFTHSM_MODULE, tokenLabel: token.label, pin: token.pin, keyLabel } },
      ...extra,
    });

    it.each([
      ["EC", () => device, "device-key"],
      ["RSA", () => deviceRsa, "device-rsa-key"],
    ] as const)("gets credentials with a %s key held by the token", async (_alg, cert, keyLabel) => {
      const logger = recordingLogger();
      const session = new RefreshableSession({ method: "iot", ...iotInit(cert(), keyLabel), logger });
      try {
        const before = emu.calls(iot.operation);
        const a = await session.credentials();
        const b = await session.refresh();
        expect(emu.calls(iot.operation) - before).toBe(2);
        expect(b.accessKeyId).not.toBe(a.accessKeyId);
        const id = new X509Certificate(cert().certificate).fingerprint256.replace(/:/g, "").toLowerCase();
        expect(emu.credential(b.accessKeyId)!.arn).toBe(
          `arn:aws:sts::${emu.accountId}:assumed-role/emulator-iot/${id}`,
        );
        expect(logger.lines.join("\n")).not.toContain(token.pin);
      } finally {
        session.close();
      }
    });

    it("sends the thing name, and a wrong PIN is PKCS11_PIN_INCORRECT", async () => {
      expect(
        (await fromIotCertificate(iotInit(device, "device-key", { thingName: "hsm-device" }))()).accessKeyId,
      ).toMatch(/^ASIA/);
      // A token stays logged in while aws-crt holds a session on it: ask one that nobody has logged in to yet.
      const err = await rejection(
        fromIotCertificate(
          iotInit(device, "device-key", {
            privateKey: {
              pkcs11: { module: SOFTHSM_MODULE, tokenLabel: fresh.label, pin: "000000", keyLabel: "device-key" },
            },
          }),
        )(),
      );
      expect(err.code).toBe("PKCS11_PIN_INCORRECT");
      expect(err.message).not.toContain("000000");
    });

    it("a token key that is not the certificate's is refused in the handshake, or reported as KEY_MISMATCH", async () => {
      // An EC key of another certificate: the endpoint refuses the handshake's signature.
      const err = await rejection(fromIotCertificate(iotInit(device, "ec-key"))());
      expect(err.code).toBe("CERTIFICATE_UNTRUSTED");
      expect(err.message).toContain("the token's key must be the certificate's own");
      // An RSA key for an EC certificate cannot even sign the handshake the certificate announces.
      const wrongType = await rejection(fromIotCertificate(iotInit(device, "device-rsa-key"))());
      expect(wrongType.code).toBe("KEY_MISMATCH");
    });
  });
});
