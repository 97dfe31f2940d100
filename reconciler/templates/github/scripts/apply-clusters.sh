#!/usr/bin/env bash
# The apply workflow's first job (GitHub's runner, no secret): which clusters to apply. A push
# applies the clusters the pushed commits change; a manual run, the cluster it names (or all).
# Apply runs only from the default branch (the workflow's `if:` and the environments' branch
# policies), and only on runners whose labels the repository set explicitly.
# Usage: apply-clusters.sh OUT   (in a full-history checkout of the pushed commit; BEFORE: the
#   push's github.event.before, empty for a manual run; ONLY: a manual run's cluster input;
#   PLAN_RUNNER, APPLY_RUNNER; GITHUB_OUTPUT)
# Writes OUT/clusters.json and matrix (one line of JSON: the clusters) and count to
# GITHUB_OUTPUT. Exit: 1 when the runner variables are unusable or reconcile refuses.
set -euo pipefail

out="$1"
scripts="$(dirname "$0")"
mkdir -p "$out"
before="${BEFORE:-}"
only="${ONLY:-}"
if [ -n "$only" ]; then
  reconcile clusters --cluster "$only" --format json > "$out/clusters.json"
elif [ -z "$before" ] || [[ "$before" =~ ^0+$ ]]; then
  reconcile clusters --format json > "$out/clusters.json"  # a new branch: every cluster
else
  reconcile clusters --changed-since "$before" --format json > "$out/clusters.json"
fi
matrix="$(jq -c '.clusters' "$out/clusters.json")"
count="$(jq 'length' <<< "$matrix")"
if [ "$count" -gt 0 ]; then
  "$scripts/runner-labels.sh" apply
fi
while IFS= read -r removed; do
  echo "::notice::clusters/$removed.yaml was deleted: cluster $removed is no longer managed (nothing is sent to its nodes)"
done < <(jq -r '.removed // [] | .[]' "$out/clusters.json")
{
  echo "matrix=$matrix"
  echo "count=$count"
} >> "$GITHUB_OUTPUT"
