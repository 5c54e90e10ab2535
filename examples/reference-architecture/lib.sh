# Shared by run.sh (the scenario) and bench.sh (the benchmark): building, PostgreSQL, qsafe dev,
# qsafe's configuration for the three services, and starting them. Sourced, not run; expects
# $root (the repository) and $here (this directory), and runs from $root.

PROFILE=${PROFILE:-debug}
CERT_TTL=${CERT_TTL:-20s}      # workload certificates: renewed at half their life (under renew_before), every ~10 s

step() { printf '\n==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() {
  printf '\nFAILED: %s\n' "$*" >&2
  for log in "$work"/*.log; do
    [[ -f $log ]] || continue
    printf '\n--- %s (last 25 lines)\n' "$(basename "$log")" >&2
    tail -n 25 "$log" >&2
  done
  exit 1
}

build() {
  step "build (cargo, $PROFILE)"
  local flags=(--locked -p qsafe -p qsafe-reference-architecture)
  [[ $PROFILE == release ]] && flags+=(--release)
  cargo build "${flags[@]}"
  bin="$root/target/$PROFILE"
  openssl="$root/.peers/bin/openssl"
  work=$(mktemp -d "${TMPDIR:-/tmp}/qsafe-refarch.XXXXXX")
  chmod 700 "$work"
}

pids=()
pg_dir=""
work=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n $pg_dir ]] && scripts/postgres.sh stop "$pg_dir"
  [[ -n $work ]] && rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# GET on a plain-HTTP admin port: prints "STATUS BODY".
admin_get() {
  python3 - "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except Exception as e:
    print(0, e)
EOF
}

# The value of one metric line (labels included in $2) on admin port $1; 0 when absent.
metric() {
  admin_get "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { v = $2 } END { print (v == "" ? 0 : v) }'
}

wait_ready() {  # name admin_port
  for _ in $(seq 1 300); do
    case $(admin_get "http://127.0.0.1:$2/readyz") in
      "200 "*) ok "$1 ready"; return 0 ;;
      *'"failed"'*) fail "$1 failed to start: $(admin_get "http://127.0.0.1:$2/readyz")" ;;
    esac
    sleep 0.1
  done
  fail "$1 not ready after 30 s"
}

start_postgres() {
  step "PostgreSQL (scripts/postgres.sh)"
  eval "$(scripts/postgres.sh start --fast)"
  pg_dir=$QSAFE_PG_DIR
  db_password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
  printf "CREATE ROLE users_api LOGIN PASSWORD '%s';\nCREATE DATABASE users OWNER users_api;\n" \
    "$db_password" | psql -q -v ON_ERROR_STOP=1 "$QSAFE_TEST_POSTGRES_URL" >/dev/null
  pg_port=${QSAFE_TEST_POSTGRES_URL##*:}; pg_port=${pg_port%%/*}
  db_url="postgres://users_api:$db_password@127.0.0.1:$pg_port/users"
  ok "database users on port $pg_port (its URL goes to qsafe KV only)"
}

start_qsafe() {
  "$bin/qsafe" dev --listen "127.0.0.1:$qport" --root-token "$root_token" --data-dir "$work/qsafe" \
    >>"$work/qsafe.log" 2>&1 &
  qsafe_pid=$!
  pids+=("$qsafe_pid")
  for _ in $(seq 1 300); do
    grep -q "qsafe dev server listening" "$work/qsafe.log" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "qsafe dev did not start"
}
first_qsafe() {
  step "qsafe dev"
  qport=$(free_port)
  root_token=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
  start_qsafe
  export QSAFE_ADDR="https://127.0.0.1:$qport" QSAFE_CACERT="$work/qsafe/ca.pem"
  ok "listening on $QSAFE_ADDR"
}
q() { QSAFE_TOKEN=$root_token "$bin/qsafe" "$@"; }
spiffe() { echo "spiffe://qsafe.local/ns/shop/sa/$1"; }

# configure [EXTRA_WORKLOAD...]: everything the services need; extra workloads get certificates only.
configure() {
  step "configure qsafe: PKI, transit keys, KV, policies, workloads, an OAuth client"
  q write sys/mounts/pki type=pki >/dev/null
  q write sys/mounts/transit type=transit >/dev/null
  q write pki/root/generate/internal common_name="shop mesh root" ttl=8760h --field certificate >"$work/mesh-ca.pem"
  q write pki/roles/workload allowed_uri_sans="spiffe://qsafe.local/ns/shop/*" require_cn=false \
    key_type=any server_flag=true client_flag=true max_ttl=24h not_before_duration=5s >/dev/null
  q write pki/roles/gateway-public allowed_domains=localhost allow_bare_domains=true allow_localhost=true \
    allow_ip_sans=true key_type=any server_flag=true client_flag=false ttl="$CERT_TTL" max_ttl=24h \
    not_before_duration=5s >/dev/null
  q write transit/keys/users-pii type=ml-kem-768 >/dev/null
  q write transit/keys/users-email-index type=hmac >/dev/null
  # Secrets reach qsafe on stdin, not on a command line other users can list.
  printf '%s' "$db_url" | q kv put secret/users-api/database url=- >/dev/null
  q policy write users-api - >/dev/null <<'EOF'
path "secret/data/users-api/*" { capabilities = ["read"] }
path "transit/encrypt/users-pii" { capabilities = ["update"] }
path "transit/decrypt/users-pii" { capabilities = ["update"] }
path "transit/hmac/users-email-index" { capabilities = ["update"] }
EOF
  q policy write gateway - >/dev/null <<'EOF'
path "pki/sign/gateway-public" { capabilities = ["update"] }
EOF
  for w in gateway users-api notifications "$@"; do
    policies=""; [[ $w == gateway || $w == users-api ]] && policies=$w
    q write "identity/workload/$w" namespace=shop service_account="$w" audiences=qsafe \
      pki_mount=pki cert_ttl="$CERT_TTL" policies="$policies" >/dev/null
  done
  (umask 077; q write identity/oidc/client/shop-frontend audiences=gateway --json >"$work/client.json")
  client_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["client_id"])' "$work/client.json")
  client_secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["client_secret"])' "$work/client.json")
  rm "$work/client.json"
  (umask 077; printf '%s' "$client_secret" | "$bin/qsafe" write identity/oidc/provider/default/token \
    grant_type=client_credentials client_id="$client_id" client_secret=- audience=gateway \
    --field access_token >"$work/token")
  ok "workloads gateway, users-api, notifications $* ($CERT_TTL certificates); token for the frontend ($(wc -c <"$work/token") bytes)"
}

join_token() {  # workload → a file holding a fresh join token
  local file
  file=$(mktemp "$work/$1.XXXXXX.join")
  q write "identity/workload/$1/join-token" --field join_token >"$file"
  echo "$file"
}

# start_service NAME BINARY LISTEN_PORT ADMIN_PORT [VAR=VALUE...]: the workload is BINARY, or
# $WORKLOAD when set.
start_service() {
  local name=$1 binary=$2 listen=$3 admin=$4
  shift 4
  env QSAFE_JOIN_TOKEN_FILE="$(join_token "${WORKLOAD:-$binary}")" LISTEN_ADDR="127.0.0.1:$listen" \
    ADMIN_ADDR="127.0.0.1:$admin" MTLS_CHECK_SECONDS=2 MTLS_TRUST_REFRESH_SECONDS=1 \
    RUST_LOG="${RUST_LOG:-info}" "$@" "$bin/$binary" >"$work/$name.log" 2>&1 &
  pids+=("$!")
}

