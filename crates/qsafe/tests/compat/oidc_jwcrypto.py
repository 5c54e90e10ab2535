#!/usr/bin/env python3
"""An independent OAuth client and JWT verifier against a running `qsafe dev`: Python's standard
library for HTTP and `jwcrypto` (RFC 9964 ML-DSA JOSE) for tokens.

Usage: oidc_jwcrypto.py <address> <ca.pem>   (root token `dev-root`)

For ML-DSA-65 (the default key), ML-DSA-44 and ES256 clients: registers the client, reads the
discovery document, gets a client_credentials token from the token endpoint (HTTP Basic client
authentication, a form body), fetches the JWKS from `jwks_uri`, and validates the token with the
JWKS alone (signature by `kid`, iss, aud, exp, nbf). A token with a changed payload, one with
`alg: none` and one naming an unknown `kid` must all be refused. Prints one line per algorithm
with the token's size, then `oidc jwcrypto ok`. Any failure raises (non-zero exit).
"""
import base64
import json
import ssl
import sys
import urllib.parse

from jwcrypto import jwk, jwt

import oidc_http

ADDR, CA = sys.argv[1], sys.argv[2]
CTX = ssl.create_default_context(cafile=CA)
ALGS = ["ML-DSA-65", "ML-DSA-44", "ES256"]


def call(method, url, body=None, headers=None, form=False):
    return oidc_http.call(method, url, body, headers, form, context=CTX)


def admin(method, path, body=None):
    status, _, answer = call(method, f"{ADDR}/v1/{path}", body, {"X-Vault-Token": "dev-root"})
    if status >= 300:
        raise AssertionError(f"{method} {path}: {status} {answer}")
    return answer


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def must_fail(token, keys, what):
    try:
        jwt.JWT(jwt=token, key=keys, algs=ALGS)
    except Exception:
        return
    raise AssertionError(f"{what} was accepted")


def main():
    issuer = f"{ADDR}/v1/identity/oidc/provider/default"
    _, headers, discovery = call("GET", f"{issuer}/.well-known/openid-configuration")
    assert discovery["issuer"] == issuer, discovery
    assert "client_credentials" in discovery["grant_types_supported"], discovery
    for alg in ALGS:
        key = "default"
        if alg != "ML-DSA-65":
            key = alg.lower()
            admin("POST", f"identity/oidc/key/{key}", {"algorithm": alg})
        client = admin(
            "POST",
            f"identity/oidc/client/py-{key}",
            {"key": key, "audiences": ["users-api"]},
        )["data"]
        basic = base64.b64encode(
            f"{urllib.parse.quote(client['client_id'])}:{urllib.parse.quote(client['client_secret'])}".encode()
        ).decode()
        status, headers, answer = call(
            "POST",
            discovery["token_endpoint"],
            {"grant_type": "client_credentials"},
            {"Authorization": f"Basic {basic}"},
            form=True,
        )
        assert status == 200, (status, answer)
        assert headers.get("cache-control") == "no-store", headers
        token = answer["access_token"]
        _, headers, jwks = call("GET", discovery["jwks_uri"])
        assert headers.get("cache-control", "").startswith("public, max-age="), headers
        keys = jwk.JWKSet.from_json(json.dumps(jwks))
        checked = jwt.JWT(
            jwt=token,
            key=keys,
            algs=ALGS,
            check_claims={"iss": issuer, "aud": "users-api", "exp": None, "nbf": None},
        )
        header = json.loads(checked.header)
        claims = json.loads(checked.claims)
        assert header["alg"] == alg and header["kid"], header
        assert claims["client_id"] == client["client_id"] == claims["sub"], claims
        head, payload, sig = token.split(".")
        changed = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        changed["aud"] = "admin-api"
        must_fail(f"{head}.{b64(json.dumps(changed).encode())}.{sig}", keys, "a changed payload")
        none_head = b64(json.dumps({"alg": "none", "kid": header["kid"]}).encode())
        must_fail(f"{none_head}.{payload}.", keys, "alg none")
        other_head = b64(json.dumps({**header, "kid": "unknown"}).encode())
        must_fail(f"{other_head}.{payload}.{sig}", keys, "an unknown kid")
        print(f"{alg}: token {len(token)} bytes verified by jwcrypto from the JWKS")
    print("oidc jwcrypto ok")


main()
