"""HTTP helpers shared by the OIDC peer scripts (oidc_jwcrypto.py, oidc_browser.py): Python's
standard library only, so the HTTP side is as independent of qsafe as the JOSE side."""
import json
import urllib.error
import urllib.parse
import urllib.request


def lower(headers):
    return {k.lower(): v for k, v in headers.items()}


def call(method, url, body=None, headers=None, form=False, context=None):
    """(status, lower-cased headers, JSON body or None); form=True sends the body as a form."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, context=context) as resp:
            text = resp.read()
            return resp.status, lower(resp.headers), json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, lower(e.headers), json.loads(e.read() or b"null")
