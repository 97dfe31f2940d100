#!/usr/bin/env bash
# A cluster whose merged change waits for its maintenance window is "pending": the scheduled
# apply (apply.yml on schedule) plans and applies only those, and drift does not report them.
# The store is a commit status, context cms-reconciler/pending/NAME, on one fixed commit: the
# first commit of the default branch's first-parent line (its root; ANCHOR overrides), state
# pending with reconcile's sentence ("deferred: outside the maintenance windows; the next
# opens ...") as its description and the merged pull request as its link; success (applied or
# converged) or failure (the apply failed: a person looks) ends it. Why this store:
# - it outlives runs and needs no branch, file or cache that a pull request could write: only
#   apply's report job writes it, on GitHub's runner with the bot's token (statuses: write);
# - only the bot's own statuses count (creator $CMS_RECONCILER_BOT_LOGIN, default
#   github-actions[bot]; name[bot] for a GitHub App): anyone with write access can post a
#   status, and one of theirs must neither hide a drift nor stop a pending apply;
# - one read lists every cluster's (a status on each cluster's newest commit would need that
#   commit found, walking the history, for every cluster on every scheduled run); GitHub keeps
#   1000 statuses per commit and context, and this writes only when the state or the sentence
#   (without its trailing ", in 3 days") changes, twice or so per deferred change.
# Usage (GH_TOKEN, GITHUB_REPOSITORY; in a full-history checkout of the default branch unless
#   ANCHOR is set; needs jq):
#   pending.sh read                    JSON {NAME: {description, target_url}} of the pending
#   pending.sh output                  the same as `pending` in GITHUB_OUTPUT, and a line each
#   pending.sh get NAME                NAME's description if pending, else nothing
#   pending.sh set NAME DESCRIPTION [URL]   mark NAME pending (DESCRIPTION cut to 140 chars)
#   pending.sh end NAME success|failure DESCRIPTION   end NAME's pending, if it is
# Exit: 0; 1 when the anchor cannot be found (a shallow clone) or gh fails; 2 bad usage.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) (no anchor, gh) stops the script too

prefix="cms-reconciler/pending/"
bot="${CMS_RECONCILER_BOT_LOGIN:-github-actions[bot]}"

anchor() {
  if [ -n "${ANCHOR:-}" ]; then
    echo "$ANCHOR"
    return
  fi
  if [ "$(git rev-parse --is-shallow-repository)" != false ]; then
    echo "::error::pending.sh needs the default branch's full history (actions/checkout with fetch-depth: 0) to find its first commit" >&2
    return 1
  fi
  git rev-list --first-parent --max-parents=0 HEAD | tail -n1
}

read_all() {  # {NAME: {state, description, target_url}}: the bot's newest status per cluster
  local sha bot_json prefix_json
  sha="$(anchor)" || return 1
  # gh's --jq takes no --arg: login and prefix go in as JSON string literals jq itself quoted.
  bot_json="$(jq -n --arg value "$bot" '$value')"
  prefix_json="$(jq -n --arg value "$prefix" '$value')"
  # Newest first, as GitHub lists them; each page is filtered on its own, so the newest per
  # context is chosen afterwards over every page.
  gh api --paginate "repos/$GITHUB_REPOSITORY/commits/$sha/statuses?per_page=100" \
    --jq ".[] | select(.creator.login == $bot_json and (.context | startswith($prefix_json)))
      | {name: (.context | ltrimstr($prefix_json)), state, description: (.description // \"\"),
         target_url: (.target_url // \"\")} | tojson" \
    | jq -s 'reduce .[] as $s ({}; if has($s.name) then . else .[$s.name] = ($s | del(.name)) end)'
}

clip() {  # GitHub takes at most 140 characters of description
  jq -rn --arg text "$1" 'if ($text | length) > 140 then $text[:139] + "…" else $text end'
}

pending_only() {  # read_all's pending clusters, without their state
  read_all | jq -c 'with_entries(select(.value.state == "pending") | .value |= del(.state))'
}

post() {  # NAME STATE DESCRIPTION URL
  local sha body
  sha="$(anchor)" || return 1
  body="$(mktemp)"
  jq -n --arg context "$prefix$1" --arg state "$2" --arg description "$(clip "$3")" \
    --arg url "$4" '{state: $state, context: $context, description: $description}
      + (if $url == "" then {} else {target_url: $url} end)' > "$body"
  gh api --method POST "repos/$GITHUB_REPOSITORY/statuses/$sha" --input "$body" > /dev/null
  rm -f "$body"
}

stem() {  # the sentence without its trailing ", in 3 days" (it changes every run)
  sed -E 's/, in [^,;]*$//' <<< "$1"
}

usage() {
  echo "usage: pending.sh read | get NAME | set NAME DESCRIPTION [URL] | end NAME success|failure DESCRIPTION" >&2
  exit 2
}

command="${1:-}"
case "$command" in
  read)
    pending_only
    ;;
  output)
    pending="$(pending_only)"
    echo "pending=$pending" >> "$GITHUB_OUTPUT"
    jq -r 'to_entries[] | "cluster \(.key): pending (\(.value.description))"' <<< "$pending"
    if [ "$pending" = "{}" ]; then
      echo "no cluster is pending"
    fi
    ;;
  get)
    [ $# -eq 2 ] || usage
    read_all | jq -r --arg name "$2" '.[$name] | select(.state == "pending") | .description'
    ;;
  set)
    [ $# -eq 3 ] || [ $# -eq 4 ] || usage
    name="$2"
    description="$3"
    url="${4:-}"
    current="$(read_all | jq -c --arg name "$2" '.[$name] // {}')"
    url="${url:-$(jq -r '.target_url // ""' <<< "$current")}"
    if [ "$(jq -r '.state // ""' <<< "$current")" = pending ] \
      && [ "$(stem "$(jq -r '.description' <<< "$current")")" = "$(stem "$(clip "$description")")" ] \
      && [ "$(jq -r '.target_url' <<< "$current")" = "$url" ]; then
      echo "cluster $name: still pending ($description)"
    else
      post "$name" pending "$description" "$url"
      echo "cluster $name: pending ($description)"
    fi
    ;;
  end)
    [ $# -eq 4 ] || usage
    case "$3" in success | failure) ;; *) usage ;; esac
    current="$(read_all | jq -c --arg name "$2" '.[$name] // {}')"
    if [ "$(jq -r '.state // ""' <<< "$current")" = pending ]; then
      post "$2" "$3" "$4" "$(jq -r '.target_url' <<< "$current")"
      echo "cluster $2: no longer pending ($4)"
    fi
    ;;
  *) usage ;;
esac
