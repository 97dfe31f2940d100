#!/usr/bin/env bash
# The apply workflow's first job (GitHub's runner, no secret): which clusters to apply. A push
# applies the clusters the pushed commits change; a manual run, the cluster it names (or all); a
# scheduled run, the pending clusters (pending.sh: merged changes deferred to their maintenance
# windows), planned again at the default branch's tip.
# Apply runs only from the default branch (the workflow's `if:` and the environments' branch
# policies), and only on runners whose labels the repository set explicitly.
# Usage: apply-clusters.sh OUT   (in a full-history checkout of the pushed commit; BEFORE: the
#   push's github.event.before, empty for a manual run; ONLY: a manual run's cluster input;
#   EVENT: github.event_name; PENDING: on schedule, `pending.sh read`'s JSON, as the pending job
#   read it; PLAN_RUNNER, APPLY_RUNNER; GITHUB_OUTPUT)
# Writes OUT/clusters.json and matrix (one line of JSON: the clusters) and count to
# GITHUB_OUTPUT. Exit: 1 when the runner variables are unusable, reconcile refuses, or a
# scheduled run has no pending list (the pending job failed).
set -euo pipefail

out="$1"
scripts="$(dirname "$0")"
mkdir -p "$out"
before="${BEFORE:-}"
only="${ONLY:-}"
if [ "${EVENT:-}" = schedule ]; then
  pending="${PENDING:-}"
  if ! jq -e 'type == "object"' <<< "${pending:-null}" > /dev/null 2>&1; then
    echo "::error::the pending clusters could not be read (see the pending job): nothing is applied on schedule" >&2
    exit 1
  fi
  reconcile clusters --format json \
    | jq --argjson pending "$pending" '{clusters: [.clusters[] | select(.name as $n | $pending | has($n))]}' \
      > "$out/clusters.json"
  while IFS=$'\t' read -r name says; do
    if jq -e --arg n "$name" '.clusters | any(.name == $n)' "$out/clusters.json" > /dev/null; then
      echo "cluster $name: pending ($says): planned again"
    else
      echo "::notice::cluster $name: pending, but clusters/$name.yaml is gone: nothing is applied to it"
    fi
  done < <(jq -r 'to_entries[] | [.key, .value.description] | @tsv' <<< "$pending")
elif [ -n "$only" ]; then
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
