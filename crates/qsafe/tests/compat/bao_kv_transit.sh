#!/usr/bin/env bash
# KV v2 and transit round trips with OpenBao's unchanged `bao` CLI against `qsafe dev`.
# Needs BAO (path to the binary), VAULT_ADDR, VAULT_CACERT, VAULT_TOKEN in the environment.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }

# KV v2: put/get, versions, CAS conflict, patch, soft delete, undelete, destroy, metadata, list.
"$BAO" kv put secret/app/db user=alice password=s3cret >/dev/null
"$BAO" kv put -cas=1 secret/app/db user=alice password=rotated >/dev/null
[ "$("$BAO" kv get -field=password secret/app/db)" = rotated ] || fail "current version"
[ "$("$BAO" kv get -version=1 -field=password secret/app/db)" = s3cret ] || fail "version 1"
if "$BAO" kv put -cas=1 secret/app/db user=mallory >/dev/null 2>&1; then fail "stale cas accepted"; fi
[ "$("$BAO" kv get -format=json secret/app/db | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["metadata"]["version"])')" = 2 ] || fail "version after refused cas"
"$BAO" kv patch secret/app/db port=5432 >/dev/null
[ "$("$BAO" kv get -field=port secret/app/db)" = 5432 ] || fail "patch"
[ "$("$BAO" kv get -field=user secret/app/db)" = alice ] || fail "patch kept fields"
"$BAO" kv delete secret/app/db >/dev/null
if "$BAO" kv get -field=user secret/app/db >/dev/null 2>&1; then fail "deleted version readable"; fi
"$BAO" kv undelete -versions=3 secret/app/db >/dev/null
[ "$("$BAO" kv get -field=port secret/app/db)" = 5432 ] || fail "undelete"
"$BAO" kv destroy -versions=1 secret/app/db >/dev/null
"$BAO" kv metadata get -format=json secret/app/db | python3 -c '
import json, sys
m = json.load(sys.stdin)["data"]
assert m["versions"]["1"]["destroyed"] is True, m
assert m["current_version"] == 3, m' || fail "metadata"
"$BAO" kv metadata put -custom-metadata=owner=ops -max-versions=5 secret/app/db >/dev/null
"$BAO" kv metadata get -format=json secret/app/db | python3 -c '
import json, sys
m = json.load(sys.stdin)["data"]
assert m["custom_metadata"] == {"owner": "ops"} and m["max_versions"] == 5, m' || fail "metadata put"
"$BAO" kv put secret/app/api k=v >/dev/null
[ "$("$BAO" kv list -format=json secret/app | python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin))))')" = "api,db" ] || fail "list"
"$BAO" kv metadata delete secret/app/api >/dev/null
if "$BAO" kv get secret/app/api >/dev/null 2>&1; then fail "metadata delete"; fi

# A v2 mount enabled the way users do it.
"$BAO" secrets enable -path=team -version=2 kv >/dev/null
"$BAO" kv put team/x a=b >/dev/null
[ "$("$BAO" kv get -field=a team/x)" = b ] || fail "second mount"

# Transit: ML-KEM-768 by default; encrypt/decrypt, rotate, rewrap, min_decryption_version.
"$BAO" secrets enable transit >/dev/null
"$BAO" write -f transit/keys/users-pii >/dev/null
[ "$("$BAO" read -field=type transit/keys/users-pii)" = ml-kem-768 ] || fail "default key type"
pt=$(printf 'alice@example.com' | base64)
ct1=$("$BAO" write -field=ciphertext transit/encrypt/users-pii plaintext="$pt")
case "$ct1" in qsafe:v1:*) ;; *) fail "ciphertext format: $ct1" ;; esac
[ "$("$BAO" write -field=plaintext transit/decrypt/users-pii ciphertext="$ct1" | base64 -d)" = alice@example.com ] || fail "decrypt"
"$BAO" write -f transit/keys/users-pii/rotate >/dev/null
ct2=$("$BAO" write -field=ciphertext transit/rewrap/users-pii ciphertext="$ct1")
case "$ct2" in qsafe:v2:*) ;; *) fail "rewrap: $ct2" ;; esac
"$BAO" write transit/keys/users-pii/config min_decryption_version=2 >/dev/null
if "$BAO" write -field=plaintext transit/decrypt/users-pii ciphertext="$ct1" >/dev/null 2>&1; then
  fail "decrypted below min_decryption_version"
fi
[ "$("$BAO" write -field=plaintext transit/decrypt/users-pii ciphertext="$ct2" | base64 -d)" = alice@example.com ] || fail "decrypt rewrapped"
"$BAO" write transit/keys/release type=ml-dsa-65 >/dev/null
sig=$("$BAO" write -field=signature transit/sign/release input="$(printf artifact | base64)")
[ "$("$BAO" write -field=valid transit/verify/release input="$(printf artifact | base64)" signature="$sig")" = true ] || fail "verify"
[ "$("$BAO" write -field=valid transit/verify/release input="$(printf other | base64)" signature="$sig")" = false ] || fail "verify of other input"
echo "bao kv+transit ok"
