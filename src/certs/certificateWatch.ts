import type { Logger } from "@smithy/types";
import { errorMessage } from "../errors.js";
import type { CertificateSessionEnd, Clock, SourceEmitter, SourceStatusItem } from "../types.js";
import { describeTime } from "../util/timeText.js";
import { describeCertificate, type CertificateInfo } from "./certificate.js";
import {
  certificateLocation,
  firstToExpire,
  keyLocation,
  loadMaterial,
  readCertificates,
  type CertificateMaterialSpec,
} from "./certificateMaterial.js";

type Context = { source: string; profile?: string };

/**
 * What both certificate sources say about their certificate: when it bounds the session (`validUntil()`), the
 * `certificate-expiring` event and log line when it expires before the credential just obtained, and the facts of
 * `status()`. Reads the certificate afresh each time, as the refreshes do.
 */
export class CertificateWatch {
  readonly #spec: CertificateMaterialSpec;
  readonly #context: Context;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  #emit: SourceEmitter = () => {};
  /** Fingerprints already warned about, so one certificate is reported once, and a renewed one afresh. */
  readonly #warned = new Set<string>();
  #lastExpiration: Date | undefined;

  constructor(spec: CertificateMaterialSpec, context: Context, clock: Clock, logger: Logger | undefined) {
    this.#spec = spec;
    this.#context = context;
    this.#clock = clock;
    this.#logger = logger;
  }

  bindEmitter(emit: SourceEmitter): void {
    this.#emit = emit;
  }

  /** Called with each credential obtained: warns (once per certificate) when the certificate expires first. */
  credentialObtained(leaf: CertificateInfo, chain: CertificateInfo[], expiration: Date | undefined): void {
    if (!expiration) return;
    this.#lastExpiration = expiration;
    const { cert, kind } = firstToExpire(leaf, chain);
    if (cert.notAfter >= expiration || this.#warned.has(cert.fingerprint)) return;
    this.#warned.add(cert.fingerprint);
    const now = this.#clock.now();
    const location = certificateLocation(this.#spec);
    this.#logger?.warn(
      `aws-refresh-session: the ${kind === "leaf" ? "certificate" : "intermediate certificate"} ` +
        `${describeCertificate(cert)} of "${this.#context.source}" (${location}) expires at ` +
        `${describeTime(cert.notAfter, now)}, before the credential just obtained with it (which expires at ` +
        `${describeTime(expiration, now)}): renew it before then, or the refreshes after it will fail.`,
    );
    this.#emit("certificate-expiring", {
      source: this.#context.source,
      notAfter: cert.notAfter,
      credentialExpiration: expiration,
      kind,
      subject: cert.subject,
      serialNumber: cert.serialNumber.toString(),
      location,
      remainingMs: cert.notAfter.getTime() - now,
    });
  }

  /** The end the certificate (or its first-expiring intermediate) puts on the session; undefined when unreadable. */
  async sessionEnd(): Promise<CertificateSessionEnd | undefined> {
    let certs;
    try {
      certs = await readCertificates(this.#spec, this.#context);
    } catch {
      return undefined; // status() and the refresh itself report why
    }
    const { cert, kind } = firstToExpire(certs.leaf, certs.chain);
    return {
      source: "certificate",
      at: cert.notAfter,
      basis:
        `the ${kind === "leaf" ? "certificate" : "intermediate certificate"} ${describeCertificate(cert)} ` +
        `(${certificateLocation(this.#spec)}) expires`,
      kind,
      subject: cert.subject,
      serialNumber: cert.serialNumber.toString(),
      location: certificateLocation(this.#spec),
    };
  }

  /** Facts for `aws-refresh status`: the certificate, its validity, the key and whether they go together. */
  async status(): Promise<SourceStatusItem[]> {
    const now = this.#clock.now();
    const location = certificateLocation(this.#spec);
    const items: SourceStatusItem[] = [{ key: "certificate.location", label: "Certificate", value: location }];
    let certs;
    try {
      certs = await readCertificates(this.#spec, this.#context);
    } catch (err) {
      items.push({
        key: "certificate.readable",
        label: "Certificate readable",
        value: false,
        problem: errorMessage(err),
      });
      return items;
    }
    const { leaf, chain } = certs;
    items.push(
      { key: "certificate.subject", label: "Certificate subject", value: leaf.subject },
      { key: "certificate.issuer", label: "Certificate issuer", value: leaf.issuer },
      { key: "certificate.serialNumber", label: "Certificate serial number", value: leaf.serialNumber.toString() },
    );
    const first = firstToExpire(leaf, chain);
    const expired = now >= first.cert.notAfter.getTime();
    const beforeCredential = this.#lastExpiration !== undefined && first.cert.notAfter < this.#lastExpiration;
    items.push({
      key: "certificate.notAfter",
      label: first.kind === "leaf" ? "Certificate expires" : "Intermediate certificate expires first",
      value: first.cert.notAfter.toISOString(),
      ...(expired
        ? { problem: `expired ${describeTime(first.cert.notAfter, now)}: renew it; no credential can be had with it` }
        : beforeCredential
          ? {
              problem:
                `expires ${describeTime(first.cert.notAfter, now)}, before the current credential (which expires ` +
                `${describeTime(this.#lastExpiration, now)}): renew it, or the next refresh fails`,
            }
          : {}),
    });
    if (chain.length > 0) {
      items.push({ key: "certificate.chain", label: "Intermediate certificates", value: chain.length });
    }
    items.push({ key: "certificate.key", label: "Private key", value: keyLocation(this.#spec) });
    if (this.#spec.key.kind === "pem" && !expired) {
      try {
        await loadMaterial(this.#spec, this.#context, now);
        items.push({ key: "certificate.keyMatches", label: "Private key matches the certificate", value: true });
      } catch (err) {
        items.push({
          key: "certificate.keyMatches",
          label: "Private key matches the certificate",
          value: false,
          problem: errorMessage(err),
        });
      }
    }
    return items;
  }
}
