#!/usr/bin/env bash
# Export the secrets a cluster needs into the job's environment ($GITHUB_ENV), for the steps
# after the setup action. Why a script: the secrets of a cluster live in its own GitHub
# environment under FIXED names (the slots below), so a workflow can pass them without
# evaluating names that a pull request could choose; the variable each one becomes is named by
# the cluster file that the TRUSTED listing read (`reconcile clusters --format json`,
# `.clusters[i].secrets`).
#   CMS_SECRETS      JSON list: [{"secret": SLOT, "env": NAME, "file": false|true}, ...]
#   CMS_ENVIRONMENT  the GitHub environment the values come from (for messages)
#   CMS_SSH_PASSWORD, CMS_SSH_KEY, CMS_KEY_PASSPHRASE, CMS_KEY_PASSPHRASE_2,
#   CMS_KEY_PASSPHRASE_3   the slots' values (the secrets of those names)
# NAME gets the value; for CMS_SSH_KEY (the SSH private key's content, "file": true) the value
# is written to $RUNNER_TEMP/cms-reconciler-secrets/CMS_SSH_KEY (directory 0700, file 0600)
# and NAME gets that path. Values are appended as NAME<<DELIMITER heredocs with a random
# delimiter, so no value can end its entry early or add another variable.
# Refused, before anything is written (exit 1, one ::error:: line per problem): a slot not in
# the list above, or whose "file" flag is not the slot's; a NAME that is not
# [A-Z_][A-Z0-9_]*, that is given twice, or that would change how later steps run (PATH, HOME,
# LD_*, GITHUB_*, ... and the slot names themselves); a slot without a value (all are named).
# Usage: export-cluster-env.sh   (GITHUB_ENV set; RUNNER_TEMP set when CMS_SSH_KEY is used;
# needs python3, which the self-hosted runner has for reconcile)
# Exit: 0 every variable exported (or none asked for); 1 refused.
set -euo pipefail

slots=(CMS_SSH_PASSWORD CMS_SSH_KEY CMS_KEY_PASSPHRASE CMS_KEY_PASSPHRASE_2 CMS_KEY_PASSPHRASE_3)
file_slot=CMS_SSH_KEY
if [ -n "${CMS_ENVIRONMENT:-}" ]; then
  where="environment $CMS_ENVIRONMENT"
else
  where="this job's secrets (CMS_ENVIRONMENT is not set)"
fi

error() {
  echo "::error::$*" >&2
  failed=1
}

# Names whose value changes how a later step, a shell or a tool behaves.
denied() {
  case "$1" in
    PATH | HOME | SHELL | BASH_ENV | ENV | IFS | CI | CDPATH | GLOBIGNORE | SHELLOPTS | BASHOPTS \
      | PS4 | PROMPT_COMMAND | TMPDIR | NODE_OPTIONS | JAVA_TOOL_OPTIONS | _JAVA_OPTIONS \
      | PERL5OPT | PERL5LIB | PERLLIB | RUBYOPT | RUBYLIB | GCONV_PATH | OPENSSL_CONF \
      | SSL_CERT_FILE | SSL_CERT_DIR | REQUESTS_CA_BUNDLE | CURL_CA_BUNDLE | HTTP_PROXY \
      | HTTPS_PROXY | ALL_PROXY | NO_PROXY | GH_TOKEN | GITHUB_TOKEN) return 0 ;;
    LD_* | DYLD_* | PYTHON* | GITHUB_* | RUNNER_* | ACTIONS_* | GIT_* | SSH_* | GH_* | PIP_*) return 0 ;;
  esac
  local slot
  for slot in "${slots[@]}"; do
    [ "$1" != "$slot" ] || return 0
  done
  return 1
}

# One "SLOT NAME true|false" line per entry, fields separated by the ASCII unit separator
# (not whitespace, so an empty field stays a field); python3 fails, and so does this script,
# on anything but a list of such objects. Not `< <(...)`, whose failure bash would ignore.
if [ -z "${CMS_SECRETS+set}" ]; then
  echo "::error::CMS_SECRETS is not set (the cluster's .secrets from reconcile clusters --format json)" >&2
  exit 1
fi
entries_text="$(python3 -c '
import json, os, sys
usage = "each entry is {\"secret\": SLOT, \"env\": NAME, \"file\": true|false}"
try:
    entries = json.loads(os.environ["CMS_SECRETS"])
except ValueError as error:
    sys.exit(f"::error::CMS_SECRETS is not JSON ({error})")
if not isinstance(entries, list):
    sys.exit("::error::CMS_SECRETS is not a JSON list: " + usage)
for entry in entries:
    if not (
        isinstance(entry, dict)
        and {"secret", "env", "file"} <= set(entry)
        and isinstance(entry["secret"], str)
        and isinstance(entry["env"], str)
        and isinstance(entry["file"], bool)
        and not any(c in entry["secret"] + entry["env"] for c in "\x1f\n\r")
    ):
        sys.exit("::error::CMS_SECRETS: " + usage)
    print(entry["secret"], entry["env"], str(entry["file"]).lower(), sep="\x1f")
')"
if [ -z "$entries_text" ]; then
  exit 0
fi
mapfile -t entries <<< "$entries_text"

failed=0
uses_file=0
seen=" "
for entry in "${entries[@]}"; do
  IFS=$'\x1f' read -r slot name file <<< "$entry"
  known=0
  for candidate in "${slots[@]}"; do
    [ "$slot" != "$candidate" ] || known=1
  done
  if [ "$known" = 0 ]; then
    error "unknown secret slot '$slot' for $name: the slots are ${slots[*]}"
    continue
  fi
  expected=false
  if [ "$slot" = "$file_slot" ]; then
    expected=true
    uses_file=1
  fi
  if [ "$file" != "$expected" ]; then
    error "secret $slot is given with \"file\": $file; it is always $expected"
  fi
  if ! [[ "$name" =~ ^[A-Z_][A-Z0-9_]*$ ]]; then
    error "secret $slot: '$name' is not a variable name (capitals, digits and _)"
    continue
  fi
  if denied "$name"; then
    error "secret $slot: the cluster file names the variable $name, which would change how later steps run: name it otherwise (CMS_...)"
  fi
  if [[ "$seen" == *" $name "* ]]; then
    error "the variable $name is given twice"
  fi
  seen+="$name "
  if [ -z "${!slot:-}" ]; then
    error "secret $slot is missing in $where; it becomes $name"
  fi
done
if [ "$failed" != 0 ]; then
  exit 1
fi

if [ "$uses_file" = 1 ]; then
  folder="${RUNNER_TEMP:?RUNNER_TEMP is not set: no place for the SSH key}/cms-reconciler-secrets"
  mkdir -p "$folder"
  chmod 700 "$folder"
  key_file="$folder/$file_slot"
  (
    umask 077
    value="${!file_slot}"
    printf '%s' "$value" > "$key_file"
    # OpenSSH wants the last line of a key ended; a secret's trailing newline may be lost.
    [ "${value: -1}" = $'\n' ] || printf '\n' >> "$key_file"
  )
  chmod 600 "$key_file"
fi

for entry in "${entries[@]}"; do
  IFS=$'\x1f' read -r slot name file <<< "$entry"
  if [ "$file" = true ]; then
    value="$key_file"
  else
    value="${!slot}"
  fi
  # A delimiter that is no line of the value (a clash is 2^-128 likely, but checked).
  while :; do
    delimiter="EOF_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    [[ $'\n'"$value"$'\n' == *$'\n'"$delimiter"$'\n'* ]] || break
  done
  {
    printf '%s<<%s\n' "$name" "$delimiter"
    printf '%s\n' "$value"
    printf '%s\n' "$delimiter"
  } >> "$GITHUB_ENV"
done
