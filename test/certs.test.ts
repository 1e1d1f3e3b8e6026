import { generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { certificateInfo } from "../src/certs/certificate.js";
import { ecdsaP1363ToDer } from "../src/certs/ecdsaSignature.js";
import { readPemInput } from "../src/certs/pemInput.js";
import { parsePkcs11Uri } from "../src/certs/pkcs11Uri.js";
import { canonicalRequest } from "../src/certs/x509SigV4.js";
import { createTestCa } from "../src/testing.js";
import { fileDir } from "./helpers/certs.js";

describe("certificate helpers", () => {
  it("keeps every digit of a 20-byte serial number (BigInt)", async () => {
    const serial = 0x7fffffffffffffffffffffffffffffffffffff01n;
    const leaf = await (await createTestCa()).leaf({ serialNumber: serial });
    const info = certificateInfo(leaf.certificate);
    expect(info.serialNumber).toBe(serial);
    expect(info.serialNumber.toString()).toBe("730750818665451459101842416358141509827966271233");
    expect(info.keyType).toBe("EC");
    expect(info.notAfter).toEqual(leaf.notAfter);
  });

  it("reads a file afresh at every call, and PEM text as it is", async () => {
    const dir = fileDir();
    try {
      const path = dir.write("c.pem", "-----BEGIN CERTIFICATE-----\none\n");
      expect(await readPemInput(path, "certificate", { source: "t" })).toContain("one");
      dir.write("c.pem", "-----BEGIN CERTIFICATE-----\ntwo\n");
      expect(await readPemInput(path, "certificate", { source: "t" })).toContain("two");
      expect(await readPemInput("-----BEGIN CERTIFICATE-----\nx", "certificate", { source: "t" })).toContain("x");
      await expect(readPemInput(`${dir.dir}/missing.pem`, "certificate", { source: "t" })).rejects.toMatchObject({
        code: "CERTIFICATE_INVALID",
        message: expect.stringContaining("no such file"),
      });
    } finally {
      dir.remove();
    }
  });

  it("turns a token's r||s ECDSA signature into the DER one Node (and AWS) verify", () => {
    for (const namedCurve of ["P-256", "P-384"]) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve });
      for (let i = 0; i < 20; i++) {
        const data = Buffer.from(`message ${i}`);
        const raw = sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
        const der = ecdsaP1363ToDer(raw);
        expect(verify("sha256", data, { key: publicKey, dsaEncoding: "der" }, der)).toBe(true);
      }
    }
    expect(() => ecdsaP1363ToDer(Buffer.alloc(3))).toThrow(/r \|\| s/);
  });

  it("parses pkcs11: URIs (RFC 7512), ids as raw bytes", () => {
    expect(
      parsePkcs11Uri("pkcs11:token=My%20Token;object=key;id=%01%a1;type=private?pin-value=12%2634&module-path=/x.so"),
    ).toEqual({
      token: "My Token",
      object: "key",
      id: "01a1",
      type: "private",
      pinValue: "12&34",
      modulePath: "/x.so",
    });
    expect(parsePkcs11Uri("pkcs11:slot-id=7?pin-source=file:///run/pin")).toEqual({ slotId: 7, pinSource: "/run/pin" });
    expect(() => parsePkcs11Uri("pkcs12:x")).toThrow(/starts with `pkcs11:`/);
    expect(() => parsePkcs11Uri("pkcs11:colour=blue")).toThrow(/unknown attribute `colour`/);
    expect(() => parsePkcs11Uri("pkcs11:manufacturer=Acme")).toThrow(/not supported/);
    expect(() => parsePkcs11Uri("pkcs11:object=k?module-name=softhsm2")).toThrow(/module-path/);
  });

  it("builds SigV4's canonical request: sorted, RFC 3986-encoded query; trimmed, sorted headers", () => {
    const url = new URL(
      "https://rolesanywhere.us-east-1.amazonaws.com/sessions?roleArn=arn:aws:iam::1:role/a b&profileArn=p",
    );
    const { canonical, signedHeaders } = canonicalRequest(
      "POST",
      url,
      { "X-Amz-Date": "20260101T000000Z", host: "rolesanywhere.us-east-1.amazonaws.com", "content-type": " a   b " },
      "{}",
    );
    expect(signedHeaders).toBe("content-type;host;x-amz-date");
    expect(canonical.split("\n")).toEqual([
      "POST",
      "/sessions",
      "profileArn=p&roleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b",
      "content-type:a b",
      "host:rolesanywhere.us-east-1.amazonaws.com",
      "x-amz-date:20260101T000000Z",
      "",
      "content-type;host;x-amz-date",
      "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    ]);
  });
});
