import { timingSafeEqual } from "node:crypto";
import { Hash } from "@smithy/hash-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { QueryParameterBag } from "@smithy/types";
import { parseAmzDate } from "../util/awsDate.js";

/** What a SigV4-signed request claims, from its Authorization header or its presigned query. */
export interface SigV4Claim {
  accessKeyId: string;
  shortDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  /** X-Amz-Date as a time. */
  signedAt: number;
  /** The X-Amz-Date string as sent. */
  amzDate: string;
  sessionToken: string | undefined;
  /** Presigned URLs only: X-Amz-Expires in seconds. */
  expiresIn: number | undefined;
  presigned: boolean;
}

/** The parts of a received request that signature verification needs. */
export interface ReceivedRequest {
  method: string;
  /** Raw path as received (still percent-encoded), without the query. */
  path: string;
  query: QueryParameterBag;
  headers: Record<string, string>;
  body: Buffer;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/;

export { parseAmzDate, formatAmzDate } from "../util/awsDate.js";

/** Reads the SigV4 claim of a request: header auth, presigned query, or none (unsigned). Throws on a malformed one. */
export function readClaim(req: ReceivedRequest): SigV4Claim | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = AUTH.exec(auth.trim());
    if (!m) throw new MalformedAuthError("Authorization header is not a valid AWS4-HMAC-SHA256 signature");
    const amzDate = req.headers["x-amz-date"] ?? "";
    return {
      accessKeyId: m[1]!,
      shortDate: m[2]!,
      region: m[3]!,
      service: m[4]!,
      signedHeaders: m[5]!.split(";"),
      signature: m[6]!,
      signedAt: parseAmzDate(amzDate),
      amzDate,
      sessionToken: req.headers["x-amz-security-token"],
      expiresIn: undefined,
      presigned: false,
    };
  }
  const q = (name: string): string | undefined => {
    const v = req.query[name];
    return Array.isArray(v) ? v[0] : (v ?? undefined);
  };
  if (q("X-Amz-Algorithm") === undefined && q("X-Amz-Signature") === undefined) return undefined;
  const cred = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(q("X-Amz-Credential") ?? "");
  const signature = q("X-Amz-Signature") ?? "";
  if (q("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256" || !cred || !/^[0-9a-f]{64}$/.test(signature)) {
    throw new MalformedAuthError(
      "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
    );
  }
  const amzDate = q("X-Amz-Date") ?? "";
  const expires = Number(q("X-Amz-Expires"));
  return {
    accessKeyId: cred[1]!,
    shortDate: cred[2]!,
    region: cred[3]!,
    service: cred[4]!,
    signedHeaders: (q("X-Amz-SignedHeaders") ?? "host").split(";"),
    signature,
    signedAt: parseAmzDate(amzDate),
    amzDate,
    sessionToken: q("X-Amz-Security-Token"),
    expiresIn: Number.isFinite(expires) ? expires : undefined,
    presigned: true,
  };
}

/** An Authorization header or presigned query that cannot be parsed. */
export class MalformedAuthError extends Error {}

const PRESIGN_PARAMS = new Set([
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Signature",
  "X-Amz-Security-Token",
]);

/**
 * Recomputes the request's signature with the secret the emulator holds for its key and compares. Uses the SDK's own
 * signer, fed exactly the headers the client said it signed, so a request that any real SigV4 client signed verifies.
 */
export async function verifySignature(
  req: ReceivedRequest,
  claim: SigV4Claim,
  secretAccessKey: string,
): Promise<boolean> {
  const headers: Record<string, string> = {};
  for (const name of claim.signedHeaders) {
    const v = req.headers[name];
    if (v !== undefined) headers[name] = v;
  }
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: claim.accessKeyId,
      secretAccessKey,
      ...(claim.sessionToken !== undefined ? { sessionToken: claim.sessionToken } : {}),
    },
    region: claim.region,
    service: claim.service,
    sha256: Hash.bind(null, "sha256"),
    // S3 signs the path as sent; other services normalise and encode it once more.
    uriEscapePath: claim.service !== "s3",
    applyChecksum: false,
  });
  const signableHeaders = new Set(claim.signedHeaders);
  let computed: string | undefined;
  if (claim.presigned) {
    const query: QueryParameterBag = {};
    for (const [k, v] of Object.entries(req.query)) if (!PRESIGN_PARAMS.has(k)) query[k] = v;
    const request = new HttpRequest({
      method: req.method,
      hostname: headers.host ?? "",
      path: req.path,
      query,
      headers: { ...headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
    });
    const keep = new Set(["x-amz-content-sha256"]);
    const signed = await signer.presign(request, {
      signingDate: new Date(claim.signedAt),
      expiresIn: claim.expiresIn ?? 900,
      signableHeaders,
      unsignableHeaders: keep,
      unhoistableHeaders: keep,
    });
    const v = signed.query?.["X-Amz-Signature"];
    computed = Array.isArray(v) ? v[0] : (v ?? undefined);
  } else {
    const request = new HttpRequest({
      method: req.method,
      hostname: headers.host ?? "",
      path: req.path,
      query: req.query,
      headers,
      body: headers["x-amz-content-sha256"] ? undefined : req.body.toString("utf8"),
    });
    const signed = await signer.sign(request, { signingDate: new Date(claim.signedAt), signableHeaders });
    computed = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1];
  }
  if (!computed) return false;
  const a = Buffer.from(computed);
  const b = Buffer.from(claim.signature);
  return a.length === b.length && timingSafeEqual(a, b);
}
