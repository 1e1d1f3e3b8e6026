import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { RefreshSessionError } from "../errors.js";
import { describeTime } from "../util/timeText.js";
import { certificateInfo, describeCertificate, parseCertificates, type CertificateInfo } from "./certificate.js";
import { describePemInput, readPemInput, validatePemInput } from "./pemInput.js";
import {
  describePkcs11,
  pkcs11CertificateObject,
  pkcs11KeyObject,
  type Pkcs11CertificateOptions,
  type Pkcs11KeyOptions,
  type Pkcs11Object,
} from "./pkcs11Options.js";
import { pkcs11ReadCertificate, pkcs11Sign } from "./pkcs11Token.js";
import { assertKeyMatches, keyMismatch, loadPrivateKey } from "./privateKey.js";

/** The certificate and key options both certificate sources take. Paths are read again at every refresh. */
export interface CertificateMaterialInit {
  /** The certificate: a file path or PEM text (a chain may follow the leaf), or `{ pkcs11 }` where supported. */
  certificate: string | { pkcs11: Pkcs11CertificateOptions };
  /** The private key: a file path or PEM text, or `{ pkcs11 }` for a key that never leaves its token. */
  privateKey: string | { pkcs11: Pkcs11KeyOptions };
  /** Passphrase of an encrypted PEM key. A secret: never shown. */
  passphrase?: string;
  /** Intermediate CA certificates (a file path or PEM text), sent with the leaf. */
  intermediates?: string;
}

/** Validated {@link CertificateMaterialInit}. Internal. */
export interface CertificateMaterialSpec {
  certificate: { kind: "pem"; value: string } | { kind: "pkcs11"; object: Pkcs11Object };
  key: { kind: "pem"; value: string } | { kind: "pkcs11"; object: Pkcs11Object };
  passphrase: string | undefined;
  intermediates: string | undefined;
}

/** A certificate, its chain and its key as read at one refresh. Internal; holds the key: never log it. */
export interface CertificateMaterial {
  leaf: CertificateInfo;
  /** Intermediates: those after the leaf in the certificate file, then `intermediates`. */
  chain: CertificateInfo[];
  /** Leaf then chain, PEM: what mutual TLS presents. */
  presented: string;
  key: { kind: "pem"; keyObject: KeyObject } | { kind: "pkcs11"; object: Pkcs11Object };
  where: { certificate: string; key: string };
}

type Context = { source: string; profile?: string };

function isPkcs11(v: unknown): v is { pkcs11: unknown } {
  return v !== null && typeof v === "object" && "pkcs11" in v;
}

/** Validates the certificate options; throws TypeError naming the option. */
export function validateMaterial(
  init: CertificateMaterialInit,
  support: { pkcs11Certificate: boolean; pkcs11KeyId: boolean },
): CertificateMaterialSpec {
  let certificate: CertificateMaterialSpec["certificate"];
  if (isPkcs11(init.certificate)) {
    if (!support.pkcs11Certificate) {
      throw new TypeError("`certificate` must be a file path or PEM text here (the key may be `{ pkcs11 }`)");
    }
    certificate = { kind: "pkcs11", object: pkcs11CertificateObject("certificate.pkcs11", init.certificate.pkcs11) };
  } else {
    validatePemInput("certificate", init.certificate);
    certificate = { kind: "pem", value: init.certificate };
  }
  let key: CertificateMaterialSpec["key"];
  if (isPkcs11(init.privateKey)) {
    const object = pkcs11KeyObject("privateKey.pkcs11", init.privateKey.pkcs11);
    if (object.id !== undefined && !support.pkcs11KeyId) {
      throw new TypeError(
        "`privateKey.pkcs11.keyId` is not supported here: aws-crt finds the key by `keyLabel` (or takes the token's only key)",
      );
    }
    key = { kind: "pkcs11", object };
  } else {
    validatePemInput("privateKey", init.privateKey);
    key = { kind: "pem", value: init.privateKey };
  }
  if (init.passphrase !== undefined && typeof init.passphrase !== "string") {
    throw new TypeError("`passphrase` must be a string");
  }
  if (init.passphrase !== undefined && key.kind === "pkcs11") {
    throw new TypeError("`passphrase` is for an encrypted PEM key; a PKCS#11 key takes `pin` or `pinFile`");
  }
  if (init.intermediates !== undefined) validatePemInput("intermediates", init.intermediates);
  return { certificate, key, passphrase: init.passphrase, intermediates: init.intermediates };
}

/** Where the certificate is, for messages and status: the path, `PEM text` or the token. */
export function certificateLocation(spec: CertificateMaterialSpec): string {
  return spec.certificate.kind === "pem"
    ? describePemInput(spec.certificate.value)
    : describePkcs11(spec.certificate.object);
}

/** Where the key is, for messages and status. */
export function keyLocation(spec: CertificateMaterialSpec): string {
  return spec.key.kind === "pem" ? describePemInput(spec.key.value) : describePkcs11(spec.key.object);
}

/** Reads the certificate and its chain (no key, no PIN unless the certificate is on a token). */
export async function readCertificates(
  spec: CertificateMaterialSpec,
  context: Context,
): Promise<{ leaf: CertificateInfo; chain: CertificateInfo[]; presented: string }> {
  const where = certificateLocation(spec);
  let certs: CertificateInfo[];
  let presented: string;
  if (spec.certificate.kind === "pem") {
    const text = await readPemInput(spec.certificate.value, "certificate", context);
    certs = parseCertificates(text, "certificate", where, context);
    presented = certs.map((c) => c.x509.toString()).join("");
  } else {
    const der = await pkcs11ReadCertificate(spec.certificate.object, context);
    try {
      certs = [certificateInfo(der)];
    } catch (err) {
      throw new RefreshSessionError(
        "CERTIFICATE_INVALID",
        `The certificate of "${context.source}" on ${where} cannot be used: ${(err as Error).message}`,
        { ...context, cause: err },
      );
    }
    presented = (certs[0] as CertificateInfo).x509.toString();
  }
  const chain = certs.slice(1);
  if (spec.intermediates !== undefined) {
    const text = await readPemInput(spec.intermediates, "intermediates", context);
    const extra = parseCertificates(text, "intermediates", describePemInput(spec.intermediates), context);
    chain.push(...extra);
    presented += extra.map((c) => c.x509.toString()).join("");
  }
  return { leaf: certs[0] as CertificateInfo, chain, presented };
}

/**
 * Reads everything a refresh needs, afresh: the certificate, its chain and the key (a PEM key is decrypted and
 * checked against the certificate). Throws typed errors that say what to do; never one holding a secret.
 */
export async function loadMaterial(
  spec: CertificateMaterialSpec,
  context: Context,
  now: number,
): Promise<CertificateMaterial> {
  const certs = await readCertificates(spec, context);
  const where = { certificate: certificateLocation(spec), key: keyLocation(spec) };
  assertCurrent(certs.leaf, certs.chain, where.certificate, context, now);
  if (spec.key.kind === "pkcs11") return { ...certs, key: { kind: "pkcs11", object: spec.key.object }, where };
  const keyText = await readPemInput(spec.key.value, "private key", context);
  const keyObject = loadPrivateKey(keyText, spec.passphrase, where.key, context);
  assertKeyMatches(certs.leaf, keyObject, where, context);
  return { ...certs, key: { kind: "pem", keyObject }, where };
}

/** Throws `CERTIFICATE_EXPIRED` when the leaf or an intermediate is outside its validity at `now`. */
export function assertCurrent(
  leaf: CertificateInfo,
  chain: CertificateInfo[],
  where: string,
  context: Context,
  now: number,
): void {
  for (const [i, cert] of [leaf, ...chain].entries()) {
    const which = i === 0 ? "certificate" : "intermediate certificate";
    if (now >= cert.notAfter.getTime()) {
      throw new RefreshSessionError(
        "CERTIFICATE_EXPIRED",
        `The ${which} ${describeCertificate(cert)} of "${context.source}" (${where}) expired at ` +
          `${describeTime(cert.notAfter, now)}. Renew it and write it (with its key) to the same place: the source ` +
          "reads it again at every refresh and retries on its own.",
        context,
      );
    }
    if (now < cert.notBefore.getTime()) {
      throw new RefreshSessionError(
        "CERTIFICATE_EXPIRED",
        `The ${which} ${describeCertificate(cert)} of "${context.source}" (${where}) is not valid before ` +
          `${describeTime(cert.notBefore, now)}. Check this machine's clock, or wait until then.`,
        context,
      );
    }
  }
}

/**
 * Signs `data` with SHA-256 using the material's key (RSA PKCS#1 v1.5, ECDSA DER), as SigV4-X509 needs. A token's
 * signature is verified against the certificate before it is sent, so a key that does not match it is reported as
 * `KEY_MISMATCH` instead of a refusal from AWS.
 */
export async function signWithMaterial(material: CertificateMaterial, data: Buffer, context: Context): Promise<Buffer> {
  if (material.key.kind === "pem") return cryptoSign("sha256", data, material.key.keyObject);
  const { signature } = await pkcs11Sign(material.key.object, data, context);
  if (!cryptoVerify("sha256", data, material.leaf.x509.publicKey, signature)) {
    throw keyMismatch(material.leaf, material.where, context);
  }
  return signature;
}

/** The certificate (leaf or intermediate) that expires first. */
export function firstToExpire(
  leaf: CertificateInfo,
  chain: CertificateInfo[],
): { cert: CertificateInfo; kind: "leaf" | "intermediate" } {
  let first = { cert: leaf, kind: "leaf" as "leaf" | "intermediate" };
  for (const c of chain) if (c.notAfter < first.cert.notAfter) first = { cert: c, kind: "intermediate" };
  return first;
}
