#!/usr/bin/env bash
# qsafe's CA vs OpenBao 2.7's PKI engine on this machine, same run
# (crates/qsafe/benches/pki_vs_openbao.rs): sign/:role with an ML-DSA-65 CSR, issue/:role, and
# OCSP (POST, nonce), 16 TLS connections. Needs .venv/bin/bao and .peers/bin/openssl
# (scripts/test-deps.sh). About 2 minutes plus the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -p qsafe --bench pki_vs_openbao
