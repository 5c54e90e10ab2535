#!/usr/bin/env bash
# Validates the manifests offline against the Kubernetes API schemas, strictly (unknown fields
# are errors), with kubernetes-validate from the test venv (scripts/test-deps.sh installs it),
# and checks that kustomization.yaml lists every manifest here.
#
# Not `kubectl apply --dry-run=client`: even in client mode kubectl asks an API server for its
# discovery documents and OpenAPI schema ("unable to recognize ...: connection refused" without
# one), and no API server can run on the build machines. With a cluster at hand, run
#   kubectl apply --dry-run=server -k examples/reference-architecture/deploy
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
validate="$root/.venv/bin/kubernetes-validate"
[[ -x $validate ]] || { echo "validate.sh: run scripts/test-deps.sh first (kubernetes-validate)" >&2; exit 1; }
cd "$here"
manifests=()
for f in *.yaml; do
  [[ $f == kustomization.yaml ]] || manifests+=("$f")
done
"$validate" --strict --quiet -k 1.32.0 "${manifests[@]}"
for f in "${manifests[@]}"; do
  grep -qE "^  - $f\$" kustomization.yaml || { echo "kustomization.yaml does not list $f" >&2; exit 1; }
done
echo "deploy/: ${#manifests[@]} manifests valid against Kubernetes 1.32 (strict), all in kustomization.yaml"
