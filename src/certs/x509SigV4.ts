import { createHash } from "node:crypto";
import { formatAmzDate } from "../util/awsDate.js";
import type { CertificateInfo } from "./certificate.js";

/**
 * The X.509 variant of Signature Version 4 that IAM Roles Anywhere's CreateSession takes: the canonical request and
 * string to sign of SigV4, signed with the certificate's private key (`AWS4-X509-RSA-SHA256`,
 * `AWS4-X509-ECDSA-SHA256`) instead of an HMAC chain; the credential is the certificate's serial number in decimal,
 * and `X-Amz-X509` (`X-Amz-X509-Chain`) carry the leaf (the intermediates) in base64 DER.
 */
export interface X509SignRequest {
  method: string;
  url: URL;
  /** Headers to sign besides those added here (e.g. `content-type`), lowercase names. */
  headers: Record<string, string>;
  body: string;
  region: string;
  service: string;
  /** Signing time, epoch ms. */
  date: number;
  leaf: CertificateInfo;
  chain: CertificateInfo[];
  /** Signs the string to sign (SHA-256: RSA PKCS#1 v1.5 or ECDSA, DER). */
  sign(data: Buffer): Promise<Buffer>;
}

/** The algorithm for a certificate's key type. */
export function x509Algorithm(keyType: "RSA" | "EC"): "AWS4-X509-RSA-SHA256" | "AWS4-X509-ECDSA-SHA256" {
  return keyType === "RSA" ? "AWS4-X509-RSA-SHA256" : "AWS4-X509-ECDSA-SHA256";
}

/** RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-_.~` percent-encoded. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");

/** The canonical request and the signed-headers list. Exported for tests. */
export function canonicalRequest(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: string,
): { canonical: string; signedHeaders: string } {
  const path =
    url.pathname
      .split("/")
      .map((seg) => uriEncode(decodeURIComponent(seg)))
      .join("/") || "/";
  const query = [...url.searchParams]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = names.map((n) => `${n}:${String(lower[n]).trim().replace(/\s+/g, " ")}\n`).join("");
  const signedHeaders = names.join(";");
  return {
    canonical: [method, path, query, canonicalHeaders, signedHeaders, sha256Hex(body)].join("\n"),
    signedHeaders,
  };
}

/**
 * Signs a request: returns every header to send (the given ones, `host`, `x-amz-date`, `x-amz-x509`,
 * `x-amz-x509-chain` when there are intermediates, and `authorization`).
 */
export async function signX509Request(r: X509SignRequest): Promise<Record<string, string>> {
  const amzDate = formatAmzDate(r.date);
  const scope = `${amzDate.slice(0, 8)}/${r.region}/${r.service}/aws4_request`;
  const algorithm = x509Algorithm(r.leaf.keyType);
  const headers: Record<string, string> = {
    ...r.headers,
    host: r.url.host,
    "x-amz-date": amzDate,
    "x-amz-x509": r.leaf.der.toString("base64"),
  };
  if (r.chain.length > 0) headers["x-amz-x509-chain"] = r.chain.map((c) => c.der.toString("base64")).join(",");
  const { canonical, signedHeaders } = canonicalRequest(r.method, r.url, headers, r.body);
  const stringToSign = [algorithm, amzDate, scope, sha256Hex(canonical)].join("\n");
  const signature = await r.sign(Buffer.from(stringToSign, "utf8"));
  headers.authorization =
    `${algorithm} Credential=${r.leaf.serialNumber.toString()}/${scope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature.toString("hex")}`;
  return headers;
}
