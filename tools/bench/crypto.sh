#!/usr/bin/env bash
# qsafe-crypto's benchmarks: every operation through qsafe next to raw aws-lc-rs doing the same
# work, and the ratio of the two (see tools/bench/README.md).
#
#   tools/bench/crypto.sh                       interleaved measurement of every pair: about 30 s
#                                               plus the release build; the figures to quote
#   tools/bench/crypto.sh --criterion           criterion's suite and its report: about 5 minutes
#   tools/bench/crypto.sh --criterion --rounds 3    three criterion rounds, median ratio and range
#   tools/bench/crypto.sh --criterion ml-dsa    only criterion benchmarks whose name has "ml-dsa"
#   tools/bench/crypto.sh --criterion -- --strict   report options after "--" (crypto-report.py -h)
#
# Run it on an otherwise idle machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

if [[ ${1:-} != --criterion ]]; then
  if (($#)); then
    echo "crypto.sh: options ($*) need --criterion; the interleaved mode takes none" >&2
    exit 2
  fi
  exec cargo bench -p qsafe-crypto --bench primitives -- --interleaved
fi
shift
rounds=1
filter=()
report=()
while (($#)); do
  case $1 in
    --rounds)
      rounds=${2:?--rounds needs a number}
      shift 2
      ;;
    --)
      shift
      report=("$@")
      break
      ;;
    *)
      filter+=("$1")
      shift
      ;;
  esac
done

saved=$(mktemp -d)
trap 'rm -rf "$saved"' EXIT
for ((round = 1; round <= rounds; round++)); do
  echo "round $round of $rounds" >&2
  # Only this round's results count (criterion keeps results of earlier runs and of benchmarks
  # that no longer exist).
  since=$(date +%s)
  cargo bench -p qsafe-crypto --bench primitives -- "${filter[@]}" >&2
  python3 tools/bench/crypto-report.py --since "$since" --save "$saved/$round.json" >/dev/null
done
python3 tools/bench/crypto-report.py --rounds "$saved"/*.json "${report[@]}"
