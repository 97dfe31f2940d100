#!/usr/bin/env bash
# Create or update, in place, the one comment on an issue or pull request that starts with a
# hidden marker (reconcile's `<!-- cms-reconciler plan: NAME -->`, or `apply: NAME`), so that
# every push to a pull request edits the cluster's plan comment instead of adding another.
# Only a comment the bot wrote is ever edited: its author's login must be
# $CMS_RECONCILER_BOT_LOGIN (default github-actions[bot], the login of the workflows'
# github.token; name[bot] for a GitHub App's token). Anyone can write our markers in a comment
# of their own, and that comment is never touched: a new one is created instead.
# Usage: sticky-comment.sh NUMBER BODY_FILE   (GH_TOKEN and GITHUB_REPOSITORY set; needs jq)
# Exit: 0 created or updated; 1 BODY_FILE has no cluster marker, or gh failed.
set -euo pipefail

number="$1"
body_file="$2"
bot="${CMS_RECONCILER_BOT_LOGIN:-github-actions[bot]}"
# The cluster's own marker (`plan: lab`, `apply: lab`), not the generic first line: reconcile
# writes it as a whole line among the first two (names are letters, digits, `.`, `_`, `-`).
marker="$(head -n2 "$body_file" | grep -m1 -xE '<!-- cms-reconciler [a-z]+: [A-Za-z0-9._-]+ -->' || true)"
if [ -z "$marker" ]; then
  echo "::error::$body_file has no cms-reconciler marker" >&2
  exit 1
fi
# gh's --jq takes no --arg: the login and the marker go into the expression as JSON string
# literals that jq itself quoted, so no character of theirs can change the expression.
bot_json="$(jq -n --arg value "$bot" '$value')"
marker_json="$(jq -n --arg value "$marker" '$value')"
# Only the bot's comment with the marker as one of its first two lines: one that merely quotes
# it (someone else's, or another comment's error output) is never overwritten. `sed` reads
# every page: `head -n1` would exit early and gh, writing a later page, would die of SIGPIPE.
existing="$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$number/comments" \
  --jq ".[] | select(.user.login == $bot_json)
    | select(.body | split(\"\n\") | .[:2] | any(. == $marker_json)) | .id" | sed -n 1p)"
if [ -n "$existing" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" \
    -F "body=@$body_file" > /dev/null
  echo "updated comment $existing"
else
  gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$number/comments" \
    -F "body=@$body_file" > /dev/null
  echo "created a comment on #$number"
fi
