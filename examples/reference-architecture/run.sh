#!/usr/bin/env bash
# The reference architecture, end to end on loopback: qsafe dev, PostgreSQL, and the three
# services (gateway → users-api → notifications) talking over TLS 1.3 with X25519MLKEM768 and
# short-lived ML-DSA-65 certificates from qsafe; then the scenario, failure cases included.
# Every check that fails stops the script with a non-zero exit and the services' log tails.
#
#   examples/reference-architecture/run.sh            (debug build; PROFILE=release for release)
#
# Needs what scripts/test.sh needs: the Rust toolchain, python3, Debian's postgresql (installed
# by scripts/postgres.sh when run as root), OpenSSL 3.5 under .peers/ and kubernetes-validate in
# .venv/ (scripts/test-deps.sh, run here when either is missing). Nothing leaves 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

LOAD_SECONDS=${LOAD_SECONDS:-32}
# shellcheck source=lib.sh
source "$here/lib.sh"

if [[ ! -x $root/.peers/bin/openssl || ! -x $root/.venv/bin/kubernetes-validate ]]; then
  step "test peers (scripts/test-deps.sh)"
  "$root/scripts/test-deps.sh"
fi

step "Kubernetes manifests (deploy/validate.sh)"
"$here/deploy/validate.sh"

build
start_postgres
first_qsafe
configure

step "start notifications, users-api, gateway"
n_port=$(free_port); n_admin=$(free_port)
u_port=$(free_port); u_admin=$(free_port)
g_port=$(free_port); g_admin=$(free_port)
start_service notifications notifications "$n_port" "$n_admin" USERS_API_ID="$(spiffe users-api)"
start_service users-api users-api "$u_port" "$u_admin" GATEWAY_ID="$(spiffe gateway)" \
  NOTIFICATIONS_URL="https://127.0.0.1:$n_port" NOTIFICATIONS_ID="$(spiffe notifications)"
start_service gateway gateway "$g_port" "$g_admin" USERS_API_URL="https://127.0.0.1:$u_port" \
  USERS_API_ID="$(spiffe users-api)" UPSTREAM_MAX_IDLE=1
wait_ready notifications "$n_admin"
wait_ready users-api "$u_admin"
wait_ready gateway "$g_admin"
load() { "$bin/refarch-load" --url "https://127.0.0.1:$g_port" --ca "$work/mesh-ca.pem" --token-file "$work/token" "$@"; }

step "a user through gateway → users-api → notifications"
created=$(load --call POST /users --body '{"email": "Alice@Example.com", "phone": "+44 20 7946 0018", "date_of_birth": "1984-03-07"}')
[[ $created == "201 "* ]] || fail "POST /users: $created"
user_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1].split(" ", 1)[1])["id"])' "$created")
[[ $created == *'"notified":true'* ]] || fail "notifications was not told: $created"
ok "created $user_id, notifications told"
read_back=$(load --call GET "/users/$user_id")
for field in '"email":"Alice@Example.com"' '"phone":"+44 20 7946 0018"' '"date_of_birth":"1984-03-07"'; do
  [[ $read_back == "200 "*"$field"* ]] || fail "GET /users/$user_id: $read_back"
done
ok "read back decrypted: ${read_back:0:120}"
found=$(load --call GET "/users?email=%20alice@EXAMPLE.com")
[[ $found == "200 "*"$user_id"* ]] || fail "search by email: $found"
ok "found by email through its blind index (case and spaces normalised)"
[[ $(load --call GET /users/nobody/status) == "404 "* ]] || fail "an unknown user is not 404"
bad=$(load --call POST /users --body '{"email": "not-an-address", "phone": "1", "date_of_birth": "x"}')
[[ $bad == "400 "* ]] || fail "bad input was not refused: $bad"
ok "bad input refused (400), unknown user 404"
no_token=$("$bin/refarch-load" --url "https://127.0.0.1:$g_port" --ca "$work/mesh-ca.pem" --token-file /dev/null --call GET /status)
[[ $no_token == "401 "* ]] || fail "a request without a token was not refused: $no_token"
ok "no bearer token: 401 at the gateway"

step "PostgreSQL holds only ciphertext and blind indexes"
psql -q -At -F ' ' "${QSAFE_TEST_POSTGRES_URL%/*}/users" -c "SELECT id, email, email_index, phone, date_of_birth FROM users" >"$work/rows"
[[ -s $work/rows ]] || fail "no rows"
grep -qiE 'alice|example\.com|7946|1984' "$work/rows" && fail "plaintext PII in the table: $(head -1 "$work/rows")"
while read -r id email index phone dob; do
  for v in "$email" "$phone" "$dob"; do [[ $v == qsafe:v1:* ]] || fail "not a transit ciphertext: ${v:0:40}"; done
  [[ $index == qsafe:v1:* ]] || fail "not a blind index: $index"
done <"$work/rows"
row=$(head -1 "$work/rows")
ok "$(wc -l <"$work/rows") row(s), e.g. email=${row:33:60}..."

step "mTLS refusals at users-api, with OpenSSL 3.5 s_client"
# s_client_get PORT PATH [CERT KEY]: the HTTP status line, or the TLS failure.
s_client_get() {
  local port=$1 path=$2 args=(-connect "127.0.0.1:$1" -groups X25519MLKEM768 -CAfile "$work/mesh-ca.pem" -quiet -ign_eof)
  [[ $# -ge 4 ]] && args+=(-cert "$3" -key "$4")
  printf 'GET %s HTTP/1.1\r\nHost: users-api\r\nConnection: close\r\n\r\n' "$path" \
    | timeout 10 "$openssl" s_client "${args[@]}" 2>"$work/s_client.err" | head -1 | tr -d '\r' || true
}
issue() {  # name spiffe-sa ttl → name.key (made here by OpenSSL), name.crt (signed by qsafe); prints the serial
  "$openssl" req -new -newkey mldsa65 -nodes -keyout "$work/$1.key" -subj "/" -out "$work/$1.csr" 2>/dev/null
  q write pki/sign/workload csr=@"$work/$1.csr" uri_sans="$(spiffe "$2")" ttl="$3" --json >"$work/$1.json"
  python3 - "$work/$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1] + ".json"))["data"]
open(sys.argv[1] + ".crt", "w").write(d["certificate"] + "\n")
print(d["serial_number"])
EOF
}
issue ops ops 1h >"$work/ops.serial"
status=$(s_client_get "$u_port" /status "$work/ops.crt" "$work/ops.key")
[[ $status == "HTTP/1.1 200"* ]] || fail "s_client with a qsafe certificate: '$status' $(cat "$work/s_client.err")"
ok "s_client with a qsafe-issued ML-DSA-65 client certificate: $status"
status=$(s_client_get "$u_port" "/users/$user_id/status" "$work/ops.crt" "$work/ops.key")
[[ $status == "HTTP/1.1 403"* ]] || fail "ops on a gateway-only route: '$status'"
ok "a valid certificate whose identity is not allowed on /users: $status"
status=$(s_client_get "$u_port" /status)
[[ $status != HTTP* ]] || fail "no client certificate was served: $status"
ok "no client certificate: refused at the handshake"
# Another CA (OpenSSL's own ML-DSA-65 root) with a leaf claiming the gateway's identity.
"$openssl" req -x509 -newkey mldsa65 -nodes -keyout "$work/rogue-ca.key" -out "$work/rogue-ca.crt" \
  -subj "/CN=rogue root" -days 1 2>/dev/null
"$openssl" req -new -newkey mldsa65 -nodes -keyout "$work/rogue.key" -out "$work/rogue.csr" -subj "/CN=gateway" 2>/dev/null
printf 'subjectAltName=URI:%s\nextendedKeyUsage=clientAuth\n' "$(spiffe gateway)" >"$work/rogue.ext"
"$openssl" x509 -req -in "$work/rogue.csr" -CA "$work/rogue-ca.crt" -CAkey "$work/rogue-ca.key" \
  -days 1 -extfile "$work/rogue.ext" -out "$work/rogue.crt" 2>/dev/null
status=$(s_client_get "$u_port" /status "$work/rogue.crt" "$work/rogue.key")
[[ $status != HTTP* ]] || fail "a certificate from another CA was served: $status"
ok "a certificate from another CA (claiming the gateway's SPIFFE ID): refused"
issue expiring ops 2s >/dev/null
sleep 3
status=$(s_client_get "$u_port" /status "$work/expiring.crt" "$work/expiring.key")
[[ $status != HTTP* ]] || fail "an expired certificate was served: $status"
ok "an expired certificate: refused"
revoked_serial=$(issue revoked ops 1h)
status=$(s_client_get "$u_port" /status "$work/revoked.crt" "$work/revoked.key")
[[ $status == "HTTP/1.1 200"* ]] || fail "before revocation: '$status'"
q write pki/revoke serial_number="$revoked_serial" >/dev/null
# users-api refreshes the CRL every second here (MTLS_TRUST_REFRESH_SECONDS): refused within 10 s.
for _ in $(seq 1 20); do
  sleep 0.5
  status=$(s_client_get "$u_port" /status "$work/revoked.crt" "$work/revoked.key")
  [[ $status != HTTP* ]] && break
done
[[ $status != HTTP* ]] || fail "a revoked certificate was still served 10 s later: $status"
ok "a revoked certificate: served before, refused once the CRL refreshed"
for reason in no_certificate unknown_issuer expired revoked; do
  n=$(metric "$u_admin" "qsafe_mtls_handshake_failures_total{side=\"server\",reason=\"$reason\"}")
  ((n >= 1)) || fail "users-api did not count the $reason refusal"
done
ok "users-api counted them: $(admin_get "http://127.0.0.1:$u_admin/metrics" | grep -o 'reason="[a-z_]*"} [0-9]*' | tr '\n' ' ')"
grep -qE 'mTLS handshake refused.*peer="?spiffe://qsafe.local/ns/shop/sa/ops' "$work/users-api.log" \
  || fail "the refusal log does not name the peer"
ok "refusals logged with the peer's identity"

step "certificates rotate during $LOAD_SECONDS s of load, with no failed request"
rot_before=$(metric "$u_admin" qsafe_mtls_certificate_rotations_total)
hs_before=$(metric "$u_admin" qsafe_mtls_handshakes_total)
result=$(load --op create --seconds "$LOAD_SECONDS" --concurrency 4 --new-connections) || fail "load: $result"
ok "load: $result"
for svc in "gateway $g_admin" "users-api $u_admin" "notifications $n_admin"; do
  set -- $svc
  n=$(metric "$2" qsafe_mtls_certificate_rotations_total)
  ((n >= 2)) || fail "$1 rotated its certificate $n times during the load"
  ok "$1: $n rotations"
done
n=$(metric "$g_admin" qsafe_public_tls_certificate_rotations_total)
((n >= 2)) || fail "the gateway's public certificate rotated $n times"
ok "gateway public certificate: $n rotations"
hs=$(( $(metric "$u_admin" qsafe_mtls_handshakes_total) - hs_before ))
((hs >= 2)) || fail "no new mTLS handshakes at users-api during the load"
ok "users-api accepted $hs new mTLS handshakes during the load (rotations before: $rot_before)"

step "longer certificates before the outage"
# A qsafe outage longer than a certificate's remaining life would end the mesh: production
# certificates live 24 h and renew at 16 h. The demo's 20 s ones are lengthened to 10 min first
# (the workloads' cert_ttl, the public role's ttl), and the next renewals pick that up.
for w in gateway users-api notifications; do q write "identity/workload/$w" cert_ttl=10m >/dev/null; done
q write pki/roles/gateway-public ttl=10m >/dev/null
# Done when every certificate in use (mesh and public) ends more than 5 minutes from now.
for _ in $(seq 1 120); do
  pending=0
  later=$(( $(date +%s) + 300 ))
  for pair in "$g_admin:qsafe_mtls" "$u_admin:qsafe_mtls" "$n_admin:qsafe_mtls" "$g_admin:qsafe_public_tls"; do
    IFS=: read -r port prefix <<<"$pair"
    (( $(metric "$port" "${prefix}_certificate_expiry_timestamp_seconds") > later )) || pending=1
  done
  ((pending)) || break
  sleep 0.25
done
((pending == 0)) || fail "not every service renewed within 30 s"
ok "every service renewed onto a 10-minute certificate"

step "qsafe stopped: the services keep serving from their caches"
join_for_late=$(join_token notifications)
kill "$qsafe_pid"; wait "$qsafe_pid" 2>/dev/null || true
result=$(load --op "get:$user_id" --seconds 3 --concurrency 2 --new-connections) || fail "with qsafe down: $result"
ok "reads through gateway → users-api on new connections: $result"
down=$(load --call POST /users --body '{"email": "bob@example.com", "phone": "+1 555 0100", "date_of_birth": "1990-01-01"}')
[[ $down == "503 "*"unavailable"* ]] || fail "a create with qsafe down: $down"
ok "a create needing transit answers clearly: $down"
late_port=$(free_port); late_admin=$(free_port)
env QSAFE_JOIN_TOKEN_FILE="$join_for_late" LISTEN_ADDR="127.0.0.1:$late_port" ADMIN_ADDR="127.0.0.1:$late_admin" \
  USERS_API_ID="$(spiffe users-api)" MTLS_BACKOFF_MS=200 "$bin/notifications" >"$work/notifications-late.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 200); do
  state=$(admin_get "http://127.0.0.1:$late_admin/readyz")
  [[ $state == *'"failed"'* ]] && break
  sleep 0.1
done
[[ $state == "503 "*'"failed"'* ]] || fail "a service started with qsafe down: $state"
grep -q "mTLS start-up failed" "$work/notifications-late.log" || fail "the late service did not log its failure"
ok "a service started while qsafe is down: readiness $state"

step "qsafe back: new users again"
start_qsafe
for _ in $(seq 1 20); do
  back=$(load --call POST /users --body '{"email": "bob@example.com", "phone": "+1 555 0100", "date_of_birth": "1990-01-01"}')
  [[ $back == "201 "* ]] && break
  sleep 0.5
done
[[ $back == "201 "* ]] || fail "10 s after qsafe restarted: $back"
ok "$back"

printf '\nreference architecture: every check passed\n'
