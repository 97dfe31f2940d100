#!/usr/bin/env bash
# The expiry workflow's first job (GitHub's runner, no secret): every cluster, each with
# whether a renewal is under way already (branch cms-reconciler/certs-NAME exists on origin),
# so that the check on the self-hosted runner needs no access to GitHub at all.
# Usage: expiry-clusters.sh OUT   (in a checkout of the default branch; GH_TOKEN for a private
#   repository; PLAN_RUNNER; GITHUB_OUTPUT)
# Writes OUT/clusters.json (`reconcile clusters` JSON, each cluster with "under_way") and matrix
# (one line of JSON) and count to GITHUB_OUTPUT. Exit: 1 when the runner variable is unusable.
set -euo pipefail

out="$1"
scripts="$(dirname "$0")"
mkdir -p "$out"
branches="$("$scripts/git-origin.sh" ls-remote 'refs/heads/cms-reconciler/certs-*' \
  | awk '{sub("^refs/heads/", "", $2); print $2}' | jq -R . | jq -sc .)"
reconcile clusters --format json \
  | jq -c --argjson branches "$branches" \
    '.clusters |= map(. + {under_way: (("cms-reconciler/certs-" + .name) as $b | $branches | index($b) != null)})' \
    > "$out/clusters.json"
matrix="$(jq -c '.clusters' "$out/clusters.json")"
count="$(jq 'length' <<< "$matrix")"
if [ "$count" -gt 0 ]; then
  "$scripts/runner-labels.sh" plan
fi
{
  echo "matrix=$matrix"
  echo "count=$count"
} >> "$GITHUB_OUTPUT"
