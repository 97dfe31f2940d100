#!/usr/bin/env bash
# shellcheck disable=SC2016  # backticks in single quotes are markdown; \(...) is jq's
# The plan workflow's one required check (job plan-result, on GitHub's runner, permissions
# pull-requests: write and contents: read): it alone writes to the pull request, and it makes
# sure that no plan comment there is ever taken for what merging would do when it is not.
# Usage: plan-report.sh PR_NUMBER HEAD_SHA CLUSTERS_JSON RESULTS_DIR
#   CLUSTERS_JSON  what the clusters job wrote (`reconcile clusters ... --format json`):
#                  {"clusters": [{"name": ..., ...}], "removed": [NAME, ...]}; may be missing
#                  when that job failed. removed: cluster files this pull request deletes.
#   RESULTS_DIR    plan-NAME/ per planned cluster, as its plan job uploaded it: head (the
#                  commit planned), validate-code, exit-code (0 converged, 2 changes, 1 error),
#                  comment.md (its first two lines the markers `<!-- cms-reconciler plan -->`
#                  and `<!-- cms-reconciler plan: NAME -->`), plan.json; any may be missing.
# Environment: GH_TOKEN, GITHUB_REPOSITORY; RUN_URL (this run's page); CLUSTERS_RESULT (the
# clusters job's result: success, failure, cancelled or skipped); FORK (true for a pull request
# from a fork); GITHUB_STEP_SUMMARY (optional: a table is appended);
# CMS_RECONCILER_BOT_LOGIN (default github-actions[bot]: only its comments are edited).
# What it does:
# - FORK=true: posts nothing and fails: a fork's pull request is never planned (its code would
#   run where the clusters' secrets are).
# - CLUSTERS_RESULT not success (or CLUSTERS_JSON unreadable, or naming a cluster with anything
#   but letters, digits, `.`, `_`, `-`): every plan comment of the bot on the pull request is
#   marked not current ("the list of changed clusters could not be made"); the check fails.
# - each listed cluster: its comment.md, when it was made for HEAD_SHA, is posted with
#   sticky-comment.sh; else the cluster's comment is marked not current: the bot's earlier
#   comment becomes a notice (the marker lines, a heading, "Planning commit X failed before a
#   plan was made", a link to the run) with the earlier plan folded under it, or a notice alone
#   when there was none. A notice folds the plan inside an earlier notice, never the notice;
#   the body stays under 65,000 bytes (the folded plan is cut, saying so).
# - each removed cluster: a comment (same markers) saying that merging ends its management.
# - each other plan comment of the bot (a cluster this pull request no longer changes): a
#   notice "no longer in this pull request", the earlier plan folded.
# Comments by anyone but the bot are never edited, even with our markers.
# Exit: 0 when every listed cluster has validate-code 0, exit-code 0 or 2 (or 1 with the file
# `pending` holding "access": blocked only by access the pull request adds, which plan-cluster.sh
# reads off the plan) and a plan made for HEAD_SHA, and CLUSTERS_RESULT is success; else 1,
# after posting, one ::error:: line per
# failing cluster saying why (validate failed; plan failed: see its comment; no plan was made).
# Needs jq and sticky-comment.sh beside this script.
set -euo pipefail

pr="$1"
head_sha="$2"
clusters_json="$3"
results="$4"
run_url="${RUN_URL:?RUN_URL is not set (the link to this run)}"
clusters_result="${CLUSTERS_RESULT:-}"
bot="${CMS_RECONCILER_BOT_LOGIN:-github-actions[bot]}"
sticky="$(dirname "${BASH_SOURCE[0]}")/sticky-comment.sh"
limit=65000 # bytes: every body written here stays under it (GitHub refuses more than 65,536)

if [ "${FORK:-false}" = true ]; then
  echo "::error::pull requests from forks are not planned: their plan would run on the self-hosted runner, with the clusters' secrets, which a fork's code must never reach. Push the branch to this repository instead, and open the pull request from there." >&2
  exit 1
fi
if ! [[ "$pr" =~ ^[0-9]+$ ]] || ! [[ "$head_sha" =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]]; then
  echo "::error::usage: plan-report.sh PR_NUMBER HEAD_SHA CLUSTERS_JSON RESULTS_DIR (got '$pr' '$head_sha')" >&2
  exit 1
fi
short="${head_sha:0:12}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- the bot's plan comments on the pull request ------------------------------------------------
# One JSON object a line, {id, name, body}, oldest first (the order sticky-comment.sh picks the
# first of). gh's --jq takes no --arg: the login goes in as a JSON string literal jq quoted.
bot_json="$(jq -n --arg value "$bot" '$value')"
gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$pr/comments" --jq '.[]
  | select(.user.login == '"$bot_json"')
  | {id, body, name: ([.body | split("\n") | .[:2][]
      | select(test("^<!-- cms-reconciler plan: [A-Za-z0-9._-]+ -->$"))
      | ltrimstr("<!-- cms-reconciler plan: ") | rtrimstr(" -->")] | first)}
  | select(.name != null) | @json' > "$work/comments.jsonl"

# The notice that replaces a cluster's comment when it is not (or no longer) a current plan.
# $kind: failed (no plan for HEAD_SHA), unlisted (no list of clusters), dropped (no longer in
# this pull request). The earlier plan is the bot's comment for the cluster, without its
# markers; inside an earlier notice, the plan that notice folded.
notice_program='
def tag: "<!-- cms-reconciler plan-not-current -->";
def summary: "<details><summary>The earlier plan (not current)</summary>";
def opening: "\n" + summary + "\n\n";
def closing: "\n</details>\n";
def is_marker: test("^<!-- cms-reconciler [a-z]+(: [A-Za-z0-9._-]+)? -->$");
def without_markers: split("\n") | (.[:2] | map(select(is_marker | not))) + .[2:] | join("\n");
def earlier_plan:
  without_markers
  | if startswith(tag + "\n") then
      split(opening) | if length > 1 then .[1:] | join(opening) | rtrimstr(closing) else "" end
    else . end
  | if test("^\\s*$") then "" elif endswith("\n") then . else . + "\n" end;

# What to append to the first lines of a plan cut short: the fence left open, if any, then one
# </details> per <details> left open (outside fences).
def closers:
  reduce .[] as $line ({fence: null, open: 0};
    if .fence == null then
      if ($line | test("^ {0,3}(```+|~~~+)")) then
        .fence = ($line | match("^ {0,3}(```+|~~~+)").captures[0].string)
      else
        .open += ([$line | scan("<details[ >]")] | length)
          - ([$line | scan("</details>")] | length)
      end
    elif (.fence as $fence | $line | test("^ {0,3}" + $fence + $fence[0:1] + "*[ \t]*$")) then
      .fence = null
    else . end)
  | (if .fence then .fence + "\n" else "" end)
    + ([range(0; .open)] | map("\n</details>\n") | join(""));
def note: "\n*The rest of the earlier plan was cut here: GitHub takes comments of up to 65,536 bytes.*\n";
def cut_lines: (join("\n") + "\n") + closers + note;
# The plan, whole if it fits in $budget bytes, else its first lines that do, closed and noted.
def fit($budget):
  if utf8bytelength <= $budget then .
  else
    (split("\n") | .[:-1]) as $lines
    | (reduce $lines[] as $line ({n: 0, size: 0, full: false};
        if .full then .
        else ($line | utf8bytelength + 1) as $more
          | if .size + $more > $budget - 600 then .full = true
            else .n += 1 | .size += $more end
        end)).n as $n
    | $lines[:$n]
    | until((cut_lines | utf8bytelength) <= $budget or length == 0; .[:-1])
    | cut_lines
  end;

([$comments[] | select(.name == $name)][0].body) as $previous
| ($previous // "" | earlier_plan) as $earlier
| (if $kind == "dropped" then
     "### cms-reconciler plan for `\($name)`: no longer in this pull request\n\nAs of commit `\($short)` this pull request no longer changes cluster `\($name)`; merging does not apply anything to it."
   elif $kind == "unlisted" then
     "### cms-reconciler plan for `\($name)`: not current\n\nPlanning commit `\($short)` failed: the list of changed clusters could not be made ([the run](\($run)))."
   else
     "### cms-reconciler plan for `\($name)`: not current\n\nPlanning commit `\($short)` failed before a plan was made ([the run](\($run)))."
   end) as $text
| (if $earlier == "" then
     (if $kind == "dropped" then "" else " No earlier plan of this cluster is on this pull request." end)
   elif $kind == "dropped" then " The plan below was made for an earlier commit."
   else " The plan below was made for an earlier commit: it is not what merging would do now."
   end) as $after
| "<!-- cms-reconciler plan -->\n<!-- cms-reconciler plan: \($name) -->\n\(tag)\n\($text)\($after)\n"
| if $earlier == "" then .
  else . as $notice
    | ($limit - 1 - ($notice + opening + closing | utf8bytelength)) as $budget
    | $notice + opening + ($earlier | fit($budget)) + closing
  end
'

# Write the notice of KIND for cluster NAME to FILE.
notice() {
  jq -n -j --slurpfile comments "$work/comments.jsonl" --arg kind "$1" --arg name "$2" \
    --arg short "$short" --arg run "$run_url" --argjson limit "$limit" "$notice_program" > "$3"
}

commented_clusters() {
  jq -r '.name' "$work/comments.jsonl" | awk '!seen[$0]++'
}

# A one-word file of the plan job (head, validate-code, exit-code); empty when it is missing.
word() {
  if [ -f "$1" ]; then
    tr -d '[:space:]' < "$1"
  fi
}

errors=()
rows=()
post() { # NAME FILE: create or update the cluster's comment
  if ! "$sticky" "$pr" "$2"; then
    errors+=("cluster $1: its comment could not be written (see the log above)")
  fi
}

# --- no list of clusters: every plan comment of the bot is stale ------------------------------
listing_error=""
if [ "$clusters_result" != success ]; then
  listing_error="the clusters job did not succeed (${clusters_result:-no result}): the list of changed clusters could not be made; see its log"
elif ! jq -s -e 'def name: type == "string" and test("^[A-Za-z0-9._-]+$");
    length == 1 and (.[0] | type == "object") and (.[0]
    | (.clusters | type == "array") and all(.clusters[]; .name | name)
    and ((.removed // []) | type == "array") and all((.removed // [])[]; name))' \
  "$clusters_json" > /dev/null 2>&1; then
  # Names are what a marker carries (letters, digits, ., _, -): anything else is no listing of
  # reconcile's, and is never echoed into a comment or a workflow command.
  listing_error="$clusters_json is not the clusters job's listing ({\"clusters\": [{\"name\": NAME}], \"removed\": [NAME]}, names of letters, digits, ., _ and -)"
fi
if [ -n "$listing_error" ]; then
  while IFS= read -r name; do
    notice unlisted "$name" "$work/notice.md"
    post "$name" "$work/notice.md"
  done < <(commented_clusters)
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    printf '### cms-reconciler plan of commit `%s`\n\nNo plan: %s.\n' "$short" "$listing_error" \
      >> "$GITHUB_STEP_SUMMARY"
  fi
  echo "::error::$listing_error" >&2
  for error in "${errors[@]}"; do
    echo "::error::$error" >&2
  done
  exit 1
fi

# --- each planned cluster ----------------------------------------------------------------------
declare -A listed=()
mapfile -t clusters < <(jq -r '.clusters[].name' "$clusters_json" | awk '!seen[$0]++')
mapfile -t removed < <(jq -r '(.removed // [])[]' "$clusters_json" | awk '!seen[$0]++')
for name in "${clusters[@]}"; do
  listed["$name"]=1
  dir="$results/plan-$name"
  planned="$(word "$dir/head")"
  validate="$(word "$dir/validate-code")"
  code="$(word "$dir/exit-code")"
  expected="$(printf '%s\n%s' '<!-- cms-reconciler plan -->' "<!-- cms-reconciler plan: $name -->")"
  current=false
  if [ -s "$dir/comment.md" ] && [ "$planned" = "$head_sha" ] \
    && [ "$(head -n2 "$dir/comment.md")" = "$expected" ]; then
    current=true
    post "$name" "$dir/comment.md"
  else
    notice failed "$name" "$work/notice.md"
    post "$name" "$work/notice.md"
  fi
  if [ "$current" != true ]; then
    if [ -n "$validate" ] && [ "$validate" != 0 ]; then
      why="reconcile validate failed (exit $validate), and no plan was made for commit $short: see the plan job's log"
    elif [ -n "$planned" ] && [ "$planned" != "$head_sha" ]; then
      why="no plan was made for commit $short (the plan job's result is for commit ${planned:0:12}): see the run"
    else
      why="no plan was made for commit $short (the plan job failed before planning): see its log"
    fi
    result="no plan"
  elif [ "$validate" != 0 ]; then
    why="reconcile validate failed (exit ${validate:-unknown}): see its comment and the plan job's log"
    result="validate failed"
  elif [ "$code" = 0 ] || [ "$code" = 2 ]; then
    why=""
    result="planned"
  elif [ "$code" = 1 ] && [ "$(word "$dir/pending")" = access ]; then
    # Blocked only by access this pull request adds (a new cluster or node): nothing can be
    # planned before it is merged, and its comment says so; CODEOWNERS review it, and after
    # merge the apply workflow plans it in full for the approver.
    why=""
    result="access pending: planned after merge"
    echo "::notice::cluster $name: not planned against its nodes: this pull request adds access to it (a new cluster or node), which takes effect once merged; review it as an access change"
  else
    why="the plan failed (exit ${code:-unknown}): see its comment"
    result="plan failed"
  fi
  [ -z "$why" ] || errors+=("cluster $name: $why")
  case "$code" in
    0) plan_cell="converged (0)" ;;
    2) plan_cell="changes (2)" ;;
    1) [ "$result" = "access pending: planned after merge" ] && plan_cell="access pending (1)" || plan_cell="failed (1)" ;;
    "") plan_cell="—" ;;
    *) plan_cell="failed ($code)" ;;
  esac
  [ "$current" = true ] || plan_cell="—"
  rows+=("| \`$name\` | ${validate:-—} | $plan_cell | $result |")
done

# --- each cluster file this pull request deletes -------------------------------------------------
for name in "${removed[@]}"; do
  if [ -n "${listed[$name]:-}" ]; then
    continue
  fi
  listed["$name"]=1
  {
    printf '%s\n%s\n' '<!-- cms-reconciler plan -->' "<!-- cms-reconciler plan: $name -->"
    printf '### cms-reconciler plan for `%s`: cluster file deleted\n\n' "$name"
    printf 'As of commit `%s` this pull request deletes `clusters/%s.yaml`, so once it is merged ' "$short" "$name"
    printf 'cms-reconciler no longer manages cluster `%s`: nothing is sent to its nodes, which ' "$name"
    printf 'keep running as they are, and their certificates still expire. Watch them by other '
    printf 'means, or keep the file.\n'
  } > "$work/removed.md"
  post "$name" "$work/removed.md"
  rows+=("| \`$name\` | — | — | file deleted: no longer managed |")
done

# --- each plan comment of a cluster this pull request no longer changes ------------------------
while IFS= read -r name; do
  if [ -n "${listed[$name]:-}" ]; then
    continue
  fi
  notice dropped "$name" "$work/notice.md"
  post "$name" "$work/notice.md"
done < <(commented_clusters)

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    printf '### cms-reconciler plan of commit `%s`\n\n' "$short"
    if [ "${#rows[@]}" -eq 0 ]; then
      printf 'This pull request changes no cluster.\n'
    else
      printf '| cluster | validate | plan | result |\n| --- | --- | --- | --- |\n'
      printf '%s\n' "${rows[@]}"
    fi
  } >> "$GITHUB_STEP_SUMMARY"
fi
if [ "${#errors[@]}" -gt 0 ]; then
  for error in "${errors[@]}"; do
    echo "::error::$error" >&2
  done
  exit 1
fi
