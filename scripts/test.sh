#!/usr/bin/env bash
# The test suite: unit, functional (local stack) and end-to-end (real reads) tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Headless Chromium for the report's browser test (tests/functional/report): Debian's package.
if [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "==> installing system package: chromium (report browser test)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
# Both cores (pytest-xdist): each worker starts its own local stack; a test file (or a directory
# whose files share session fixtures, see tests/conftest.py) runs on one worker. At most 2 workers
# (each stack is a few processes); OMICS_TOOLKIT_TEST_WORKERS overrides, `-n 0` in "$@" disables.
workers=$(nproc 2>/dev/null || echo 1)
[ "$workers" -le 2 ] || workers=2
workers=${OMICS_TOOLKIT_TEST_WORKERS:-$workers}
exec .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"
