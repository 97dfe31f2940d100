#!/usr/bin/env bash
# shellcheck disable=SC2016  # backticks in single quotes are markdown, not commands
# Validate and plan one cluster of a pull request: the desired state of the merge commit, the
# access of the default branch's tip (`--trusted-ref TRUSTED`: the variables, pins, hosts and
# ports its cluster file names, never the pull request's), the plan rehearsed on a twin of the live
# cluster. Runs where the cluster's secrets are (the cms-CLUSTER-plan environment, on the plan
# runner), or, for a cluster new in the pull request, on GitHub's runner with no secret at all
# (nothing of it is contacted; its keys are not opened).
# Usage: plan-cluster.sh CLUSTER MERGE TRUSTED HEAD OUT   (reconcile on PATH, in a checkout that
#   holds both commits)
# Writes OUT/: head (HEAD, the pull request's commit this plan is for), validate-code, exit-code
# (reconcile's: 0 converged, 2 changes, 1 error), pending ("access" when the plan is blocked only
# by access the pull request adds), plan.json, and comment.md: the plan comment,
# or, when reconcile stopped before a plan, a comment with its error (the markers are the ones
# reconcile writes, so the comment of the cluster is found and replaced the same way).
# Exit: 0 when validate passed and a plan was made (exit 0 or 2), else 1.
set -euo pipefail

cluster="$1"
merge="$2"
trusted="$3"
head="$4"
out="$5"
mkdir -p "$out"
printf '%s\n' "$head" > "$out/head"

set +e
reconcile validate --cluster "$cluster" --ref "$merge" --trusted-ref "$trusted" --format github
validated=$?
reconcile plan --rehearse --cluster "$cluster" --ref "$merge" --trusted-ref "$trusted" \
  --format markdown --out "$out/plan.json" > "$out/comment.md" 2> "$out/stderr.txt"
code=$?
set -e
cat "$out/stderr.txt" >&2
echo "$validated" > "$out/validate-code"
echo "$code" > "$out/exit-code"
# Blocked only by access the pull request adds (plan JSON `access.pending`): plan-report.sh
# lets the check pass, labelled, since only merging can let that access in.
if [ "$code" = 1 ] && [ -s "$out/plan.json" ] \
  && jq -e '.clusters | length == 1 and all(.access.pending == true)' "$out/plan.json" > /dev/null
then
  echo access > "$out/pending"
fi
if [ ! -s "$out/comment.md" ]; then
  {
    printf '<!-- cms-reconciler plan -->\n<!-- cms-reconciler plan: %s -->\n' "$cluster"
    printf '### cms-reconciler plan for `%s`: **could not plan**\n\n' "$cluster"
    printf 'Commit `%s`: `reconcile plan` stopped before a plan (exit %s):\n\n' "${head:0:12}" "$code"
    printf '```\n'
    sed 's/^```/ ```/' "$out/stderr.txt" | head -c 60000
    printf '\n```\n'
  } > "$out/comment.md"
fi
rm -f "$out/stderr.txt"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$out/comment.md" >> "$GITHUB_STEP_SUMMARY"
fi
[ "$validated" -eq 0 ] && { [ "$code" -eq 0 ] || [ "$code" -eq 2 ]; }
