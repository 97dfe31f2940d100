#!/usr/bin/env bash
# The expiry workflow's check, on the runner that reaches the nodes (it reads, pushes nothing).
# `reconcile certs check` for one cluster decides: only when it says a renewal is due (exit 1),
# and none is under way on the cluster's branch, the renewal is made here, as a patch that
# certs-publish.sh pushes: a new bundle from the CA when CA_KEY is set (`certs issue`), else
# new keys and CSRs (`certs csr`). Keys are encrypted with the cluster's passphrase.
# Usage: certs-prepare.sh CLUSTER OUT_DIR   (in the checkout; the cluster's variables set)
#   CA_KEY, CA_CERT: PEM of the CA's key and certificate (chain); CA_KEY_PASSPHRASE if needed.
# Writes OUT_DIR/: exit-code, check.txt and, for a renewal, action (issue | csr | under-way),
# renewal.txt, renewal.patch and the CSRs.
set -euo pipefail

cluster="$1"
out="$2"
branch="cms-reconciler/certs-$cluster"
mkdir -p "$out"
set +e
reconcile certs check --cluster "$cluster" --out "$out/check.txt"
code=$?
set -e
echo "$code" > "$out/exit-code"
# Anything but "renew" (or a check that wrote nothing) is certs-publish.sh's to report.
if [ "$code" != 1 ] || [ ! -s "$out/check.txt" ]; then
  exit 0
fi
if git ls-remote --exit-code --heads origin "$branch" > /dev/null; then
  echo "under-way" > "$out/action"
  exit 0
fi
if [ -n "${CA_KEY:-}" ]; then
  ca="$(mktemp -d)"
  trap 'rm -rf "$ca"' EXIT
  printf '%s\n' "$CA_KEY" > "$ca/ca.key"
  printf '%s\n' "${CA_CERT:-}" > "$ca/ca.pem"
  passphrase=()
  if [ -n "${CA_KEY_PASSPHRASE:-}" ]; then
    passphrase=(--ca-key-passphrase-env CA_KEY_PASSPHRASE)
  fi
  reconcile certs issue --cluster "$cluster" --ca-cert "$ca/ca.pem" --ca-key "$ca/ca.key" \
    "${passphrase[@]}" > "$out/renewal.txt"
  echo "issue" > "$out/action"
else
  reconcile certs csr --cluster "$cluster" > "$out/renewal.txt"
  cp "certs/$cluster/csr/"*.csr "$out/"
  echo "csr" > "$out/action"
fi
git add -A
git diff --cached --binary > "$out/renewal.patch"
