import { createPrivateKey, createPublicKey, randomUUID, sign, type KeyObject } from "node:crypto";

/**
 * A DPoP proof (RFC 9449) as the AWS sign-in service asks for it with `aws login` refresh tokens: an ES256 JWT of type
 * `dpop+jwt` whose header carries the public key (a P-256 JWK) and whose claims bind it to one request (`htm`, `htu`),
 * one moment (`iat`) and one use (`jti`). The wire format of the SDK for JavaScript's `fromLoginCredentials` and of
 * botocore.
 */

/** The P-256 key `aws login` keeps in its cache file (`dpopKey`, SEC1 or PKCS#8 PEM), parsed; throws on anything else. */
export function parseDpopKey(pem: string): KeyObject {
  const key = createPrivateKey({ key: pem, format: "pem" });
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new TypeError("the DPoP key is not a P-256 (ES256) EC private key");
  }
  return key;
}

/**
 * A DPoP proof for one request: `method` (e.g. `POST`) to `url` (scheme, host, port and path; no query or fragment).
 *
 * @example
 * ```ts
 * const proof = createDpopProof(parseDpopKey(cache.dpopKey), "POST", "https://us-east-1.signin.aws.amazon.com/v1/token");
 * ```
 */
export function createDpopProof(key: KeyObject, method: string, url: string, nowMs: number = Date.now()): string {
  const jwk = createPublicKey(key).export({ format: "jwk" }) as { x?: string; y?: string };
  const header = { alg: "ES256", typ: "dpop+jwt", jwk: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y } };
  const u = new URL(url);
  const payload = {
    jti: randomUUID(),
    htm: method.toUpperCase(),
    htu: `${u.origin}${u.pathname}`,
    iat: Math.floor(nowMs / 1000),
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  // JOSE wants the raw r||s signature (64 bytes), not DER.
  const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

function b64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}
