#!/usr/bin/env bash
# The OIDC provider under load (crates/qsafe/benches/identity_load.rs): client_credentials
# tokens per second (ML-DSA-65 and ML-DSA-44 keys), introspection and JWKS requests per second
# over 16 TLS connections, then SDK-side token validation per core beside bare ML-DSA
# verification. About a minute plus the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -p qsafe --bench identity_load
