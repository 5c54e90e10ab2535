#!/usr/bin/env bash
# HTTP load over post-quantum TLS against an in-process qsafe server on SQLite
# (crates/qsafe-server/benches/http_load.rs): requests/s, p50 and p99 with 16 connections, for
# /v1/sys/health and for an authenticated, audited no-op. About 20 s plus the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -p qsafe-server --bench http_load
