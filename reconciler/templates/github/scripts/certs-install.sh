#!/usr/bin/env bash
# The expiry workflow's last step before publishing a CA-signed renewal, on GitHub's runner in
# the cluster's environment (its secrets exported: `certs install` opens the new keys with the
# cluster's passphrase), in a clean checkout of main: the keys and CSRs of certs-prepare.sh
# (OUT_DIR/csr.patch) are applied, `reconcile certs install` pairs them with the certificates
# certs-sign.sh made and writes the bundle where the cluster file names it (refusing anything
# `validate` would refuse), and the result becomes OUT_DIR/renewal.patch: main -> new bundle
# (install removes the pending keys and CSRs, so they are not in it). OUT_DIR/action becomes
# `issue`, which certs-publish.sh turns into a pull request.
# A cluster whose OUT_DIR/action is not `csr` has nothing to install: the script says so and
# succeeds, so the job may run for every cluster.
# Usage: certs-install.sh CLUSTER OUT_DIR SIGNED_DIR   (SIGNED_DIR: certs-sign.sh's, with
# server.cer, client.cer and ca.cer)
# Exit: 0 installed, or nothing to install; 1 a signed file is missing, OUT_DIR or SIGNED_DIR
# is inside the checkout, the patch does not apply, or reconcile refused the certificates.
set -euo pipefail

cluster="$1"
out="$2"
signed="$3"
action="$(cat "$out/action" 2> /dev/null || true)"
if [ "$action" != csr ]; then
  echo "nothing to install for cluster $cluster (action: ${action:-none})"
  exit 0
fi
missing=()
for name in server.cer client.cer ca.cer; do
  [ -s "$signed/$name" ] || missing+=("$name")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "::error::cluster $cluster: $signed has no ${missing[*]}: did certs-sign.sh run?" >&2
  exit 1
fi
# OUT_DIR (and SIGNED_DIR) must be outside the checkout: `git add -A` would take them in.
top="$(realpath "$(git rev-parse --show-toplevel)")"
for dir in "$out" "$signed"; do
  case "$(realpath "$dir")/" in
    "$top"/*)
      echo "::error::$dir is inside the checkout ($top): give a folder outside it (\$RUNNER_TEMP/...)" >&2
      exit 1
      ;;
  esac
done
# The keys and CSRs of the check job, and nothing else (certs-only.sh).
"$(dirname "$0")/certs-only.sh" "$out/csr.patch"
git apply --index "$out/csr.patch"
reconcile certs install --cluster "$cluster" --server-cert "$signed/server.cer" \
  --client-cert "$signed/client.cer" --ca-cert "$signed/ca.cer" >> "$out/renewal.txt"
git add -A
git diff --cached --binary > "$out/renewal.patch"
echo "issue" > "$out/action"
