#!/usr/bin/env bash
# shellcheck disable=SC2016  # the backticks in single quotes are markdown, not commands
# The expiry workflow's report, on GitHub's runner: what certs-prepare.sh found for one cluster
# becomes a pull request, an issue, or nothing. reconcile's exit code and action decide:
#   1, issue:     push the new bundle as BRANCH and open a pull request (merging applies it);
#   1, csr:       push the keys and CSRs as BRANCH and open (or update) one issue with the CSRs;
#   1, under-way: BRANCH exists already (a renewal waits for review or for the CA): say so;
#   0:            nothing is due: close the cluster's renewal issue, if one is open;
#   anything else (3: a node or a file could not be checked; or no check): fail, so it shows red.
# Usage: certs-publish.sh CLUSTER OUT_DIR   (in a checkout that may push; GH_TOKEN and
# GITHUB_REPOSITORY set)
set -euo pipefail

cluster="$1"
out="$2"
code="$(cat "$out/exit-code" 2> /dev/null || echo none)"
action="$(cat "$out/action" 2> /dev/null || true)"
branch="cms-reconciler/certs-$cluster"
title="cms-reconciler: the certificates of cluster $cluster need renewal"

open_issue() {
  gh issue list --repo "$GITHUB_REPOSITORY" --state open --search "\"$title\" in:title" \
    --json number,title --jq ".[] | select(.title == \"$title\") | .number" | head -n1
}

push_branch() {
  git switch --quiet -c "$branch"
  git apply --index "$out/renewal.patch"
  git -c user.name="github-actions[bot]" \
    -c user.email="41898282+github-actions[bot]@users.noreply.github.com" \
    commit --quiet -m "$1"
  git push --quiet origin "$branch"
}

# What reconcile said: the check, then the renewal it made.
report() {
  printf '%s\n\n```\n' "$1"
  cat "$out/check.txt"
  printf '```\n\n```\n'
  cat "$out/renewal.txt"
  printf '```\n'
}

case "$code:$action" in
  1:issue)
    push_branch "Renew the certificates of cluster $cluster"
    report "\`reconcile certs check\` found certificates of cluster \`$cluster\` expired or \
due for renewal; \`reconcile certs issue\` made the new bundle on this branch. Merging applies \
the rotation." > "$out/body.md"
    gh pr create --repo "$GITHUB_REPOSITORY" --head "$branch" \
      --title "cms-reconciler: renew the certificates of cluster $cluster" --body-file "$out/body.md"
    ;;
  1:csr)
    push_branch "Keys and CSRs to renew the certificates of cluster $cluster"
    {
      report "\`reconcile certs check\` found certificates of cluster \`$cluster\` expired or \
due for renewal. New keys (encrypted) and CSRs are on branch \`$branch\`: have the CSRs below \
signed, then on that branch run \`reconcile certs install\` as shown, commit, push and open a \
pull request."
      for csr in "$out"/*.csr; do
        printf '\n`%s`:\n\n```\n' "$(basename "$csr")"
        cat "$csr"
        printf '```\n'
      done
    } > "$out/body.md"
    existing="$(open_issue)"
    if [ -n "$existing" ]; then
      gh issue edit "$existing" --repo "$GITHUB_REPOSITORY" --body-file "$out/body.md" > /dev/null
      echo "updated issue #$existing"
    else
      gh issue create --repo "$GITHUB_REPOSITORY" --title "$title" --body-file "$out/body.md"
    fi
    ;;
  1:under-way)
    echo "cluster $cluster: a renewal is under way on branch $branch (delete the branch once merged)"
    ;;
  0:*)
    existing="$(open_issue)"
    if [ -n "$existing" ]; then
      gh issue close "$existing" --repo "$GITHUB_REPOSITORY" \
        --comment "Renewed: \`reconcile certs check --cluster $cluster\` finds nothing due."
      echo "closed issue #$existing"
    fi
    ;;
  *)
    echo "::error::reconcile certs check --cluster $cluster did not finish (exit $code); see the check job's log" >&2
    exit 1
    ;;
esac
