"""Verifies an IAM Roles Anywhere CreateSession request's AWS4-X509 signature, independently of the JavaScript code.

Reads a JSON request ({method, path, query, headers, body, anchors?: [PEM]}) on stdin and rebuilds the SigV4
canonical request and string to sign as the IAM Roles Anywhere user guide describes them, then checks with the
`cryptography` package that the signature verifies with the public key of the X-Amz-X509 certificate, that the
credential is that certificate's serial number in decimal, and (with `anchors`) that X-Amz-X509-Chain leads from the
leaf to an anchor. Prints a JSON verdict; exits 1 when the request does not verify.
"""

import base64
import hashlib
import json
import re
import sys
from urllib.parse import quote, unquote, unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

AUTH = re.compile(
    r"^(AWS4-X509-(?:RSA|ECDSA)-SHA256) Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([^,]+), Signature=([0-9a-f]+)$"
)


def enc(s):
    return quote(s, safe="-_.~")


def fail(reason):
    print(json.dumps({"ok": False, "reason": reason}))
    sys.exit(1)


def main():
    req = json.load(sys.stdin)
    headers = {k.lower(): v for k, v in req["headers"].items()}
    m = AUTH.match(headers.get("authorization", ""))
    if not m:
        fail("no AWS4-X509 Authorization header")
    algorithm, credential, short_date, region, service, signed, signature = m.groups()
    signed_headers = signed.split(";")

    pairs = []
    for part in filter(None, req["query"].split("&")):
        k, _, v = part.partition("=")
        pairs.append((enc(unquote_plus(k)), enc(unquote_plus(v))))
    pairs.sort()
    canonical = "\n".join(
        [
            req["method"],
            "/".join(enc(unquote(seg)) for seg in req["path"].split("/")),
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{h}:{' '.join(headers[h].strip().split())}\n" for h in signed_headers),
            ";".join(signed_headers),
            hashlib.sha256(req["body"].encode()).hexdigest(),
        ]
    )
    amz_date = headers["x-amz-date"]
    if amz_date[:8] != short_date:
        fail("scope date is not the day of X-Amz-Date")
    scope = f"{short_date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [algorithm, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    ).encode()

    leaf = x509.load_der_x509_certificate(base64.b64decode(headers["x-amz-x509"]))
    if str(leaf.serial_number) != credential:
        fail(f"credential {credential} is not the certificate's serial {leaf.serial_number}")
    key = leaf.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if algorithm != "AWS4-X509-RSA-SHA256":
                fail("RSA key signed with " + algorithm)
            key.verify(bytes.fromhex(signature), string_to_sign, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if algorithm != "AWS4-X509-ECDSA-SHA256":
                fail("EC key signed with " + algorithm)
            key.verify(bytes.fromhex(signature), string_to_sign, ec.ECDSA(hashes.SHA256()))
        else:
            fail("unsupported key type")
    except InvalidSignature:
        fail("signature does not verify with the certificate's public key")

    chain = [
        x509.load_der_x509_certificate(base64.b64decode(c))
        for c in filter(None, headers.get("x-amz-x509-chain", "").split(","))
    ]
    anchored = None
    if req.get("anchors"):
        anchors = [x509.load_pem_x509_certificate(a.encode()) for a in req["anchors"]]
        current, pool = leaf, list(chain)
        anchored = False
        for _ in range(8):
            issuer = next((a for a in anchors if issued_by(current, a)), None)
            if issuer is not None:
                anchored = True
                break
            nxt = next((c for c in pool if issued_by(current, c)), None)
            if nxt is None:
                break
            pool.remove(nxt)
            current = nxt
        if not anchored:
            fail("the chain does not lead to a trust anchor")

    print(
        json.dumps(
            {
                "ok": True,
                "algorithm": algorithm,
                "serial": credential,
                "region": region,
                "service": service,
                "signedHeaders": signed_headers,
                "chainLength": len(chain),
                "anchored": anchored,
            }
        )
    )


def issued_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:
        return False


main()
