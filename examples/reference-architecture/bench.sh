#!/usr/bin/env bash
# The reference architecture's benchmark (release build): the same services twice, side by side —
# post-quantum (ML-DSA-65 certificates, X25519MLKEM768) and classical (ECDSA P-256 certificates,
# X25519) — measured in alternating rounds in one run:
#   1. new mTLS handshakes per second: a workload client calls users-api's /status directly
#      with a new connection per request (full handshake, both certificates, no resumption);
#   2. requests per second through gateway → users-api (/status: token validation at the
#      gateway, the mTLS hop, no database), pooled connections.
# Prints each round (with users-api's CPU time per handshake, from /proc) and the medians with
# the PQ/classical ratio. The load generator runs on the
# same two cores as the services: the ratio is the figure to read, not the absolute rates.
#
#   examples/reference-architecture/bench.sh        ROUNDS=3 SECONDS_PER=8 CONCURRENCY=8
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
PROFILE=release
CERT_TTL=1h
ROUNDS=${ROUNDS:-3}
SECONDS_PER=${SECONDS_PER:-8}
CONCURRENCY=${CONCURRENCY:-8}
# shellcheck source=lib.sh
source "$here/lib.sh"

build
start_postgres
first_qsafe
configure bench-client

step "the classical baseline's CA: an ECDSA P-256 root on mount pki-ec, and its workloads"
q write sys/mounts/pki-ec type=pki >/dev/null
q write pki-ec/root/generate/internal common_name="shop mesh root (ECDSA)" key_type=ec key_bits=256 \
  ttl=8760h --field certificate >"$work/mesh-ca-ec.pem"
q write pki-ec/roles/workload allowed_uri_sans="spiffe://qsafe.local/ns/shop/*" require_cn=false \
  key_type=any server_flag=true client_flag=true max_ttl=24h >/dev/null
q write pki-ec/roles/gateway-public allowed_domains=localhost allow_bare_domains=true allow_localhost=true \
  allow_ip_sans=true key_type=any server_flag=true client_flag=false max_ttl=24h >/dev/null
q policy write gateway-ec - >/dev/null <<'EOF'
path "pki-ec/sign/gateway-public" { capabilities = ["update"] }
EOF
for w in gateway users-api bench-client; do
  policies=""; [[ $w == gateway ]] && policies=gateway-ec; [[ $w == users-api ]] && policies=users-api
  q write "identity/workload/$w-ec" namespace=shop service_account="$w-ec" audiences=qsafe \
    pki_mount=pki-ec cert_ttl=1h policies="$policies" >/dev/null
done
ok "pki-ec, workloads gateway-ec, users-api-ec, bench-client-ec"

step "start both sets"
declare -A port admin users_pid
for set in pq classical; do
  case $set in
    pq) vars=(MTLS_KEY=ml-dsa-65 MTLS_KX=pq); suffix="" ;;
    classical) vars=(MTLS_KEY=ecdsa-p256 MTLS_KX=classical QSAFE_PKI_MOUNT=pki-ec); suffix=-ec ;;
  esac
  for s in users-api gateway; do port[$set-$s]=$(free_port); admin[$set-$s]=$(free_port); done
  WORKLOAD=users-api$suffix start_service "users-api-$set" users-api "${port[$set-users-api]}" \
    "${admin[$set-users-api]}" "${vars[@]}" GATEWAY_ID="$(spiffe "gateway$suffix")" \
    NOTIFICATIONS_URL=https://127.0.0.1:9 NOTIFICATIONS_ID="$(spiffe notifications)" \
    RUST_LOG=warn MTLS_CHECK_SECONDS=3600 MTLS_TRUST_REFRESH_SECONDS=300
  users_pid[$set]=${pids[-1]}
  WORKLOAD=gateway$suffix start_service "gateway-$set" gateway "${port[$set-gateway]}" \
    "${admin[$set-gateway]}" "${vars[@]}" USERS_API_URL="https://127.0.0.1:${port[$set-users-api]}" \
    USERS_API_ID="$(spiffe "users-api$suffix")" \
    RUST_LOG=warn MTLS_CHECK_SECONDS=3600 MTLS_TRUST_REFRESH_SECONDS=300
  wait_ready "users-api ($set)" "${admin[$set-users-api]}"
  wait_ready "gateway ($set)" "${admin[$set-gateway]}"
done

rate() { python3 -c 'import json,sys; print(round(json.loads(sys.stdin.read())["rate"]))'; }
# CPU seconds (user + system) a process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
handshakes() {  # set → "rate cpu_ms": handshakes/s and users-api's CPU per handshake
  local key=ml-dsa-65 kx=pq mount=pki workload=bench-client
  [[ $1 == classical ]] && key=ecdsa-p256 kx=classical mount=pki-ec workload=bench-client-ec
  local before after out
  before=$(cpu "${users_pid[$1]}")
  out=$(QSAFE_JOIN_TOKEN_FILE=$(join_token "$workload") MTLS_KEY=$key MTLS_KX=$kx QSAFE_PKI_MOUNT=$mount \
    "$bin/refarch-load" --mtls --new-connections --url "https://127.0.0.1:${port[$1-users-api]}" \
    --ca "$work/mesh-ca.pem" --op status --seconds "$SECONDS_PER" --concurrency "$CONCURRENCY")
  after=$(cpu "${users_pid[$1]}")
  python3 -c 'import json,sys; r = json.loads(sys.argv[1]); ms = (float(sys.argv[3]) - float(sys.argv[2])) * 1000 / r["ok"]; print(round(r["rate"]), "%.3f" % ms)' \
    "$out" "$before" "$after"
}
requests() {  # set
  local kx=pq ca=$work/mesh-ca.pem
  [[ $1 == classical ]] && kx=classical ca=$work/mesh-ca-ec.pem
  "$bin/refarch-load" --url "https://127.0.0.1:${port[$1-gateway]}" --ca "$ca" \
    --token-file "$work/token" --kx "$kx" --op status --seconds "$SECONDS_PER" --concurrency "$CONCURRENCY" | rate
}

step "measure: $ROUNDS rounds of ${SECONDS_PER}s each, $CONCURRENCY loops"
declare -A results
for round in $(seq 1 "$ROUNDS"); do
  for set in pq classical; do
    read -r h c < <(handshakes "$set"); r=$(requests "$set")
    results[$set-h]+="$h "; results[$set-c]+="$c "; results[$set-r]+="$r "
    printf '    round %s %-9s  handshakes/s %6s (users-api CPU %s ms each)   requests/s %6s\n' \
      "$round" "$set" "$h" "$c" "$r"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
step "medians (PQ = ML-DSA-65 + X25519MLKEM768, classical = ECDSA P-256 + X25519)"
hp=$(median <<<"${results[pq-h]}"); hc=$(median <<<"${results[classical-h]}")
rp=$(median <<<"${results[pq-r]}"); rc=$(median <<<"${results[classical-r]}")
cp=$(median <<<"${results[pq-c]}"); cc=$(median <<<"${results[classical-c]}")
printf '    %-28s %10s %10s %8s\n' "" PQ classical ratio
printf '    %-28s %10s %10s %8s\n' "new mTLS handshakes/s" "$hp" "$hc" "$(python3 -c "print(f'{$hp/$hc:.2f}')")"
printf '    %-28s %10s %10s %8s\n' "server CPU ms per handshake" "$cp" "$cc" "$(python3 -c "print(f'{$cp/$cc:.2f}')")"
printf '    %-28s %10s %10s %8s\n' "requests/s gateway→users-api" "$rp" "$rc" "$(python3 -c "print(f'{$rp/$rc:.2f}')")"
