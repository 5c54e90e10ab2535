# Transit round trips with hvac's unchanged `secrets.transit` API against `qsafe dev`.
# argv: url ca-file.
import base64
import sys

import hvac
from hvac import exceptions as E

url, ca = sys.argv[1], sys.argv[2]
c = hvac.Client(url=url, token="dev-root", verify=ca)
c.sys.enable_secrets_engine(backend_type="transit")
t = c.secrets.transit
b64 = lambda b: base64.b64encode(b).decode()

# The default key type is ML-KEM-768.
t.create_key(name="users-pii")
key = t.read_key(name="users-pii")["data"]
assert key["type"] == "ml-kem-768", key
assert "BEGIN PUBLIC KEY" in key["keys"]["1"]["public_key"], key

ct1 = t.encrypt_data(name="users-pii", plaintext=b64(b"alice@example.com"))["data"]["ciphertext"]
assert ct1.startswith("qsafe:v1:"), ct1
assert base64.b64decode(t.decrypt_data(name="users-pii", ciphertext=ct1)["data"]["plaintext"]) == b"alice@example.com"

# Associated data binds the ciphertext.
ad = t.encrypt_data(name="users-pii", plaintext=b64(b"555-0100"), associated_data=b64(b"users/phone/1"))["data"]["ciphertext"]
assert base64.b64decode(t.decrypt_data(name="users-pii", ciphertext=ad, associated_data=b64(b"users/phone/1"))["data"]["plaintext"]) == b"555-0100"
try:
    t.decrypt_data(name="users-pii", ciphertext=ad, associated_data=b64(b"users/phone/2"))
    raise SystemExit("wrong associated data decrypted")
except E.InvalidRequest:
    pass

# Batches keep order and report per-item errors.
items = [{"plaintext": b64(f"v{i}".encode())} for i in range(5)]
res = t.encrypt_data(name="users-pii", batch_input=items)["data"]["batch_results"]
assert len(res) == 5 and all(r["ciphertext"].startswith("qsafe:v1:") for r in res)
dec = [{"ciphertext": r["ciphertext"]} for r in res] + [{"ciphertext": "qsafe:v1:AAAA"}]
out = t.decrypt_data(name="users-pii", batch_input=dec)["data"]["batch_results"]
assert [base64.b64decode(o["plaintext"]) for o in out[:5]] == [f"v{i}".encode() for i in range(5)], out
assert out[5].get("error"), out[5]

# Rotate, rewrap, then refuse the old version.
t.rotate_key(name="users-pii")
assert t.read_key(name="users-pii")["data"]["latest_version"] == 2
ct2 = t.rewrap_data(name="users-pii", ciphertext=ct1)["data"]["ciphertext"]
assert ct2.startswith("qsafe:v2:"), ct2
t.update_key_configuration(name="users-pii", min_decryption_version=2)
try:
    t.decrypt_data(name="users-pii", ciphertext=ct1)
    raise SystemExit("decrypted below min_decryption_version")
except E.InvalidRequest:
    pass
assert base64.b64decode(t.decrypt_data(name="users-pii", ciphertext=ct2)["data"]["plaintext"]) == b"alice@example.com"

# AES-GCM keys, data keys, HMAC (blind index), random, hash.
t.create_key(name="aes", key_type="aes256-gcm96")
ct = t.encrypt_data(name="aes", plaintext=b64(b"x"))["data"]["ciphertext"]
assert base64.b64decode(t.decrypt_data(name="aes", ciphertext=ct)["data"]["plaintext"]) == b"x"
dk = t.generate_data_key(name="users-pii", key_type="plaintext")["data"]
assert len(base64.b64decode(dk["plaintext"])) == 32
assert base64.b64decode(t.decrypt_data(name="users-pii", ciphertext=dk["ciphertext"])["data"]["plaintext"]) == base64.b64decode(dk["plaintext"])
h1 = t.generate_hmac(name="users-pii", hash_input=b64(b"alice@example.com"))["data"]["hmac"]
h2 = t.generate_hmac(name="users-pii", hash_input=b64(b"alice@example.com"))["data"]["hmac"]
assert h1 == h2 and h1.startswith("qsafe:v2:"), (h1, h2)
assert t.verify_signed_data(name="users-pii", hash_input=b64(b"alice@example.com"), hmac=h1)["data"]["valid"] is True
assert len(base64.b64decode(t.generate_random_bytes(n_bytes=16)["data"]["random_bytes"])) == 16
assert t.hash_data(hash_input=b64(b"abc"), algorithm="sha2-256", output_format="hex")["data"]["sum"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

# ML-DSA signatures (hvac does not know the type name, so its generic write creates the key).
c.write_data("transit/keys/release", data={"type": "ml-dsa-65"})
sig = t.sign_data(name="release", hash_input=b64(b"artifact"))["data"]["signature"]
assert sig.startswith("qsafe:v1:")
assert t.verify_signed_data(name="release", hash_input=b64(b"artifact"), signature=sig)["data"]["valid"] is True
assert t.verify_signed_data(name="release", hash_input=b64(b"tampered"), signature=sig)["data"]["valid"] is False
t.create_key(name="legacy", key_type="ed25519")
sig = t.sign_data(name="legacy", hash_input=b64(b"m"))["data"]["signature"]
assert t.verify_signed_data(name="legacy", hash_input=b64(b"m"), signature=sig)["data"]["valid"] is True

# Non-exportable by default; deletion needs deletion_allowed.
try:
    t.export_key(name="users-pii", key_type="encryption-key")
    raise SystemExit("exported a non-exportable key")
except (E.InvalidRequest, E.Forbidden):
    pass
try:
    t.delete_key(name="aes")
    raise SystemExit("deleted a key without deletion_allowed")
except E.InvalidRequest:
    pass
t.update_key_configuration(name="aes", deletion_allowed=True)
t.delete_key(name="aes")
assert "aes" not in t.list_keys()["data"]["keys"]
print("hvac transit ok")
