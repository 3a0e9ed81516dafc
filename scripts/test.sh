#!/usr/bin/env bash
# Runs every suite with its own Django settings, database and Redis db; fails if any fails.
# Usage: scripts/test.sh [suite ...] [-- pytest args]
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/test-env.sh

wanted=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do wanted+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
extra=("$@")

failed=()
while read -r name dir settings redis_db; do
  case "$name" in ''|'#'*) continue ;; esac
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $name " ]]; then continue; fi
  echo "=== suite: $name"
  suite_env "$name" "$redis_db"
  args=("$dir")
  if [ "$settings" = "-" ]; then args+=(-p no:django); else args+=(--ds "$settings"); fi
  (export PYTHONPATH="$PWD/tests/shared${PYTHONPATH:+:$PYTHONPATH}"; .venv/bin/pytest "${args[@]}" "${extra[@]}")
  rc=$?
  # 5: the suite collected no test, which is a failure of the suite, not a pass.
  [ $rc -eq 0 ] || failed+=("$name (exit $rc)")
done < scripts/suites.txt

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED suites: ${failed[*]}"
  exit 1
fi
echo "all suites passed"
