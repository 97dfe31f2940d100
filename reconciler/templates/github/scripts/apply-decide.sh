#!/usr/bin/env bash
# Between planning and approval (GitHub's runner): only a cluster whose plan has changes, and
# whose commit is still the newest for it, goes on to the apply job, so no approver is asked
# to approve nothing, a superseded commit, or a plan that failed.
# Usage: apply-decide.sh CLUSTERS_JSON PLANS_DIR   (PLANS_DIR/apply-plan-NAME/ as the plan jobs
#   uploaded them; GITHUB_OUTPUT)
# Writes matrix (one line of JSON: the clusters to apply), count, and failed (true when a
# cluster's plan failed or is missing) to GITHUB_OUTPUT; one ::notice:: or ::error:: line per
# cluster. Exit: 0 (the workflow's last job fails the run when failed is true, after the
# clusters that can be applied were).
set -euo pipefail

clusters="$1"
plans="$2"
apply=()
failed=false
while IFS= read -r name; do
  dir="$plans/apply-plan-$name"
  code="$(cat "$dir/exit-code" 2> /dev/null || true)"
  if [ -s "$dir/superseded" ]; then
    echo "::notice::cluster $name: superseded by $(cat "$dir/superseded"); nothing to apply"
  elif [ "$code" = 2 ] && [ -s "$dir/plan.json" ]; then
    apply+=("$name")
  elif [ "$code" = 0 ]; then
    echo "::notice::cluster $name: converged; nothing to apply"
  else
    echo "::error::cluster $name: its plan failed (exit ${code:-none}); nothing is applied to it: see the plan job's log"
    failed=true
  fi
done < <(jq -r '.clusters[].name' "$clusters")
matrix="$("$(dirname "$0")/select-clusters.sh" "$clusters" "${apply[@]}")"
{
  echo "matrix=$matrix"
  echo "count=$(jq length <<< "$matrix")"
  echo "failed=$failed"
} >> "$GITHUB_OUTPUT"
