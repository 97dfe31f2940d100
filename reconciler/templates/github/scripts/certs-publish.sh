#!/usr/bin/env bash
# shellcheck disable=SC2016  # the backticks in single quotes are markdown, not commands
# The expiry workflow's report, on GitHub's runner (contents, issues and pull-requests write):
# what the earlier jobs found and made for one cluster becomes a pull request, an issue, or
# nothing. The check's exit code and OUT_DIR/action decide:
#   1, issue:     certs-install.sh made the new bundle (OUT_DIR/renewal.patch): push it as
#                 BRANCH and open a pull request (merging applies the rotation);
#   1, csr:       nobody signed the CSRs here: push the keys and CSRs (OUT_DIR/csr.patch) as
#                 BRANCH and open, or update, one issue with the CSRs and what to run;
#   1, under-way: BRANCH existed already: fine while a pull request from it, or the renewal
#                 issue, is open (someone is asked to finish), until 14 days before the soonest
#                 expiry: then it fails every day, URGENT, until merged; with neither the renewal has
#                 stalled silently (typically: Actions may not open pull requests, so the branch
#                 was pushed and `gh pr create` failed), which fails, the louder the nearer the
#                 soonest expiry of a due certificate (OUT_DIR/check.json): "renewal stalled",
#                 then URGENT (14 days or fewer), then EXPIRED;
#   0:            nothing is due: close the cluster's renewal issue, if one is open;
#   anything else (3: a node or a file could not be checked; or no check): fail, so it shows red.
# BRANCH is cms-reconciler/certs-CLUSTER. The renewal issue is the open one with exactly its
# title that the bot opened ($CMS_RECONCILER_BOT_LOGIN, default github-actions[bot]; name[bot]
# for a GitHub App's token): an issue anyone else opened is never edited or closed.
# When GitHub refuses to open the pull request (e.g. "GitHub Actions is not permitted to create
# or approve pull requests"), the script fails saying so and how to fix it; the branch is
# pushed by then, so the next day's run finds the renewal stalled and repeats the advice.
# Usage: certs-publish.sh CLUSTER OUT_DIR   (in a checkout of main that may push; GH_TOKEN and
# GITHUB_REPOSITORY set; needs jq)
# A patch that changes anything outside certs/ is refused before anything is pushed.
# Exit: 0 published, waiting, or nothing due; 1 the check failed, the renewal stalled or waits
# too close to expiry, a patch touches more than certificates, or GitHub refused the pull request.
set -euo pipefail

cluster="$1"
out="$2"
code="$(cat "$out/exit-code" 2> /dev/null || echo none)"
action="$(cat "$out/action" 2> /dev/null || true)"
branch="cms-reconciler/certs-$cluster"
title="cms-reconciler: the certificates of cluster $cluster need renewal"
bot="${CMS_RECONCILER_BOT_LOGIN:-github-actions[bot]}"
owner="${GITHUB_REPOSITORY%%/*}"
how_to_open="open the pull request by hand from branch $branch, or let GitHub Actions create pull requests (Settings > Actions > General > Workflow permissions, 'Allow GitHub Actions to create and approve pull requests'; an organisation may have to allow it first) or set the secret CMS_RECONCILER_PR_TOKEN"

open_issue() {  # the bot's own open issue with this title
  "$(dirname "$0")/bot-issue.sh" "$title"
}

# An open pull request from BRANCH of this repository, whoever opened it (by hand, too).
open_pull() {
  gh api "repos/$GITHUB_REPOSITORY/pulls?state=open&head=$owner:$branch" --jq '.[].number' \
    | sed -n 1p
}

push_branch() {
  "$(dirname "$0")/certs-only.sh" "$1"
  git switch --quiet -c "$branch"
  git apply --index "$1"
  git -c user.name="github-actions[bot]" \
    -c user.email="41898282+github-actions[bot]@users.noreply.github.com" \
    commit --quiet -m "$2"
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

# The soonest expiry, in days, among the certificates of this cluster that are due or expired;
# empty when check.json is missing or says nothing.
days_left() {
  jq -r --arg cluster "$cluster" '[.certificates[]?
    | select(.cluster == $cluster and (.renewal_due or .expired)) | .days_left | numbers]
    | min // empty' "$out/check.json" 2> /dev/null || true
}

stalled() {
  local days level
  days="$(days_left)"
  if [ -z "$days" ]; then
    level="renewal stalled (days left unknown: $out/check.json says nothing)"
  elif [ "$days" -le 0 ]; then
    level="EXPIRED: renewal stalled, $days days left: the cluster stops replicating when its certificates expire"
  elif [ "$days" -le 14 ]; then
    level="URGENT: renewal stalled, $days days left"
  else
    level="renewal stalled: $days days left"
  fi
  echo "::error title=Certificate renewal of cluster $cluster stalled::$level. Branch $branch exists, but no pull request from it and no renewal issue is open, so nobody is asked to finish the renewal (a common cause: GitHub Actions may not create pull requests here, so the branch was pushed and opening the pull request failed). To finish it, $how_to_open; or delete the branch, and the next run starts the renewal over." >&2
  exit 1
}

# A renewal under way, waiting for people: fine until 14 days before the soonest expiry, then
# the run fails every day until it is merged (an open pull request, even a draft someone else
# opened from the branch, must not hold a renewal off silently until the certificates expire).
waiting() {
  local days
  days="$(days_left)"
  if [ -n "$days" ] && [ "$days" -le 14 ]; then
    echo "::error title=Certificate renewal of cluster $cluster not merged::URGENT: $days days left and the renewal still waits on $1: finish and merge it, or the cluster stops replicating when its certificates expire." >&2
    exit 1
  fi
  echo "cluster $cluster: a renewal is under way: $1${days:+ ($days days left)}"
  exit 0
}

case "$code:$action" in
  1:issue)
    push_branch "$out/renewal.patch" "Renew the certificates of cluster $cluster"
    report "\`reconcile certs check\` found certificates of cluster \`$cluster\` expired or \
due for renewal: \`reconcile certs csr\` made new keys, the CA signed them (\`reconcile certs \
sign\`) and \`reconcile certs install\` put the new bundle on this branch. Merging applies the \
rotation." > "$out/body.md"
    refusal="$(mktemp)"
    if ! gh pr create --repo "$GITHUB_REPOSITORY" --head "$branch" \
      --title "cms-reconciler: renew the certificates of cluster $cluster" \
      --body-file "$out/body.md" 2> "$refusal"; then
      cat "$refusal" >&2
      reason="$(tr -s '\r\n' '  ' < "$refusal")"
      echo "::error title=No pull request for the renewal of cluster $cluster::GitHub refused to open the pull request (${reason% }). The new bundle is on branch $branch: $how_to_open." >&2
      exit 1
    fi
    ;;
  1:csr)
    push_branch "$out/csr.patch" "Keys and CSRs to renew the certificates of cluster $cluster"
    {
      report "\`reconcile certs check\` found certificates of cluster \`$cluster\` expired or \
due for renewal. New keys (encrypted) and CSRs are on branch \`$branch\`: have the CSRs below \
signed, then on that branch run \`reconcile certs install\` as shown, commit, push and open a \
pull request."
      for csr in server.csr client.csr; do
        printf '\n`%s`:\n\n```\n' "$csr"
        cat "$out/$csr"
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
    pull="$(open_pull)"
    if [ -n "$pull" ]; then
      waiting "pull request #$pull from branch $branch"
    fi
    existing="$(open_issue)"
    if [ -n "$existing" ]; then
      waiting "issue #$existing, which asks for the CSRs on branch $branch to be signed"
    fi
    stalled
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
