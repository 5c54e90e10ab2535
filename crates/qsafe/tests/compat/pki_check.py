"""Python `cryptography` reading what qsafe's PKI engine publishes (driven by pki_interop.rs).

Reads one JSON request on stdin, {"op": ..., file paths...}, and prints one JSON object of facts
for the Rust test to assert on. A signature or issuer check that fails raises, so the script
exits non-zero with Python's own message.
"""

import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID


def cert(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def ext(c, kind):
    try:
        return c.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def verify_signature(public_key, signature, data, hash_algorithm):
    """Raises unless `signature` over `data` verifies with `public_key` (any key type)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        public_key.verify(signature, data)
    else:
        # ML-DSA public keys in cryptography 50: verify(signature, data).
        public_key.verify(signature, data)


KEY_USAGES = [
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
]

EKUS = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}


def describe(c):
    ku = ext(c, x509.KeyUsage)
    eku = ext(c, x509.ExtendedKeyUsage)
    bc = ext(c, x509.BasicConstraints)
    san = ext(c, x509.SubjectAlternativeName)
    return {
        "key_usage": [n for n in KEY_USAGES if ku is not None and getattr(ku, n)],
        "ext_key_usage": [EKUS.get(o, o.dotted_string) for o in (eku or [])],
        "ca": None if bc is None else bc.ca,
        "path_length": None if bc is None else bc.path_length,
        "dns": [] if san is None else san.get_values_for_type(x509.DNSName),
        "ips": [] if san is None else [str(i) for i in san.get_values_for_type(x509.IPAddress)],
        "uris": [] if san is None else san.get_values_for_type(x509.UniformResourceIdentifier),
        "serial": format(c.serial_number, "x"),
        "lifetime_seconds": int(
            (c.not_valid_after_utc - c.not_valid_before_utc).total_seconds()
        ),
    }


def op_chain(req):
    """{certs: [root, ..., leaf]}: each is directly issued by the one before (the root by itself)."""
    certs = [cert(p) for p in req["certs"]]
    certs[0].verify_directly_issued_by(certs[0])
    for parent, child in zip(certs, certs[1:]):
        child.verify_directly_issued_by(parent)
    return {"certs": [describe(c) for c in certs]}


def op_crl(req):
    """{crl, issuer, serial (hex)}: signature, number, delta indicator, the serial's entry."""
    with open(req["crl"], "rb") as f:
        data = f.read()
    crl = (
        x509.load_pem_x509_crl(data)
        if data.startswith(b"-----")
        else x509.load_der_x509_crl(data)
    )
    issuer = cert(req["issuer"])
    number = ext(crl, x509.CRLNumber)
    delta = ext(crl, x509.DeltaCRLIndicator)
    entry = crl.get_revoked_certificate_by_serial_number(int(req["serial"], 16))
    reason = None
    if entry is not None:
        code = ext(entry, x509.CRLReason)
        reason = None if code is None else code.reason.name
    return {
        "signature_valid": crl.is_signature_valid(issuer.public_key()),
        "issuer_matches": crl.issuer == issuer.subject,
        "crl_number": None if number is None else number.crl_number,
        "delta_base": None if delta is None else delta.crl_number,
        "revoked": entry is not None,
        "reason": reason,
        "entries": len(crl),
    }


def op_ocsp(req):
    """{response (DER path), issuer}: status, the single response, and its signature."""
    with open(req["response"], "rb") as f:
        resp = ocsp.load_der_ocsp_response(f.read())
    out = {"response_status": resp.response_status.name}
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return out
    issuer = cert(req["issuer"])
    verify_signature(
        issuer.public_key(),
        resp.signature,
        resp.tbs_response_bytes,
        resp.signature_hash_algorithm,
    )
    out.update(
        {
            "signature_valid": True,
            "certificate_status": resp.certificate_status.name,
            "revocation_reason": None
            if resp.revocation_reason is None
            else resp.revocation_reason.name,
            "serial": format(resp.serial_number, "x"),
            "responses": len(list(resp.responses)),
        }
    )
    return out


def op_key(req):
    """{key, cert}: the PKCS#8 key loads and its public key is the certificate's."""
    with open(req["key"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ours = key.public_key().public_bytes(*spki)
    theirs = cert(req["cert"]).public_key().public_bytes(*spki)
    return {"equal": ours == theirs, "key_class": type(key).__name__}


def main():
    req = json.load(sys.stdin)
    ops = {"chain": op_chain, "crl": op_crl, "ocsp": op_ocsp, "key": op_key}
    print(json.dumps(ops[req["op"]](req)))


if __name__ == "__main__":
    main()
