#!/usr/bin/env bash
# Refuse a patch that changes anything but certificate files. The expiry workflow hands its
# renewal from job to job as patches; whatever job made one, it may change files under certs/
# only, never a cluster file, the pins or the workflows.
# Usage: certs-only.sh PATCH   (in the checkout the patch is for)
# Exit: 0 every path is under certs/; 1 with one ::error:: line naming the first other path.
set -euo pipefail

patch="$1"
while IFS= read -r path; do
  case "$path" in
    certs/*) ;;
    *)
      echo "::error::$patch changes $path: a renewal may change files under certs/ only; nothing was applied or pushed" >&2
      exit 1
      ;;
  esac
done < <(git apply --numstat "$patch" | cut -f3-)
