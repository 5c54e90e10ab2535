# The PKI engine through hvac's unchanged `secrets.pki` API against `qsafe dev`; the certificates
# it returns are checked with Python `cryptography` (ML-DSA-65 keys and signatures by default).
# argv: url ca-file. Every check runs; failures are listed at the end (exit 1).
import datetime
import ipaddress
import sys
import traceback

import hvac
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mldsa
from cryptography.x509.oid import NameOID
from hvac import exceptions as E

url, ca = sys.argv[1], sys.argv[2]
c = hvac.Client(url=url, token="dev-root", verify=ca)
pki = c.secrets.pki
failures = []
state = {}

MLDSA65_OID = "2.16.840.1.101.3.4.3.18"


def step(name):
    """Runs the decorated check now; an exception is recorded as a failure, not fatal."""

    def run(fn):
        try:
            fn()
            print(f"ok   {name}")
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failures.append(f"{name}: {type(e).__name__}: {e}")
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            traceback.print_exc()
        return fn

    return run


def load(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def sans(cert):
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName)), set(ext.get_values_for_type(x509.IPAddress))


def verify(issuer_cert, cert):
    """Raises unless `issuer_cert`'s key signed `cert` (ML-DSA or ECDSA)."""
    key = issuer_cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    else:
        key.verify(cert.signature, cert.tbs_certificate_bytes)
    assert cert.issuer == issuer_cert.subject, (cert.issuer, issuer_cert.subject)


def refused(call, *words):
    """`call` must raise hvac's InvalidRequest (400) whose message has all `words`."""
    try:
        call()
    except E.InvalidRequest as e:
        msg = str(e).lower()
        assert all(w.lower() in msg for w in words), f"message {e!s} lacks {words}"
        return str(e)
    raise AssertionError(f"accepted; expected InvalidRequest mentioning {words}")


@step("enable pki mounts")
def _():
    c.sys.enable_secrets_engine("pki", path="pki")
    c.sys.enable_secrets_engine("pki", path="pki87")
    c.sys.enable_secrets_engine("pki", path="pki-int")
    mounts = c.sys.list_mounted_secrets_engines()["data"]
    assert mounts["pki/"]["type"] == "pki", mounts["pki/"]


@step("generate_root: ML-DSA-65 by default, ttl 87600h")
def _():
    r = pki.generate_root(type="internal", common_name="hvac Root CA", extra_params={"ttl": "87600h"})["data"]
    for k in ("certificate", "issuing_ca", "serial_number", "expiration", "issuer_id", "key_id"):
        assert r.get(k), (k, r)
    assert "private_key" not in r, "internal root returned its key"
    root = load(r["certificate"])
    assert isinstance(root.public_key(), mldsa.MLDSA65PublicKey), type(root.public_key())
    assert root.signature_algorithm_oid.dotted_string == MLDSA65_OID, root.signature_algorithm_oid
    verify(root, root)
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "hvac Root CA"
    life = root.not_valid_after_utc - root.not_valid_before_utc
    assert abs(life - datetime.timedelta(hours=87600)) < datetime.timedelta(minutes=5), life
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca, bc
    assert r["expiration"] == int(root.not_valid_after_utc.timestamp()), (r["expiration"], root.not_valid_after_utc)
    state["root"] = root
    state["root_pem"] = r["certificate"]


@step("generate_root with key_type=mldsa key_bits=87 on a second mount")
def _():
    r = pki.generate_root(
        type="internal",
        common_name="hvac Root 87",
        extra_params={"key_type": "mldsa", "key_bits": 87},
        mount_point="pki87",
    )["data"]
    root87 = load(r["certificate"])
    assert isinstance(root87.public_key(), mldsa.MLDSA87PublicKey), type(root87.public_key())
    verify(root87, root87)
    issuers = pki.list_issuers(mount_point="pki87")["data"]["keys"]
    assert r["issuer_id"] in issuers, issuers


@step("generate_root: exported returns the key once, as PKCS#8")
def _():
    c.sys.enable_secrets_engine("pki", path="pki-exp")
    r = pki.generate_root(type="exported", common_name="hvac Exported Root", mount_point="pki-exp")["data"]
    key = serialization.load_pem_private_key(r["private_key"].encode(), None)
    assert isinstance(key, mldsa.MLDSA65PrivateKey), type(key)
    assert key.public_key() == load(r["certificate"]).public_key()


@step("set_urls / read_urls")
def _():
    params = {
        "issuing_certificates": [f"{url}/v1/pki/ca"],
        "crl_distribution_points": [f"{url}/v1/pki/crl"],
        "ocsp_servers": [f"{url}/v1/pki/ocsp"],
    }
    pki.set_urls(params)
    got = pki.read_urls()["data"]
    for k, v in params.items():
        assert got[k] == v, (k, got)


@step("set_crl_configuration / read_crl_configuration")
def _():
    pki.set_crl_configuration(expiry="48h")
    got = pki.read_crl_configuration()["data"]
    assert got["disable"] is False, got
    # OpenBao stores and answers `expiry` as the string it was given (Terraform's
    # vault_pki_secret_backend_crl_config compares it with its configuration).
    assert got["expiry"] == "48h", f"GET config/crl: expiry {got['expiry']!r} after POST expiry='48h'; OpenBao answers '48h'"


@step("create_or_update_role / read_role / list_roles")
def _():
    pki.create_or_update_role(
        "web",
        extra_params={
            "allowed_domains": ["example.com"],
            "allow_subdomains": True,
            "max_ttl": "72h",
            "ttl": "1h",
        },
    )
    role = pki.read_role("web")["data"]
    assert role["allowed_domains"] == ["example.com"], role
    assert role["allow_subdomains"] is True, role
    assert role["key_type"] == "mldsa" and role["key_bits"] == 65, role
    assert role["max_ttl"] == 72 * 3600, role
    assert role["ttl"] == 3600, role
    pki.create_or_update_role(
        "any", extra_params={"allowed_domains": "example.com", "allow_subdomains": True, "key_type": "any"}
    )
    pki.create_or_update_role("doomed", extra_params={"allow_any_name": True})
    keys = pki.list_roles()["data"]["keys"]
    assert sorted(keys) == ["any", "doomed", "web"], keys
    pki.delete_role("doomed")
    assert sorted(pki.list_roles()["data"]["keys"]) == ["any", "web"]
    try:
        pki.read_role("doomed")
        raise AssertionError("deleted role still readable")
    except E.InvalidPath:
        pass


@step("generate_certificate: ML-DSA-65 leaf with the requested SANs")
def _():
    r = pki.generate_certificate(
        name="web",
        common_name="www.example.com",
        extra_params={"alt_names": "api.example.com", "ip_sans": "10.0.0.1", "ttl": "2h"},
    )["data"]
    for k in ("certificate", "private_key", "private_key_type", "serial_number", "issuing_ca", "ca_chain", "expiration"):
        assert r.get(k), (k, r)
    leaf = load(r["certificate"])
    assert isinstance(leaf.public_key(), mldsa.MLDSA65PublicKey), type(leaf.public_key())
    assert leaf.signature_algorithm_oid.dotted_string == MLDSA65_OID
    verify(state["root"], leaf)
    dns, ips = sans(leaf)
    assert dns == {"www.example.com", "api.example.com"}, dns
    assert ips == {ipaddress.ip_address("10.0.0.1")}, ips
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "www.example.com"
    life = leaf.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=1, minutes=55) < life <= datetime.timedelta(hours=2, minutes=1), life
    key = serialization.load_pem_private_key(r["private_key"].encode(), None)
    assert isinstance(key, mldsa.MLDSA65PrivateKey), type(key)
    assert key.public_key() == leaf.public_key(), "private_key does not match the certificate"
    assert r["private_key_type"] == "mldsa", r["private_key_type"]
    serial_hex = format(leaf.serial_number, "x")
    assert r["serial_number"].replace(":", "").lstrip("0") == serial_hex, (r["serial_number"], serial_hex)
    assert r["issuing_ca"].strip() == state["root_pem"].strip()
    # The URLs set above are in the AIA and CRL distribution point extensions.
    aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert f"{url}/v1/pki/ca" in [d.access_location.value for d in aia], aia
    cdp = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert f"{url}/v1/pki/crl" in [n.value for d in cdp for n in d.full_name], cdp
    state["leaf"] = leaf
    state["leaf_pem"] = r["certificate"]
    state["serial"] = r["serial_number"]


def csr_for(key, cn, algorithm):
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        .sign(key, algorithm)
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )


@step("sign_certificate: EC P-256 CSR with a key_type=any role")
def _():
    key = ec.generate_private_key(ec.SECP256R1())
    csr = csr_for(key, "ec.example.com", hashes.SHA256())
    r = pki.sign_certificate(name="any", csr=csr, common_name="ec.example.com")["data"]
    cert = load(r["certificate"])
    assert "private_key" not in r, "sign returned a key"
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey), type(cert.public_key())
    assert cert.public_key() == key.public_key()
    verify(state["root"], cert)
    assert sans(cert)[0] == {"ec.example.com"}
    # The default role (key_type mldsa) refuses it.
    refused(lambda: pki.sign_certificate(name="web", csr=csr, common_name="ec.example.com"), "key")


@step("sign_certificate: ML-DSA-65 CSR made by cryptography")
def _():
    key = mldsa.MLDSA65PrivateKey.generate()
    csr = csr_for(key, "pq.example.com", None)
    r = pki.sign_certificate(name="web", csr=csr, common_name="pq.example.com")["data"]
    cert = load(r["certificate"])
    assert cert.public_key() == key.public_key()
    verify(state["root"], cert)
    assert sans(cert)[0] == {"pq.example.com"}


@step("sign_verbatim")
def _():
    key = mldsa.MLDSA65PrivateKey.generate()
    csr = csr_for(key, "verbatim.other.test", None)
    cert = load(pki.sign_verbatim(csr=csr, extra_params={"ttl": "1h"})["data"]["certificate"])
    assert sans(cert)[0] == {"verbatim.other.test"}
    verify(state["root"], cert)


@step("read_ca_certificate / read_ca_certificate_chain")
def _():
    pem = pki.read_ca_certificate()
    assert load(pem) == state["root"], pem[:80]
    chain = pki.read_ca_certificate_chain()
    assert state["root"] in x509.load_pem_x509_certificates(chain.encode()), chain[:80]


@step("read_certificate / list_certificates")
def _():
    got = pki.read_certificate(state["serial"])["data"]
    assert load(got["certificate"]) == state["leaf"], got
    assert got["revocation_time"] == 0, got
    keys = pki.list_certificates()["data"]["keys"]
    assert state["serial"] in keys, (state["serial"], keys)


@step("revoke_certificate, then the CRL lists it")
def _():
    r = pki.revoke_certificate(state["serial"])["data"]
    assert r["revocation_time"] > 0, r
    got = pki.read_certificate(state["serial"])["data"]
    assert got["revocation_time"] == r["revocation_time"], got
    crl = x509.load_pem_x509_crl(pki.read_crl().encode())
    assert crl.is_signature_valid(state["root"].public_key()), "CRL signature"
    assert crl.get_revoked_certificate_by_serial_number(state["leaf"].serial_number) is not None, list(crl)
    # Revoking again answers the first revocation's time.
    again = pki.revoke_certificate(state["serial"])["data"]
    assert again["revocation_time"] == r["revocation_time"], again
    # The CRL is public: no token needed (OpenBao's unauthenticated paths).
    anon = requests.get(f"{url}/v1/pki/crl/pem", verify=ca)
    assert anon.status_code == 200, anon.text
    assert x509.load_pem_x509_crl(anon.content).get_revoked_certificate_by_serial_number(state["leaf"].serial_number)


@step("rotate_crl")
def _():
    before = x509.load_pem_x509_crl(pki.read_crl().encode())
    r = pki.rotate_crl()
    assert r["data"]["success"] is True, r
    after = x509.load_pem_x509_crl(pki.read_crl().encode())
    num = lambda crl: crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert num(after) > num(before), (num(before), num(after))
    assert after.get_revoked_certificate_by_serial_number(state["leaf"].serial_number) is not None


@step("tidy")
def _():
    r = pki.tidy(extra_params={"tidy_cert_store": True, "tidy_revoked_certs": True})
    if isinstance(r, dict):
        print("     tidy answered", r.get("data"), r.get("warnings"))
    else:
        assert r.status_code in (200, 202, 204), (r.status_code, r.text)
    # Unexpired certificates stay.
    assert state["serial"] in pki.list_certificates()["data"]["keys"]


@step("intermediate: generate_intermediate / sign_intermediate / set_signed_intermediate")
def _():
    csr = pki.generate_intermediate(type="internal", common_name="hvac Intermediate", mount_point="pki-int")["data"]["csr"]
    x509.load_pem_x509_csr(csr.encode())
    r = pki.sign_intermediate(csr=csr, common_name="hvac Intermediate", extra_params={"ttl": "8760h"})["data"]
    inter = load(r["certificate"])
    verify(state["root"], inter)
    assert inter.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    pki.set_signed_intermediate(r["certificate"] + "\n" + r["issuing_ca"], mount_point="pki-int")
    pki.create_or_update_role("svc", extra_params={"allowed_domains": "svc.internal", "allow_subdomains": True}, mount_point="pki-int")
    leaf = pki.generate_certificate(name="svc", common_name="a.svc.internal", mount_point="pki-int")["data"]
    cert = load(leaf["certificate"])
    verify(inter, cert)
    chain = leaf["ca_chain"]
    assert [load(p) for p in chain] == [inter, state["root"]], chain


@step("issuers: list_issuers / read_issuer / update_issuer")
def _():
    ids = pki.list_issuers()["data"]["keys"]
    assert len(ids) == 1, ids
    issuer = pki.read_issuer(ids[0])["data"]
    assert load(issuer["certificate"]) == state["root"], issuer
    pki.update_issuer(ids[0], extra_params={"issuer_name": "hvac-root"})
    assert pki.read_issuer("hvac-root")["data"]["issuer_id"] == ids[0]


@step("submit_ca_information (config/ca) imports a CA bundle")
def _():
    c.sys.enable_secrets_engine("pki", path="pki-import")
    r = pki.submit_ca_information(state["root_pem"], mount_point="pki-import")
    data = r["data"] if isinstance(r, dict) else {}
    issuers = pki.list_issuers(mount_point="pki-import")["data"]["keys"]
    assert len(issuers) == 1, (data, issuers)


@step("bad input: a name outside the role is InvalidRequest with a message")
def _():
    msg = refused(lambda: pki.generate_certificate(name="web", common_name="www.evil.test"), "www.evil.test")
    print("     refused:", msg)
    msg = refused(lambda: pki.generate_certificate(name="web", common_name="x.example.com", extra_params={"ttl": "100h"}), "ttl")
    print("     refused:", msg)
    refused(lambda: pki.sign_certificate(name="web", csr="not a csr", common_name="x.example.com"), "csr")
    try:
        pki.generate_certificate(name="no-such-role", common_name="x.example.com")
        raise AssertionError("unknown role accepted")
    except (E.InvalidRequest, E.InvalidPath) as e:
        assert "no-such-role" in str(e), str(e)


@step("sign_self_issued: refused (documented as not implemented)")
def _():
    # docs/pki.md lists sign-self-issued as not implemented; hvac's call must get a clear error.
    # A path the engine does not serve is a 404 with Vault's "unsupported path" (InvalidPath).
    try:
        pki.sign_self_issued(state["root_pem"])
    except E.InvalidPath as e:
        assert "unsupported path" in str(e), str(e)
        print("     refused:", e)
    else:
        raise AssertionError("sign-self-issued was accepted")


@step("revoke_issuer / delete_issuer / delete_root")
def _():
    ids = pki.list_issuers(mount_point="pki87")["data"]["keys"]
    r = pki.revoke_issuer(ids[0], mount_point="pki87")["data"]
    assert r["revoked"] is True, r
    pki.create_or_update_role("r", extra_params={"allow_any_name": True}, mount_point="pki87")
    refused(lambda: pki.generate_certificate(name="r", common_name="x.test", mount_point="pki87"), "revoked")
    pki.delete_issuer(ids[0], mount_point="pki87")
    assert pki.list_issuers(mount_point="pki87").get("data", {}).get("keys", []) in ([], None)
    pki.delete_root(mount_point="pki-exp")
    try:
        keys = pki.list_issuers(mount_point="pki-exp")["data"]["keys"]
    except E.InvalidPath:
        keys = []
    assert keys == [], keys


if failures:
    print("\n%d hvac pki check(s) failed:" % len(failures))
    for f in failures:
        print(" -", f)
    sys.exit(1)
print("hvac pki ok")
