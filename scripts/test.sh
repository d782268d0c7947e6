#!/usr/bin/env bash
# The test suite: unit, functional (local stack) and end-to-end (real reads) tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
