#!/usr/bin/env bash
# Every cluster of the default branch, for a scheduled job on the plan runner (drift): the
# matrix, with the literal secret names each cluster's environment holds.
# Usage: all-clusters.sh OUT   (in a checkout of the default branch; PLAN_RUNNER; GITHUB_OUTPUT)
# Writes OUT/clusters.json, and matrix (one line of JSON) and count to GITHUB_OUTPUT.
# Exit: 1 when the runner variable is unusable.
set -euo pipefail

out="$1"
mkdir -p "$out"
reconcile clusters --format json > "$out/clusters.json"
matrix="$(jq -c '.clusters' "$out/clusters.json")"
count="$(jq 'length' <<< "$matrix")"
if [ "$count" -gt 0 ]; then
  "$(dirname "$0")/runner-labels.sh" plan
fi
{
  echo "matrix=$matrix"
  echo "count=$count"
} >> "$GITHUB_OUTPUT"
