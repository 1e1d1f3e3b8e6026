/**
 * An ECDSA signature as a PKCS#11 token returns it (`r || s`, IEEE P1363) turned into the DER `Ecdsa-Sig-Value`
 * (RFC 3279: `SEQUENCE { r INTEGER, s INTEGER }`) that the SigV4-X509 `Signature` carries. Node's crypto verifies
 * both encodings but converts neither way, and a dependency for two DER integers would be heavier than these lines.
 *
 * @example
 * ```ts
 * ecdsaP1363ToDer(Buffer.alloc(64, 1)).subarray(0, 2); // <Buffer 30 44>
 * ```
 */
export function ecdsaP1363ToDer(signature: Buffer): Buffer {
  if (signature.length === 0 || signature.length % 2 !== 0) {
    throw new Error(`an ECDSA signature of ${signature.length} bytes is not r || s`);
  }
  const half = signature.length / 2;
  const integer = (bytes: Buffer): Buffer => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = bytes.subarray(i);
    // A leading bit set would read as negative: prefix a zero byte.
    if ((v[0] as number) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02]), derLength(v.length), v]);
  };
  const body = Buffer.concat([integer(signature.subarray(0, half)), integer(signature.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}
