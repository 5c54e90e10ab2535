# Python `cryptography`'s side of crates/qsafe-crypto/tests/prehashed.rs: verifies qsafe's
# ECDSA-P256 signatures over a given SHA-256 digest and signs one of its own.
# Reads one JSON request on stdin, writes one JSON reply.
import json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

req = json.load(sys.stdin)
digest = bytes.fromhex(req["digest"])
prehashed = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
public = serialization.load_pem_public_key(req["public_pem"].encode())
assert isinstance(public.curve, ec.SECP256R1)
public.verify(bytes.fromhex(req["der"]), digest, prehashed)
fixed = bytes.fromhex(req["jose"])
r, s = int.from_bytes(fixed[:32], "big"), int.from_bytes(fixed[32:], "big")
public.verify(utils.encode_dss_signature(r, s), digest, prehashed)
# A flipped digest must fail, or the checks above prove nothing.
try:
    public.verify(bytes.fromhex(req["der"]), bytes([digest[0] ^ 1]) + digest[1:], prehashed)
    raise SystemExit("peer accepted a signature over another digest")
except Exception as e:
    if type(e).__name__ != "InvalidSignature":
        raise
mine = ec.generate_private_key(ec.SECP256R1())
own = bytes.fromhex(req["peer_digest"])
print(json.dumps({
    "public_pem": mine.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
    "signature": mine.sign(own, prehashed).hex(),
}))
