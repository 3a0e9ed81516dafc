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
total_passed=0
total_failed=0
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
while read -r name dir settings redis_db; do
  case "$name" in ''|'#'*) continue ;; esac
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $name " ]]; then continue; fi
  echo "=== suite: $name"
  suite_env "$name" "$redis_db"
  args=("$dir")
  if [ "$settings" = "-" ]; then args+=(-p no:django); else args+=(--ds "$settings"); fi
  (export PYTHONPATH="$PWD/tests/shared${PYTHONPATH:+:$PYTHONPATH}"; .venv/bin/pytest "${args[@]}" "${extra[@]}") | tee "$summary"
  rc=${PIPESTATUS[0]}
  last=$(grep -E '[0-9]+ (passed|failed|error)' "$summary" | tail -n 1)
  total_passed=$((total_passed + $(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+' || echo 0)))
  total_failed=$((total_failed + $(grep -oE '[0-9]+ (failed|errors?)' <<<"$last" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')))
  # 5: the suite collected no test, which is a failure of the suite, not a pass.
  [ $rc -eq 0 ] || failed+=("$name (exit $rc)")
done < scripts/suites.txt

echo "total: $total_passed passed, $total_failed failed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED suites: ${failed[*]}"
  exit 1
fi
echo "all suites passed"
