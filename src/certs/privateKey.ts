import { createPrivateKey, type KeyObject } from "node:crypto";
import { RefreshSessionError } from "../errors.js";
import { describeCertificate, type CertificateInfo } from "./certificate.js";

const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

/**
 * Loads a PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC; encrypted PKCS#8 or legacy `Proc-Type: 4,ENCRYPTED` with
 * `passphrase`). Errors say what to do and never hold the key or the passphrase: an encrypted key without a
 * passphrase or with a wrong one is `KEY_PASSPHRASE`, anything else that is not a usable key `CERTIFICATE_INVALID`.
 */
export function loadPrivateKey(
  pem: string,
  passphrase: string | undefined,
  where: string,
  context: { source: string; profile?: string },
): KeyObject {
  const block = KEY_BLOCK.exec(pem)?.[0];
  if (!block) {
    throw new RefreshSessionError(
      "CERTIFICATE_INVALID",
      `The private key of "${context.source}" (${where}) holds no PEM private key ("-----BEGIN PRIVATE KEY-----", ` +
        '"RSA PRIVATE KEY" or "EC PRIVATE KEY"). Give the key that goes with the certificate, in PEM format.',
      context,
    );
  }
  const encrypted = block.startsWith("-----BEGIN ENCRYPTED") || /Proc-Type:\s*4,ENCRYPTED/.test(block);
  if (encrypted && (passphrase === undefined || passphrase === "")) {
    throw new RefreshSessionError(
      "KEY_PASSPHRASE",
      `The private key of "${context.source}" (${where}) is encrypted and no passphrase was given: set \`passphrase\` ` +
        "(aws-refresh's certificate flags: AWS_REFRESH_KEY_PASSPHRASE or --passphrase-file), or decrypt the key with " +
        "`openssl pkey -in key.pem -out key-plain.pem` and keep it readable only by you.",
      context,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(encrypted ? { key: block, format: "pem", passphrase } : { key: block, format: "pem" });
  } catch (err) {
    // The cause is OpenSSL's own error: it names neither the key nor the passphrase.
    if (encrypted) {
      throw new RefreshSessionError(
        "KEY_PASSPHRASE",
        `The passphrase of the private key of "${context.source}" (${where}) is wrong: the key cannot be decrypted ` +
          "with it. Check `passphrase` (aws-refresh's certificate flags: AWS_REFRESH_KEY_PASSPHRASE or --passphrase-file).",
        { ...context, cause: err },
      );
    }
    throw new RefreshSessionError(
      "CERTIFICATE_INVALID",
      `The private key of "${context.source}" (${where}) cannot be read: ${(err as Error).message}`,
      { ...context, cause: err },
    );
  }
  const type = key.asymmetricKeyType;
  if (type !== "rsa" && type !== "ec") {
    throw new RefreshSessionError(
      "CERTIFICATE_INVALID",
      `The private key of "${context.source}" (${where}) is a ${String(type)} key; only RSA and EC keys can sign here`,
      context,
    );
  }
  return key;
}

/** Throws `KEY_MISMATCH` unless `key` is the private key of `cert`'s public key. */
export function assertKeyMatches(
  cert: CertificateInfo,
  key: KeyObject,
  where: { certificate: string; key: string },
  context: { source: string; profile?: string },
): void {
  if (cert.x509.checkPrivateKey(key)) return;
  throw keyMismatch(cert, where, context);
}

/** The `KEY_MISMATCH` error: the key (a file, a PKCS#11 object) is not the one of the certificate. */
export function keyMismatch(
  cert: CertificateInfo,
  where: { certificate: string; key: string },
  context: { source: string; profile?: string },
): RefreshSessionError {
  return new RefreshSessionError(
    "KEY_MISMATCH",
    `The private key of "${context.source}" (${where.key}) does not match its certificate ` +
      `${describeCertificate(cert)} (${where.certificate}). A renewed certificate needs its own new key: write both, ` +
      "the key first, or point `privateKey` at the key the certificate was issued for.",
    context,
  );
}
