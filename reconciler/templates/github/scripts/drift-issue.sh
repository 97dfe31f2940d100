#!/usr/bin/env bash
# Keep one open issue per drifted cluster: reconcile's plan exit code decides.
#   2 (the live cluster differs from git): open the issue, or update its body;
#   0 (converged): close it, if open, with a comment;
#   anything else: leave issues alone and fail, so the run shows red.
# A cluster whose plan has changes but which is pending (pending.sh: a merged change waiting for
# its maintenance window, which the scheduled apply applies then) is not drift: its issue is
# neither opened nor updated, and the log says what it waits for.
# The cluster's issue is the open one with exactly its title that the bot opened: its author's
# login is $CMS_RECONCILER_BOT_LOGIN (default github-actions[bot], the login of the workflows'
# github.token; name[bot] for a GitHub App's token). An issue anyone else opened, whatever its
# title, is never edited or closed. Found in the REST listing (every page read, newest first),
# not by search: search is fuzzy and lags behind new issues.
# Usage: drift-issue.sh CLUSTER EXIT_CODE BODY_FILE   (GH_TOKEN, with statuses read, and
# GITHUB_REPOSITORY set; a full-history checkout, or ANCHOR: see pending.sh; needs jq)
# Exit: 0 issue opened, updated, closed or nothing to do; 1 the plan failed, or gh failed.
set -euo pipefail

cluster="$1"
code="$2"
body_file="$3"
title="cms-reconciler: cluster $cluster has drifted from git"
bot="${CMS_RECONCILER_BOT_LOGIN:-github-actions[bot]}"

open_issue() {  # the bot's own open issue with this title
  "$(dirname "$0")/bot-issue.sh" "$title"
}

case "$code" in
  2)
    waiting="$("$(dirname "$0")/pending.sh" get "$cluster")"
    if [ -n "$waiting" ]; then
      echo "cluster $cluster: waiting for its maintenance window: $waiting"
      exit 0
    fi
    existing="$(open_issue)"
    if [ -n "$existing" ]; then
      gh issue edit "$existing" --repo "$GITHUB_REPOSITORY" --body-file "$body_file" > /dev/null
      echo "updated issue #$existing"
    else
      gh issue create --repo "$GITHUB_REPOSITORY" --title "$title" --body-file "$body_file"
    fi
    ;;
  0)
    existing="$(open_issue)"
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
