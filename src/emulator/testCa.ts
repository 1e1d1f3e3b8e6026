import { randomBytes, webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import type * as X509 from "@peculiar/x509";

/** A certificate made by a {@link TestCa}, with its private key. For tests and the emulator: never for production. */
export interface TestCertificate {
  /** PEM. */
  certificate: string;
  /** PKCS#8 PEM, unencrypted. */
  privateKey: string;
  /** PEM of the intermediates between this certificate and the root, nearest first (empty under the root). */
  chain: string;
  serialNumber: bigint;
  /** e.g. `CN=sensor-7, O=aws-refresh-session test`. */
  subject: string;
  notBefore: Date;
  notAfter: Date;
  keyAlgorithm: "RSA" | "EC";
}

/** What a certificate is made with. */
export interface TestCertificateOptions {
  /** Common name. Default: `test-<hex>`. */
  commonName?: string;
  /** Default `EC` (P-256); `RSA` is 2048-bit. */
  keyAlgorithm?: "RSA" | "EC";
  /** Default: one hour ago. */
  notBefore?: Date;
  /** Default: `notBefore` + 30 days. */
  notAfter?: Date;
  /** Default: 20 random bytes (the most X.509 allows), so that serials beyond a JS number are exercised. */
  serialNumber?: bigint;
}

/** A certificate authority for tests: a root, or an intermediate made by one. */
export interface TestCa extends TestCertificate {
  /** An intermediate CA under this one. */
  intermediate(options?: TestCertificateOptions): Promise<TestCa>;
  /** A client certificate (TLS client auth, digital signature), e.g. a device's or a server's for Roles Anywhere. */
  leaf(options?: TestCertificateOptions): Promise<TestCertificate>;
  /** A TLS server certificate for `hosts` (IP addresses or DNS names). */
  server(hosts: string[], options?: TestCertificateOptions): Promise<TestCertificate>;
}

type X509Module = typeof X509;
let loading: Promise<X509Module> | undefined;

/** @peculiar/x509 needs a Reflect metadata polyfill; loaded only when a test CA is made. */
function x509(): Promise<X509Module> {
  loading ??= (async () => {
    await import("reflect-metadata");
    const m = (await import("@peculiar/x509")) as X509Module & { default?: X509Module };
    const lib = m.X509CertificateGenerator ? m : (m.default as X509Module);
    lib.cryptoProvider.set(webcrypto as unknown as Parameters<typeof lib.cryptoProvider.set>[0]);
    return lib;
  })();
  return loading;
}

const HOUR = 3_600_000;

function algorithm(kind: "RSA" | "EC"): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  return kind === "RSA"
    ? { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
    : { name: "ECDSA", namedCurve: "P-256" };
}

function signingAlgorithm(kind: "RSA" | "EC"): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return kind === "RSA" ? { name: "RSASSA-PKCS1-v1_5" } : { name: "ECDSA", hash: "SHA-256" };
}

function randomSerial(): bigint {
  const bytes = randomBytes(20);
  bytes[0] = 0x10 + ((bytes[0] as number) % 0x70); // positive, and a full 20 bytes
  return BigInt(`0x${bytes.toString("hex")}`);
}

/** A serial as the DER INTEGER's hex: whole bytes, with a leading zero byte if the top bit is set (positive). */
function serialHex(serial: bigint): string {
  if (serial <= 0n) throw new RangeError("`serialNumber` must be positive");
  let hex = serial.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return parseInt(hex.slice(0, 1), 16) >= 8 ? `00${hex}` : hex;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

interface Issuer {
  name: string;
  key: CryptoKey;
  keyAlgorithm: "RSA" | "EC";
  cert: X509.X509Certificate;
  /** PEM of this issuer and the intermediates above it (empty for a root). */
  chainFromHere: string;
}

type Kind = "root" | "intermediate" | "leaf" | "server";

async function make(
  kind: Kind,
  issuer: Issuer | undefined,
  options: TestCertificateOptions,
  hosts: string[] = [],
): Promise<{ cert: TestCertificate; issuer: Issuer }> {
  const lib = await x509();
  const keyAlgorithm = options.keyAlgorithm ?? "EC";
  const keys = (await webcrypto.subtle.generateKey(algorithm(keyAlgorithm), true, ["sign", "verify"])) as CryptoKeyPair;
  // X.509 times are whole seconds: round here so the dates handed back are the certificate's own.
  const seconds = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);
  const notBefore = seconds(options.notBefore ?? new Date(Date.now() - HOUR));
  const notAfter = seconds(options.notAfter ?? new Date(notBefore.getTime() + 30 * 24 * HOUR));
  const serialNumber = options.serialNumber ?? randomSerial();
  const commonName = options.commonName ?? `test-${randomBytes(4).toString("hex")}`;
  const name = `CN=${commonName}, O=aws-refresh-session test`;
  const ca = kind === "root" || kind === "intermediate";
  const extensions: X509.Extension[] = [
    new lib.BasicConstraintsExtension(ca, undefined, true),
    new lib.KeyUsagesExtension(
      ca
        ? lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign | lib.KeyUsageFlags.digitalSignature
        : lib.KeyUsageFlags.digitalSignature |
            (keyAlgorithm === "RSA" ? lib.KeyUsageFlags.keyEncipherment : lib.KeyUsageFlags.keyAgreement),
      true,
    ),
    await lib.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (issuer) extensions.push(await lib.AuthorityKeyIdentifierExtension.create(issuer.cert));
  if (kind === "leaf") extensions.push(new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.clientAuth]));
  if (kind === "server") {
    extensions.push(new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth]));
    extensions.push(
      new lib.SubjectAlternativeNameExtension(
        hosts.map((h) =>
          /^[\d.]+$|:/.test(h) ? { type: "ip" as const, value: h } : { type: "dns" as const, value: h },
        ),
      ),
    );
  }
  const signer = issuer ?? { name, key: keys.privateKey, keyAlgorithm };
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: serialHex(serialNumber),
    subject: name,
    issuer: signer.name,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signingAlgorithm(signer.keyAlgorithm),
    extensions,
  });
  const privateKey = pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const certificate = cert.toString("pem").replace(/\r\n/g, "\n").replace(/\n?$/, "\n");
  const out: TestCertificate = {
    certificate,
    privateKey,
    chain: issuer?.chainFromHere ?? "",
    serialNumber,
    subject: name,
    notBefore,
    notAfter,
    keyAlgorithm,
  };
  const self: Issuer = {
    name,
    key: keys.privateKey,
    keyAlgorithm,
    cert,
    chainFromHere: kind === "intermediate" ? `${certificate}${issuer?.chainFromHere ?? ""}` : "",
  };
  return { cert: out, issuer: self };
}

function asCa(cert: TestCertificate, issuer: Issuer): TestCa {
  return {
    ...cert,
    async intermediate(options = {}) {
      const made = await make("intermediate", issuer, options);
      return asCa(made.cert, made.issuer);
    },
    async leaf(options = {}) {
      return (await make("leaf", issuer, options)).cert;
    },
    async server(hosts, options = {}) {
      if (!Array.isArray(hosts) || hosts.length === 0) throw new TypeError("`hosts` must name at least one host");
      return (await make("server", issuer, options, hosts)).cert;
    },
  };
}

/**
 * Makes a root certificate authority for tests, with intermediates and RSA or EC P-256 leaves under it (client
 * certificates for IoT and Roles Anywhere, server certificates for TLS endpoints). Serial numbers are 20 random bytes
 * unless given. Uses @peculiar/x509 (loaded on first use).
 *
 * @example
 * ```ts
 * import { createTestCa } from "aws-refresh-session/testing";
 * const root = await createTestCa();
 * const sub = await root.intermediate();
 * const device = await sub.leaf({ commonName: "sensor-7", keyAlgorithm: "RSA" });
 * // device.certificate, device.privateKey, device.chain (the intermediate), root.certificate (the trust anchor)
 * ```
 */
export async function createTestCa(options: TestCertificateOptions = {}): Promise<TestCa> {
  const made = await make("root", undefined, { commonName: "aws-refresh-session test root", ...options });
  return asCa(made.cert, made.issuer);
}
