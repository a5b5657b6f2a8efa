#!/usr/bin/env bash
# The whole suite. PostgreSQL tests use SEAT_MANAGER_TEST_POSTGRES_URL
# (default postgresql://postgres@127.0.0.1:5432/postgres); they create and drop
# their own databases. With SEAT_MANAGER_REQUIRE_POSTGRES=1 (CI) an unreachable
# server fails the run; otherwise it is announced loudly and those tests skip.
set -uo pipefail
cd "$(dirname "$0")/.."
export SEAT_MANAGER_TEST_POSTGRES_URL=${SEAT_MANAGER_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}

if ! .venv/bin/python scripts/pg_probe.py "$SEAT_MANAGER_TEST_POSTGRES_URL"; then
  if [ "${SEAT_MANAGER_REQUIRE_POSTGRES:-0}" = "1" ]; then
    echo "FATAL: PostgreSQL is required (SEAT_MANAGER_REQUIRE_POSTGRES=1) but does not answer at the URL above." >&2
    exit 1
  fi
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo "!! WARNING: no PostgreSQL answers; PostgreSQL tests will be SKIPPED.   !!" >&2
  echo "!! Start one on 127.0.0.1:5432 or set SEAT_MANAGER_TEST_POSTGRES_URL.  !!" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
fi

status=0
echo "== ruff"; .venv/bin/ruff check src tests bench scripts || status=1
echo "== mypy (strict, src/)"; .venv/bin/mypy || status=1
echo "== pytest"; .venv/bin/pytest "$@" || status=1
exit $status
