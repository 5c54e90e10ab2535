#!/usr/bin/env python3
"""The authorization-code + PKCE flow in a real headless Chromium against qsafe's login page.

Usage: oidc_browser.py <address> <chromium>   (a `qsafe dev --insecure-http`, root token
`dev-root`)

Registers a user and a public client whose redirect URI is a listener in this script, drives
Chromium over the DevTools protocol (`--remote-debugging-pipe`: NUL-separated JSON on fds 3/4,
no extra library): opens the authorization URL, checks the page is usable (a title, a language,
every visible input labelled), signs in once with a wrong password (the page says so), then with
the right one, and catches the redirect with its code. Exchanges the code (PKCE verifier, no
secret) and validates the ID token with `jwcrypto` from the JWKS. Prints `oidc browser ok`.
"""
import base64
import hashlib
import http.server
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from jwcrypto import jwk, jwt

import oidc_http

ADDR, CHROMIUM = sys.argv[1], sys.argv[2]
ISSUER = f"{ADDR}/v1/identity/oidc/provider/default"


def call(method, url, body=None, headers=None, form=False):
    status, _, answer = oidc_http.call(method, url, body, headers, form)
    return status, answer


def admin(path, body):
    status, answer = call("POST", f"{ADDR}/v1/{path}", body, {"X-Vault-Token": "dev-root"})
    assert status < 300, (path, status, answer)
    return answer


class Callback(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        Callback.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"signed in")

    def log_message(self, *args):
        pass


class Browser:
    """Chromium over the DevTools protocol on a pipe."""

    def __init__(self):
        self.profile = tempfile.mkdtemp()
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def wire():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [
                CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank",
            ],
            preexec_fn=wire,
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = os.read(self.from_chrome, 65536)
                if not chunk:
                    raise AssertionError("Chromium closed the DevTools pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def page(self, method, params=None):
        return self.send(method, params, self.session)

    def js(self, expression):
        result = self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def wait(self, condition, what, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            try:
                if self.js(condition):
                    return
            except AssertionError:
                pass  # the page is between documents
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; page: {self.js('location.href')}")

    def close(self):
        self.proc.kill()
        self.proc.wait()


def main():
    server = http.server.HTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    redirect_uri = f"http://127.0.0.1:{server.server_port}/cb"
    admin("identity/user/alice", {"password": "correct horse battery", "email": "alice@example.com"})
    client_id = admin(
        "identity/oidc/client/spa",
        {"client_type": "public", "redirect_uris": [redirect_uri]},
    )["data"]["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    url = f"{ISSUER}/authorize?" + urllib.parse.urlencode({
        "client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
        "scope": "openid email", "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    browser = Browser()
    try:
        browser.page("Page.enable")
        browser.page("Page.navigate", {"url": url})
        browser.wait("document.readyState === 'complete' && !!document.getElementById('password')", "the login page")
        checks = browser.js(
            "({lang: document.documentElement.lang, title: document.title,"
            " unlabelled: [...document.querySelectorAll('input:not([type=hidden])')]"
            ".filter(i => i.labels.length === 0).length})"
        )
        assert checks["lang"] == "en" and checks["title"] and checks["unlabelled"] == 0, checks
        fill = (
            "document.getElementById('username').value = 'alice';"
            "document.getElementById('password').value = {password};"
            "document.querySelector('button[type=submit]').click(); true"
        )
        browser.js(fill.replace("{password}", json.dumps("not the password")))
        browser.wait("!!document.querySelector('[role=alert]')", "the wrong-password message")
        assert not Callback.seen, Callback.seen
        browser.js(fill.replace("{password}", json.dumps("correct horse battery")))
        end = time.time() + 20
        while not Callback.seen and time.time() < end:
            time.sleep(0.1)
        assert Callback.seen, "no redirect to the client"
    finally:
        browser.close()
        server.shutdown()
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(Callback.seen[0]).query))
    assert query.get("state") == state, query
    status, tokens = call(
        "POST",
        f"{ISSUER}/token",
        {"grant_type": "authorization_code", "code": query["code"], "code_verifier": verifier,
         "redirect_uri": redirect_uri, "client_id": client_id},
        form=True,
    )
    assert status == 200, (status, tokens)
    _, jwks = call("GET", f"{ISSUER}/.well-known/keys")
    keys = jwk.JWKSet.from_json(json.dumps(jwks))
    checked = jwt.JWT(
        jwt=tokens["id_token"], key=keys, algs=["ML-DSA-65"],
        check_claims={"iss": ISSUER, "aud": client_id, "exp": None, "nonce": nonce},
    )
    claims = json.loads(checked.claims)
    assert claims["email"] == "alice@example.com", claims
    print("oidc browser ok")


main()
