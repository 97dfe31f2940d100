#!/usr/bin/env bash
# Keep one open issue per drifted cluster: reconcile's plan exit code decides.
#   2 (the live cluster differs from git): open the issue, or update its body;
#   0 (converged): close it, if open, with a comment;
#   anything else: leave issues alone and fail, so the run shows red.
# Usage: drift-issue.sh CLUSTER EXIT_CODE BODY_FILE   (GH_TOKEN and GITHUB_REPOSITORY set)
set -euo pipefail

cluster="$1"
code="$2"
body_file="$3"
title="cms-reconciler: cluster $cluster has drifted from git"
existing="$(gh issue list --repo "$GITHUB_REPOSITORY" --state open --search "\"$title\" in:title" \
  --json number,title --jq ".[] | select(.title == \"$title\") | .number" | head -n1)"
case "$code" in
  2)
    if [ -n "$existing" ]; then
      gh issue edit "$existing" --repo "$GITHUB_REPOSITORY" --body-file "$body_file" > /dev/null
      echo "updated issue #$existing"
    else
      gh issue create --repo "$GITHUB_REPOSITORY" --title "$title" --body-file "$body_file"
    fi
    ;;
  0)
    if [ -n "$existing" ]; then
      gh issue close "$existing" --repo "$GITHUB_REPOSITORY" \
        --comment "Converged again: \`reconcile --plan --cluster $cluster\` is empty."
      echo "closed issue #$existing"
    fi
    ;;
  *)
    echo "::error::reconcile --plan --cluster $cluster failed (exit $code); see the plan job's log" >&2
    exit 1
    ;;
esac
