#!/usr/bin/env bash
# CI for a vfio-reconcile fleet repository (hosts/*.yaml, snapshots/*.json):
#   1. every state file is valid (validate: syntax and schema, with file:line:col);
#   2. every host's snapshot plans cleanly against the files selected for it (plan DIR --snapshot):
#      exit 0 in sync, 2 changes pending (printed for review; a failure only with --fail-on-changes),
#      1 a problem: overlapping files, a count or selector that no longer holds, a blocked plan, or a
#      host no file is for.
#
#   VFIO_RECONCILE="npx vfio-reconcile" ci/check.sh [--fail-on-changes]
set -uo pipefail
cd "$(dirname "$0")/.."
read -r -a vr <<<"${VFIO_RECONCILE:-vfio-reconcile}"
fail_on_changes=false
[[ "${1:-}" == --fail-on-changes ]] && fail_on_changes=true

failed=0
echo "== validate hosts/*.yaml"
"${vr[@]}" validate hosts/*.yaml || failed=1

for snap in snapshots/*.json; do
  echo
  echo "== plan hosts/ --snapshot $snap"
  "${vr[@]}" plan hosts --snapshot "$snap" --detailed-exitcode --no-color
  case $? in
    0) echo "-- $snap: in sync" ;;
    2) echo "-- $snap: changes pending"; $fail_on_changes && failed=1 ;;
    *) echo "-- $snap: FAILED"; failed=1 ;;
  esac
done
exit $failed
