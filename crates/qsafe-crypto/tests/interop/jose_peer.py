#!/usr/bin/env python3
"""Independent JOSE peer for qsafe-crypto's interop test: Python `jwcrypto` (RFC 9964 ML-DSA, ES256,
EdDSA).

Reads one JSON request on stdin:
  {"qsafe": [{"alg", "private_jwk", "public_jwk", "thumbprint", "jws", "flattened", "payload"}],
   "payload": hex}
For every qsafe item: both JWKs import, the thumbprint agrees, the compact and flattened JWS
verify with the public JWK (and fail over a changed payload). Then makes its own keys and JWSs and
prints them: {"peer": [{"alg", "private_jwk", "public_jwk", "thumbprint", "jws"}]}.
Any mismatch raises, so the process exits non-zero with the reason on stderr.
"""
import json
import sys

from jwcrypto import jwk, jws
from jwcrypto.common import base64url_encode, json_encode

GENERATE = {
    "ML-DSA-44": dict(kty="AKP", alg="ML-DSA-44"),
    "ML-DSA-65": dict(kty="AKP", alg="ML-DSA-65"),
    "ML-DSA-87": dict(kty="AKP", alg="ML-DSA-87"),
    "ES256": dict(kty="EC", crv="P-256"),
    "EdDSA": dict(kty="OKP", crv="Ed25519"),
}


def verify(token, key, payload):
    obj = jws.JWS()
    obj.deserialize(token, key)  # raises on a bad signature
    if obj.payload != payload:
        raise AssertionError("payload differs")


def check_qsafe(item, payload):
    alg = item["alg"]
    private = jwk.JWK.from_json(item["private_jwk"])
    public = jwk.JWK.from_json(item["public_jwk"])
    if private.has_private is False or public.has_private:
        raise AssertionError(f"{alg}: private/public JWK mix-up")
    for key in (private, public):
        if key.thumbprint() != item["thumbprint"]:
            raise AssertionError(f"{alg}: thumbprint {key.thumbprint()} != qsafe {item['thumbprint']}")
    if json.loads(private.export_public()) != json.loads(public.export_public()):
        raise AssertionError(f"{alg}: private JWK's public half differs")
    verify(item["jws"], public, payload)
    verify(json.dumps(item["flattened"]), public, payload)
    header, _, sig = item["jws"].split(".")
    forged = f"{header}.{base64url_encode(payload + b'!')}.{sig}"
    try:
        verify(forged, public, payload + b"!")
    except Exception:
        pass
    else:
        raise AssertionError(f"{alg}: forged JWS verified")


def peer_item(alg, payload):
    key = jwk.JWK.generate(**GENERATE[alg])
    obj = jws.JWS(payload)
    obj.add_signature(key, None, json_encode({"alg": alg, "kid": key.thumbprint()}))
    return {
        "alg": alg,
        "private_jwk": key.export_private(),
        "public_jwk": key.export_public(),
        "thumbprint": key.thumbprint(),
        "jws": obj.serialize(compact=True),
    }


def main():
    request = json.load(sys.stdin)
    payload = bytes.fromhex(request["payload"])
    for item in request["qsafe"]:
        check_qsafe(item, payload)
    json.dump({"peer": [peer_item(alg, payload) for alg in GENERATE]}, sys.stdout)


if __name__ == "__main__":
    main()
