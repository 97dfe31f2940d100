#!/usr/bin/env bash
# Between the check and the CA (GitHub's runner): the clusters whose check made CSRs. Only for
# those does the signing job run in the cms-ca environment, so the CA key leaves GitHub's
# secret store only on a day a renewal is due, and only for the clusters that need it.
# Usage: expiry-due.sh CLUSTERS_JSON RESULTS_DIR   (RESULTS_DIR/expiry-NAME/ as the check jobs
#   uploaded them; GITHUB_OUTPUT)
# Writes matrix (one line of JSON: the clusters to sign) and count to GITHUB_OUTPUT. Exit: 0.
set -euo pipefail

clusters="$1"
results="$2"
due=()
while IFS= read -r name; do
  if [ "$(cat "$results/expiry-$name/action" 2> /dev/null || true)" = csr ]; then
    due+=("$name")
  fi
done < <(jq -r '.clusters[].name' "$clusters")
matrix="$("$(dirname "$0")/select-clusters.sh" "$clusters" "${due[@]}")"
{
  echo "matrix=$matrix"
  echo "count=$(jq length <<< "$matrix")"
} >> "$GITHUB_OUTPUT"
