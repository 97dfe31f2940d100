#!/usr/bin/env bash
# Plan what the apply of one cluster will do, before anyone approves it: the plan (rehearsed on
# a twin of the live cluster) goes to the job summary, where the approver of the cluster's
# cms-CLUSTER-apply environment reads it, and to OUT/plan.json, the file the apply job then
# applies exactly (`reconcile apply --plan-file`: it refuses if the nodes changed meanwhile).
# Usage: apply-plan.sh CLUSTER SHA OUT   (the cluster's plan secrets exported; after
#   superseded.sh, whose OUT/superseded skips the plan)
# Writes OUT/exit-code (0 converged, 2 changes, 1 error), OUT/plan.md, OUT/plan.json.
# Exit: 1 when the plan failed, else 0.
set -euo pipefail

cluster="$1"
sha="$2"
out="$3"
mkdir -p "$out"
if [ -s "$out/superseded" ]; then
  echo "cluster $cluster: superseded by $(cat "$out/superseded"): not planned"
  exit 0
fi
set +e
reconcile plan --rehearse --cluster "$cluster" --ref "$sha" --format markdown \
  --out "$out/plan.json" > "$out/plan.md"
code=$?
set -e
echo "$code" > "$out/exit-code"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    echo "## Plan to approve for cms-$cluster-apply (commit ${sha:0:12})"
    echo
    cat "$out/plan.md"
  } >> "$GITHUB_STEP_SUMMARY"
fi
[ "$code" -ne 1 ]
