#!/usr/bin/env bash
# Runs the API on the embedded SQLite store. Makes .env from .env.example the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f .env ]; then
  cp .env.example .env
  echo "Created .env from .env.example (edit it to point at your chain and keys)."
fi
exec .venv/bin/seat-manager api
