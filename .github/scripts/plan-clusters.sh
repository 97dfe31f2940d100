#!/usr/bin/env bash
# The plan workflow's first job, on GitHub's runner and without any secret: which clusters the
# pull request changes. The pull request is only data here: its merge commit (GitHub's
# refs/pull/N/merge) is fetched and read through `reconcile --ref`; the workflow, this script
# and `reconcile` are the default branch's. Access (hosts, ports, user, secret names, pins) is
# read at the tip of the default branch as fetched now (`--trusted-ref`): never at the merge
# commit's first parent, which a pull request into another branch (or an old commit of this one)
# could choose. Only pull requests into the default branch are planned, and the merge commit's
# first parent must be a commit of it; the changed clusters are those the merge changes against
# that parent, so a cluster that other pull requests changed meanwhile is not planned here.
# A cluster new in the pull request (its file is not on the default branch yet) is validated and
# planned right here, with an empty environment: its plan contacts nothing and needs no secret.
# The others go to the self-hosted runner.
# Usage: plan-clusters.sh PR_NUMBER HEAD_SHA OUT   (in a full-history checkout of the default
#   branch; DEFAULT_BRANCH; BASE_REF: the pull request's base branch; GH_TOKEN for a private
#   repository; PLAN_RUNNER; GITHUB_OUTPUT)
# Writes OUT/clusters.json (`reconcile clusters` JSON), OUT/results/plan-NAME/ for each new
# cluster (plan-cluster.sh), and merge, base (its first parent), trusted (the default branch's
# tip), matrix (the clusters for the self-hosted runner, one line of JSON) and count to
# GITHUB_OUTPUT.
# Exit: 1 when the pull request is not into the default branch or cannot be read (no merge
# commit: conflicts; a head that moved on; a base not on the default branch), or the runner
# variable is needed and unusable.
set -euo pipefail

pr="$1"
head="$2"
out="$3"
scripts="$(dirname "$0")"
branch="${DEFAULT_BRANCH:?DEFAULT_BRANCH is not set}"
if [ "${BASE_REF:-}" != "$branch" ]; then
  echo "::error::this pull request is into '${BASE_REF:-}', not $branch: only pull requests into $branch are planned (access is trusted only as $branch has it)" >&2
  exit 1
fi
mkdir -p "$out/results"
token="${GH_TOKEN:-}"
unset GH_TOKEN  # for git-origin.sh alone, never for reconcile reading the pull request

bare() {  # run with nothing of this job's environment but what finds and runs reconcile
  env -i PATH="$PATH" HOME="$HOME" LANG=C.UTF-8 "$@"
}

if ! GH_TOKEN="$token" "$scripts/git-origin.sh" fetch "+refs/pull/$pr/merge:refs/remotes/pull/$pr/merge" \
  "+refs/heads/$branch:refs/remotes/origin/$branch"; then
  echo "::error::refs/pull/$pr/merge could not be fetched: the pull request does not merge cleanly into $branch (resolve its conflicts and push again)" >&2
  exit 1
fi
merge="$(git rev-parse --verify "refs/remotes/pull/$pr/merge^{commit}")"
base="$(git rev-parse --verify "$merge^1")"
trusted="$(git rev-parse --verify "refs/remotes/origin/$branch^{commit}")"
merged_head="$(git rev-parse --verify "$merge^2")"
if [ "$merged_head" != "$head" ]; then
  echo "::error::refs/pull/$pr/merge merges $merged_head, not this run's head $head: a newer push moved the pull request on, and its own run plans it" >&2
  exit 1
fi
if ! git merge-base --is-ancestor "$base" "$trusted"; then
  echo "::error::the merge commit's base $base is not on $branch: only pull requests into $branch are planned (access is trusted only as $branch has it)" >&2
  exit 1
fi

bare reconcile clusters --changed-since "$base" --ref "$merge" --trusted-ref "$trusted" \
  --format json > "$out/clusters.json"
matrix="$(jq -c '[.clusters[] | select(.trusted)]' "$out/clusters.json")"
count="$(jq 'length' <<< "$matrix")"
if [ "$count" -gt 0 ]; then
  "$scripts/runner-labels.sh" plan
fi
while IFS= read -r name; do
  if [[ ! "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
    echo "::error::clusters/$name.yaml: a cluster file name must be letters, digits, '.', '_' and '-'" >&2
    continue
  fi
  bare "$scripts/plan-cluster.sh" "$name" "$merge" "$trusted" "$head" \
    "$out/results/plan-$name" || true
done < <(jq -r '.clusters[] | select(.trusted | not) | .name' "$out/clusters.json")

{
  echo "merge=$merge"
  echo "base=$base"
  echo "trusted=$trusted"
  echo "matrix=$matrix"
  echo "count=$count"
} >> "$GITHUB_OUTPUT"
