#!/usr/bin/env bash
# Post-quantum mTLS against classical, same services, same run
# (examples/reference-architecture/bench.sh): new mTLS handshakes per second to users-api and
# requests per second through gateway → users-api, ML-DSA-65 + X25519MLKEM768 against
# ECDSA P-256 + X25519. About two minutes plus the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec examples/reference-architecture/bench.sh "$@"
