#!/usr/bin/env bash
# Is this run's commit still the newest commit of the default branch that changes the cluster?
# Runs of the apply workflow can start late, be re-run days later, or come out of the
# concurrency queue in any order: applying an older commit after a newer one would roll the
# cluster back. So before planning, and again once the apply is approved, the default branch is
# fetched and `reconcile clusters --changed-since THIS --ref origin/BRANCH` asked whether a later
# commit changes (or deletes) the cluster; if one does, this run changes nothing.
# Usage: superseded.sh CLUSTER SHA OUT   (in a full-history checkout; DEFAULT_BRANCH; GH_TOKEN
#   for a private repository)
# Writes OUT/superseded (the newer commit, or "deleted") when superseded.
# Exit: 0 current or superseded (say which); 1 when SHA is not on the branch any more (a force
#   push: nothing is applied, and a person should look).
set -euo pipefail

cluster="$1"
sha="$2"
out="$3"
branch="${DEFAULT_BRANCH:?DEFAULT_BRANCH is not set}"
mkdir -p "$out"
rm -f "$out/superseded"
"$(dirname "$0")/git-origin.sh" fetch "+refs/heads/$branch:refs/remotes/origin/$branch"
tip="refs/remotes/origin/$branch"
if ! git merge-base --is-ancestor "$sha" "$tip"; then
  echo "::error::commit $sha is not on $branch any more (was $branch force-pushed?): nothing is applied to cluster $cluster; apply its current commit with a manual run" >&2
  exit 1
fi
listing="$(reconcile clusters --changed-since "$sha" --ref "$tip" --cluster "$cluster" --format json)"
newer="$(jq -r '.clusters[0].last_change // empty' <<< "$listing")"
if [ -z "$newer" ] && jq -e --arg c "$cluster" '.removed | index($c)' <<< "$listing" > /dev/null; then
  newer=deleted
fi
if [ -n "$newer" ]; then
  printf '%s\n' "$newer" > "$out/superseded"
  if [ "$newer" = deleted ]; then
    message="cluster $cluster: superseded: a later commit of $branch deletes clusters/$cluster.yaml; nothing is applied"
  else
    message="cluster $cluster: superseded by $newer, a later commit of $branch that changes it; nothing is applied (that commit's run applies it)"
  fi
  echo "::notice::$message"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    echo "$message" >> "$GITHUB_STEP_SUMMARY"
  fi
else
  echo "cluster $cluster: $sha is the newest commit of $branch that changes it"
fi
