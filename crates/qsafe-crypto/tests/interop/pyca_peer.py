#!/usr/bin/env python3
"""Independent peer for qsafe-crypto's interop test: Python `cryptography` (OpenSSL 3.5+ inside).

Reads one JSON request on stdin:
  {"qsafe": [items qsafe made], "recipients": [qsafe KEM public keys to encrypt to],
   "message": hex}
Checks every qsafe item (keys load, public keys match, signatures verify, KEM/HPKE ciphertexts
open), makes its own keys, signatures and ciphertexts, and prints them as JSON on stdout.
Any mismatch raises, so the process exits non-zero with the reason on stderr.
"""
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, x25519

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PKCS8 = serialization.PrivateFormat.PKCS8
NOENC = serialization.NoEncryption()

SIG_GENERATORS = {
    "ML-DSA-44": mldsa.MLDSA44PrivateKey.generate,
    "ML-DSA-65": mldsa.MLDSA65PrivateKey.generate,
    "ML-DSA-87": mldsa.MLDSA87PrivateKey.generate,
    "ECDSA-P256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "Ed25519": ed25519.Ed25519PrivateKey.generate,
}
KEM_GENERATORS = {
    "ML-KEM-768": mlkem.MLKEM768PrivateKey.generate,
    "ML-KEM-1024": mlkem.MLKEM1024PrivateKey.generate,
}
HPKE_KEMS = {
    "ML-KEM-768": hpke.KEM.MLKEM768,
    "ML-KEM-1024": hpke.KEM.MLKEM1024,
    "X-Wing": hpke.KEM.MLKEM768_X25519,
}


def sign(alg, key, message):
    if alg == "ECDSA-P256":
        return key.sign(message, ec.ECDSA(hashes.SHA256()))
    return key.sign(message)


def verify(alg, public, signature, message):
    if alg == "ECDSA-P256":
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    else:
        public.verify(signature, message)


def xwing_from_seed(seed):
    """draft-connolly-cfrg-xwing-kem key derivation: SHAKE256(seed, 96) = d || z || sk_X."""
    expanded = hashlib.shake_256(seed).digest(96)
    mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    x_key = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
    public = mlkem_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes_raw()
    return hpke.MLKEM768X25519PrivateKey(mlkem_key, x_key), public


def xwing_public(raw):
    return hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(raw[:1184]),
        x25519.X25519PublicKey.from_public_bytes(raw[1184:]),
    )


def suite(alg):
    return hpke.Suite(HPKE_KEMS[alg], hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def check_qsafe_item(item, message):
    alg = item["alg"]
    if alg == "X-Wing":
        key, public = xwing_from_seed(bytes.fromhex(item["seed"]))
        if public.hex() != item["public_raw"]:
            raise AssertionError("X-Wing public key derived from the seed differs from qsafe's")
    else:
        key = serialization.load_pem_private_key(item["private_pem"].encode(), password=None)
        public = serialization.load_pem_public_key(item["public_pem"].encode())
        if key.public_key().public_bytes(DER, SPKI) != public.public_bytes(DER, SPKI):
            raise AssertionError(f"{alg}: public key of qsafe's private key differs from its SPKI")
        if public.public_bytes(DER, SPKI).hex() != item["public_spki"]:
            raise AssertionError(f"{alg}: SPKI re-encoding differs")
        if alg in SIG_GENERATORS:
            verify(alg, public, bytes.fromhex(item["signature"]), message)
        if alg in KEM_GENERATORS:
            ss = key.decapsulate(bytes.fromhex(item["kem_ct"]))
            if ss.hex() != item["kem_ss"]:
                raise AssertionError(f"{alg}: decapsulated secret differs")
    if "envelope_body" in item:
        plaintext = suite(alg).decrypt(
            bytes.fromhex(item["envelope_body"]), key, info=bytes.fromhex(item["info"])
        )
        if plaintext != message:
            raise AssertionError(f"{alg}: HPKE plaintext differs")


def make_own(message, recipients):
    out = []
    for alg, generate in SIG_GENERATORS.items():
        key = generate()
        out.append({
            "alg": alg,
            "private_pem": key.private_bytes(PEM, PKCS8, NOENC).decode(),
            "public_pem": key.public_key().public_bytes(PEM, SPKI).decode(),
            "signature": sign(alg, key, message).hex(),
        })
    for alg, generate in KEM_GENERATORS.items():
        key = generate()
        ss, ct = key.public_key().encapsulate()
        out.append({
            "alg": alg,
            "private_pem": key.private_bytes(PEM, PKCS8, NOENC).decode(),
            "public_pem": key.public_key().public_bytes(PEM, SPKI).decode(),
            "kem_ct": ct.hex(),
            "kem_ss": ss.hex(),
        })
    sealed = []
    for r in recipients:
        alg = r["alg"]
        if alg == "X-Wing":
            public = xwing_public(bytes.fromhex(r["public_raw"]))
        else:
            public = serialization.load_pem_public_key(r["public_pem"].encode())
        body = suite(alg).encrypt(message, public, info=bytes.fromhex(r["info"]))
        sealed.append({"alg": alg, "envelope_body": body.hex()})
    return out, sealed


def main():
    request = json.load(sys.stdin)
    message = bytes.fromhex(request["message"])
    for item in request["qsafe"]:
        check_qsafe_item(item, message)
    own, sealed = make_own(message, request["recipients"])
    json.dump({"checked": len(request["qsafe"]), "peer": own, "sealed": sealed}, sys.stdout)


if __name__ == "__main__":
    main()
