#!/usr/bin/env bash
# ruff (lint and format check) over the tree; mypy over shared/ and each service with its settings.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-env.sh
suite_env lint 0
export DATABASE_URL="sqlite:///:memory:"

.venv/bin/ruff check .
.venv/bin/ruff format --check .
status=0
for target in shared:shared/src:sharedtest.settings identity:services/identity:identity.settings \
  diary:services/diary:diary.settings reminders:services/reminders:reminders.settings \
  outcomes:services/outcomes:outcomes.settings embedded:deploy/embedded:diary.settings; do
  IFS=: read -r name path settings <<<"$target"
  echo "mypy: $name"
  MYPYPATH="$PWD/tests/shared:$PWD/$path" PYTHONPATH="$PWD/tests/shared" DJANGO_SETTINGS_MODULE=$settings \
    .venv/bin/mypy --config-file pyproject.toml "$path" || status=1
done
# Every model change has its migration.
for name in identity diary reminders outcomes; do
  echo "migrations: $name"
  (cd "services/$name" && DJANGO_SETTINGS_MODULE=$name.settings \
    ../../.venv/bin/python -m django makemigrations --check --dry-run >/dev/null) || {
    echo "$name: a model change has no migration (manage.py makemigrations $name)"
    status=1
  }
done
exit $status
