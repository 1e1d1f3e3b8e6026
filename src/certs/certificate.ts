import { X509Certificate } from "node:crypto";
import { RefreshSessionError } from "../errors.js";

/** What the certificate sources need to know about one X.509 certificate. Holds no secret. */
export interface CertificateInfo {
  /** The certificate as Node's crypto parsed it (OpenSSL's X.509 parser). */
  readonly x509: X509Certificate;
  /** DER bytes: what `X-Amz-X509` carries, base64-encoded. */
  readonly der: Buffer;
  /** The serial number. Serials run to 20 bytes, past what a JS number holds. */
  readonly serialNumber: bigint;
  /** Subject on one line, e.g. `CN=sensor-7, O=Acme`. */
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** `RSA` or `EC`: decides the signing algorithm. */
  readonly keyType: "RSA" | "EC";
  /** SHA-256 of the DER, lowercase hex without colons (the id AWS IoT gives a certificate). */
  readonly fingerprint: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function oneLine(name: string): string {
  return name.split("\n").filter(Boolean).join(", ");
}

/** Parses one certificate (PEM or DER); throws a plain Error when it is not one. */
export function certificateInfo(input: string | Buffer): CertificateInfo {
  const x509 = new X509Certificate(input);
  const type = x509.publicKey.asymmetricKeyType;
  if (type !== "rsa" && type !== "ec") {
    throw new Error(`its key type is ${String(type)}; only RSA and EC (P-256/P-384) certificates can sign here`);
  }
  return {
    x509,
    der: x509.raw,
    serialNumber: BigInt(`0x${x509.serialNumber}`),
    subject: oneLine(x509.subject),
    issuer: oneLine(x509.issuer),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    keyType: type === "rsa" ? "RSA" : "EC",
    fingerprint: x509.fingerprint256.replace(/:/g, "").toLowerCase(),
  };
}

/**
 * Parses the PEM certificates of `text` in order (a leaf, or a leaf followed by its chain, or a bundle of
 * intermediates). A file without a certificate, or with one that does not parse, is a `CERTIFICATE_INVALID` naming
 * `what` and `where`.
 */
export function parseCertificates(
  text: string,
  what: string,
  where: string,
  context: { source: string; profile?: string },
): CertificateInfo[] {
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    throw new RefreshSessionError(
      "CERTIFICATE_INVALID",
      `The ${what} of "${context.source}" (${where}) holds no PEM certificate ("-----BEGIN CERTIFICATE-----"). ` +
        "Give the certificate in PEM format (convert DER with `openssl x509 -inform der -in cert.der -out cert.pem`).",
      context,
    );
  }
  return blocks.map((block, i) => {
    try {
      return certificateInfo(block);
    } catch (err) {
      throw new RefreshSessionError(
        "CERTIFICATE_INVALID",
        `The ${what} of "${context.source}" (${where}) has a certificate${blocks.length > 1 ? ` (#${i + 1})` : ""} ` +
          `that cannot be used: ${(err as Error).message}`,
        { ...context, cause: err },
      );
    }
  });
}

/** A certificate in messages: subject and serial, e.g. `CN=sensor-7 (serial 1234…)`. */
export function describeCertificate(cert: CertificateInfo): string {
  return `${cert.subject || "(empty subject)"} (serial ${cert.serialNumber.toString()})`;
}
