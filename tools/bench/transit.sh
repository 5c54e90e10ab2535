#!/usr/bin/env bash
# qsafe vs OpenBao 2.7 on this machine, same run (crates/qsafe/benches/transit_vs_openbao.rs):
# transit encrypt/decrypt (ml-kem-768 and aes256-gcm96 vs OpenBao's aes256-gcm96) and KV v2 reads,
# 16 TLS connections; plus one 1,000-item batch encrypt. Needs .venv/bin/bao
# (scripts/test-deps.sh). About 2 minutes plus the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -p qsafe --bench transit_vs_openbao
