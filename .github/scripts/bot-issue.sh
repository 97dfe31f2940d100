#!/usr/bin/env bash
# The number of the bot's own open issue with exactly TITLE (the newest, if there are several),
# or nothing: drift and renewal issues are found, edited and closed only when the bot made them
# ($CMS_RECONCILER_BOT_LOGIN, default github-actions[bot]; `name[bot]` for a GitHub App's token),
# never an issue anyone else opened with the same title.
# Usage: bot-issue.sh TITLE   (GH_TOKEN and GITHUB_REPOSITORY set; needs jq)
# Exit: 0 (found or not); gh's failure otherwise.
set -euo pipefail

title="$1"
bot="${CMS_RECONCILER_BOT_LOGIN:-github-actions[bot]}"
# gh's --jq takes no --arg: title and login go in as JSON string literals that jq itself quoted.
title_json="$(jq -n --arg value "$title" '$value')"
bot_json="$(jq -n --arg value "$bot" '$value')"
# Every page is read (`sed`, not `head`, which would close the pipe: gh dies of SIGPIPE).
gh api --paginate "repos/$GITHUB_REPOSITORY/issues?state=open&per_page=100" \
  --jq ".[] | select(.title == $title_json and .user.login == $bot_json
    and (.pull_request | not)) | .number" | sed -n 1p
