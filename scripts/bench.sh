#!/usr/bin/env bash
# Runs every benchmark script under tests/benchmarks/ (each prints its own table).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-env.sh
suite_env bench 8
export PYTHONPATH="$PWD/tests/shared${PYTHONPATH:+:$PYTHONPATH}"
for script in tests/benchmarks/bench_*.py; do
  echo "=== $(basename "$script")"
  .venv/bin/python "$script"
done
