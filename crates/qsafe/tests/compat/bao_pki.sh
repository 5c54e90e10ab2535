#!/usr/bin/env bash
# A root and an intermediate CA, issuance, revocation and the CRL with OpenBao's unchanged `bao`
# CLI against `qsafe dev` (ML-DSA-65 by default). Runs in a scratch directory (files are written).
# Needs BAO, VAULT_ADDR, VAULT_CACERT, VAULT_TOKEN and PYTHON (with `cryptography`) in the
# environment; OPENSSL (3.5+) is optional and adds `openssl` checks of the same files.
set -euo pipefail
# A failed check is recorded and the script goes on, so one run reports every departure; a
# command that fails outside a check still stops it (set -e).
failures=()
fail() { echo "FAIL: $*" >&2; failures+=("$*"); }
py() { "$PYTHON" -c "$@"; }
have_openssl() { [ -n "${OPENSSL:-}" ] && [ -x "$OPENSSL" ]; }

# Mounts: a root at pki/, an intermediate at pki-int/.
"$BAO" secrets enable pki >/dev/null
"$BAO" secrets enable -path=pki-int pki >/dev/null
"$BAO" secrets list -format=json | py '
import json, sys
m = json.load(sys.stdin)
assert m["pki/"]["type"] == "pki" and m["pki-int/"]["type"] == "pki", m' || fail "mounts"

# Root: ML-DSA-65 by default, ten years.
"$BAO" write -field=certificate pki/root/generate/internal common_name="bao Root CA" ttl=87600h > root.pem
py '
import datetime
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import mldsa
c = x509.load_pem_x509_certificate(open("root.pem", "rb").read())
assert isinstance(c.public_key(), mldsa.MLDSA65PublicKey), type(c.public_key())
c.public_key().verify(c.signature, c.tbs_certificate_bytes)
life = c.not_valid_after_utc - c.not_valid_before_utc
assert abs(life - datetime.timedelta(hours=87600)) < datetime.timedelta(minutes=5), life' || fail "root certificate"
"$BAO" write pki/config/urls issuing_certificates="$VAULT_ADDR/v1/pki/ca" \
  crl_distribution_points="$VAULT_ADDR/v1/pki/crl" >/dev/null

# Intermediate: CSR on pki-int, signed by the root, installed with set-signed.
"$BAO" write -format=json pki-int/intermediate/generate/internal common_name="bao Intermediate CA" \
  | py 'import json, sys; print(json.load(sys.stdin)["data"]["csr"])' > csr.pem
grep -q "BEGIN CERTIFICATE REQUEST" csr.pem || fail "intermediate csr"
"$BAO" write -format=json pki/root/sign-intermediate csr=@csr.pem ttl=8760h \
  | py 'import json, sys; print(json.load(sys.stdin)["data"]["certificate"])' > int.pem
py '
from cryptography import x509
root = x509.load_pem_x509_certificate(open("root.pem", "rb").read())
c = x509.load_pem_x509_certificate(open("int.pem", "rb").read())
root.public_key().verify(c.signature, c.tbs_certificate_bytes)
assert c.issuer == root.subject
assert c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca' || fail "intermediate certificate"
"$BAO" write pki-int/intermediate/set-signed certificate=@int.pem >/dev/null
[ "$("$BAO" list -format=json pki-int/issuers | py 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] \
  || fail "pki-int issuers"

# A role and a leaf from the intermediate.
"$BAO" write pki-int/roles/svc allowed_domains=svc.internal allow_subdomains=true max_ttl=72h >/dev/null
[ "$("$BAO" read -field=key_type pki-int/roles/svc)" = mldsa ] || fail "role key_type"
"$BAO" write -format=json pki-int/issue/svc common_name=a.svc.internal alt_names=b.svc.internal > leaf.json
py '
import json
d = json.load(open("leaf.json"))["data"]
open("leaf.pem", "w").write(d["certificate"] + "\n")
open("leaf.key", "w").write(d["private_key"] + "\n")
open("chain.pem", "w").write("\n".join(d["ca_chain"]) + "\n")
open("serial", "w").write(d["serial_number"])
assert d["private_key_type"] == "mldsa", d["private_key_type"]'
serial=$(cat serial)
py '
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa
inter = x509.load_pem_x509_certificate(open("int.pem", "rb").read())
c = x509.load_pem_x509_certificate(open("leaf.pem", "rb").read())
assert isinstance(c.public_key(), mldsa.MLDSA65PublicKey), type(c.public_key())
inter.public_key().verify(c.signature, c.tbs_certificate_bytes)
san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
assert set(san.get_values_for_type(x509.DNSName)) == {"a.svc.internal", "b.svc.internal"}, san
key = serialization.load_pem_private_key(open("leaf.key", "rb").read(), None)
assert key.public_key() == c.public_key()
# set-signed was given the intermediate alone, so (as OpenBao) the chain is that issuer only.
chain = x509.load_pem_x509_certificates(open("chain.pem", "rb").read())
assert chain == [inter], chain' || fail "leaf certificate"
if have_openssl; then
  text=$("$OPENSSL" x509 -noout -text -in leaf.pem)
  grep -q "Public Key Algorithm: ML-DSA-65" <<<"$text" || fail "openssl: leaf key type"
  "$OPENSSL" verify -CAfile root.pem -untrusted int.pem leaf.pem >/dev/null || fail "openssl verify"
fi

# Fetch and list.
[ "$("$BAO" read -field=certificate "pki-int/cert/$serial")" = "$(cat leaf.pem)" ] || fail "read cert"
[ "$("$BAO" read -field=revocation_time "pki-int/cert/$serial")" = 0 ] || fail "revocation_time before revoke"
"$BAO" list -format=json pki-int/certs | py "
import json, sys
keys = json.load(sys.stdin)
assert '$serial' in keys, keys" || fail "list certs"

# Revoke; the CRL lists the serial.
"$BAO" write pki-int/revoke serial_number="$serial" >/dev/null
[ "$("$BAO" read -field=revocation_time "pki-int/cert/$serial")" != 0 ] || fail "revocation_time after revoke"
"$BAO" read -field=certificate pki-int/cert/crl > crl.pem
py '
from cryptography import x509
inter = x509.load_pem_x509_certificate(open("int.pem", "rb").read())
leaf = x509.load_pem_x509_certificate(open("leaf.pem", "rb").read())
crl = x509.load_pem_x509_crl(open("crl.pem", "rb").read())
assert crl.is_signature_valid(inter.public_key())
assert crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None' || fail "crl lists the serial"
if have_openssl; then
  want=$(echo "$serial" | tr -d ':' | tr a-z A-Z)
  text=$("$OPENSSL" crl -noout -text -in crl.pem | tr -d ' ')
  grep -q "SerialNumber:$want" <<<"$text" || fail "openssl crl"
fi
# OpenBao's issuer/:ref/crl (no suffix) answers JSON with the PEM CRL in `crl` (health-check's
# crl_validity_period reads it so); /crl/der and /crl/pem are the raw forms.
if ! "$BAO" read -field=crl pki-int/issuer/default/crl > issuer-crl.pem 2> issuer-crl.err; then
  fail "bao read -field=crl pki-int/issuer/default/crl: $(tr '\n' ' ' < issuer-crl.err)"
elif ! grep -q "BEGIN X509 CRL" issuer-crl.pem; then
  fail "pki-int/issuer/default/crl: no PEM CRL in the crl field"
fi
"$BAO" list -format=json pki-int/certs/revoked | py "
import json, sys
assert '$serial' in json.load(sys.stdin)" || fail "list revoked"

# Refused: a TTL above the role's max_ttl exits non-zero with the error on stderr.
if "$BAO" write pki-int/issue/svc common_name=c.svc.internal ttl=100h >out 2>err; then
  fail "ttl above max_ttl accepted"
fi
grep -q "max_ttl" err || fail "refusal message: $(cat err)"
[ ! -s out ] || fail "refusal wrote to stdout: $(cat out)"
if "$BAO" write pki-int/issue/svc common_name=evil.example.com >/dev/null 2>err; then
  fail "name outside the role accepted"
fi
grep -q "evil.example.com" err || fail "refusal message: $(cat err)"

# `bao pki` subcommands (OpenBao 2.7). verify-sign checks signatures with Go's crypto/x509.
echo "--- bao pki verify-sign pki/issuer/default/json pki-int/issuer/default/json"
set +e
"$BAO" pki verify-sign -format=json pki/issuer/default/json pki-int/issuer/default/json > verify.json 2> verify.err
verify_rc=$?
set -e
cat verify.json verify.err
[ "$verify_rc" = 0 ] || fail "bao pki verify-sign exited $verify_rc"
py '
import json
r = json.load(open("verify.json"))
for k in ("subject_match", "trust_match", "key_id_match", "signature_match"):
    assert r.get(k) is True, (k, r)
# path_match looks for the root in pki-int issuer'"'"'s ca_chain; set-signed got the intermediate
# alone and the root lives on another mount, so (as with OpenBao) it is not there.
assert r.get("path_match") is False, r' || fail "bao pki verify-sign"

echo "--- bao pki list-intermediates pki/issuer/default/json pki-int"
set +e
"$BAO" pki list-intermediates -format=json pki/issuer/default/json pki-int > inter.json 2> inter.err
inter_rc=$?
set -e
cat inter.json inter.err
[ "$inter_rc" = 0 ] || fail "bao pki list-intermediates exited $inter_rc"

# health-check with its default configuration: every check must run (exit 0, 2 or 3: healthy,
# informational or warning findings such as allow_localhost on a role). OpenBao's checker skips
# a check whose endpoint answers 404 or "unsupported path"; any other error aborts the run (1).
echo "--- bao pki health-check pki-int/"
set +e
"$BAO" pki health-check -format=json pki-int/ > health.json 2> health.err
health_rc=$?
set -e
cat health.json health.err
# The same without the checks whose endpoints qsafe does not serve (sys/mounts/:path/tune,
# config/auto-tidy, tidy-status, config/acme): the remaining checks must all run.
echo "--- bao pki health-check -health-config=(without tune, auto-tidy, tidy-status, acme checks) pki-int/"
"$BAO" pki health-check -list pki-int/ 2>/dev/null | py '
import json, sys
text = sys.stdin.read()
cfg = json.loads(text[text.index("{"):])
for name in ("audit_visibility", "allow_if_modified_since", "allow_acme_headers",
             "enable_auto_tidy", "tidy_last_run", "enable_acme_issuance"):
    cfg[name]["enabled"] = False
json.dump(cfg, open("health-config.json", "w"))'
set +e
"$BAO" pki health-check -format=json -health-config=health-config.json pki-int/ > health2.json 2> health2.err
health2_rc=$?
set -e
cat health2.json health2.err
case "$health2_rc" in 0|2|3) ;; *) fail "bao pki health-check (reduced) exited $health2_rc" ;; esac
py '
import json
r = json.load(open("health2.json"))
for name in ("ca_validity_period", "role_allows_localhost", "too_many_certs"):
    assert r.get(name), (name, r)
assert r["ca_validity_period"][0]["status"] == "ok", r["ca_validity_period"]' || fail "health-check findings"
# Exit 5 is "a check needs a newer Vault": the checks of ACME, auto-tidy and tidy-status, which
# compare qsafe's version number with Vault's (qsafe has none of the three yet; docs/pki.md).
# Any other finding of that kind fails.
if [ "$health_rc" = 5 ]; then
  py '
import json
r = json.load(open("health.json"))
bad = [(k, f) for k, fs in r.items() for f in fs
       if f["status_code"] == 5 and not (f["status"] == "invalid_version" and f["endpoint"].rsplit("/", 1)[-1] in ("acme", "auto-tidy", "tidy-status"))]
assert not bad, bad' || fail "health-check: a check other than ACME/auto-tidy/tidy-status could not run"
else
  case "$health_rc" in 0|2|3) ;; *) fail "bao pki health-check (default config) exited $health_rc: $(tr '\n' ' ' < health.err)" ;; esac
fi
if [ "${#failures[@]}" -gt 0 ]; then
  printf '\n%d bao pki check(s) failed:\n' "${#failures[@]}" >&2
  printf ' - %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "bao pki ok"
