#!/usr/bin/env bash
# The expiry workflow's check of one cluster, on the runner that reaches the nodes (the
# cluster's secrets exported; it reads the nodes and pushes nothing). `reconcile certs check`
# decides: only when it says a renewal is due (exit 1) and none is under way already, new keys
# and CSRs are made here (`reconcile certs csr`, the keys encrypted with the cluster's
# passphrase), as a patch for the later jobs. No CA key ever reaches this runner: the CSRs are
# signed by certs-sign.sh in the `cms-ca` environment on GitHub's runners, or by a person.
#   UNDER_WAY   true when branch cms-reconciler/certs-CLUSTER exists on origin already (the
#               workflow finds out; a renewal is then waiting for review or for the CA, and
#               nothing new is made), else false
# Usage: certs-prepare.sh CLUSTER OUT_DIR   (in the checkout of main; UNDER_WAY set)
# Writes OUT_DIR/: exit-code (of the check: 0 nothing due, 1 renewal due, 3 not everything
# could be checked), check.txt, check.json (`--format json`: days left per certificate) and,
# when a renewal is due, action: `under-way`, or `csr` with renewal.txt (what csr said),
# server.csr, client.csr and csr.patch (the new keys and CSRs, `git apply --index`-able on main).
# Exit: 0 (the check's verdict is in OUT_DIR for certs-publish.sh); 1 UNDER_WAY is not
# true|false, OUT_DIR is inside the checkout (`git add -A` would take it in), or making the
# CSRs failed.
set -euo pipefail

cluster="$1"
out="$2"
case "${UNDER_WAY:-}" in
  true | false) ;;
  *)
    echo "::error::UNDER_WAY must be true or false (does branch cms-reconciler/certs-$cluster exist on origin?), not '${UNDER_WAY:-}'" >&2
    exit 1
    ;;
esac
mkdir -p "$out"
# OUT_DIR must be outside the checkout: `git add -A` would take it in.
top="$(realpath "$(git rev-parse --show-toplevel)")"
case "$(realpath "$out")/" in
  "$top"/*)
    echo "::error::$out is inside the checkout ($top): give a folder outside it (\$RUNNER_TEMP/...)" >&2
    exit 1
    ;;
esac
set +e
reconcile certs check --cluster "$cluster" --out "$out/check.txt"
code=$?
# The same check as data, for the days left (certs-publish.sh); its verdict is the one above.
reconcile certs check --cluster "$cluster" --format json --out "$out/check.json"
set -e
echo "$code" > "$out/exit-code"
# Anything but "renew" (or a check that wrote nothing) is certs-publish.sh's to report.
if [ "$code" != 1 ] || [ ! -s "$out/check.txt" ]; then
  exit 0
fi
if [ "$UNDER_WAY" = true ]; then
  echo "under-way" > "$out/action"
  exit 0
fi
reconcile certs csr --cluster "$cluster" > "$out/renewal.txt"
cp "certs/$cluster/csr/server.csr" "certs/$cluster/csr/client.csr" "$out/"
git add -A
git diff --cached --binary > "$out/csr.patch"
echo "csr" > "$out/action"
