#!/usr/bin/env bash
# `make lock`: resolve the newest versions pyproject.toml allows (every extra; Linux x86_64 and
# aarch64, CPython 3.11-3.13, see [tool.uv]) into uv.lock, and export requirements.lock, the
# hash-pinned file that scripts/setup.sh installs. Extra arguments go to `uv lock` (e.g.
# `--upgrade-package boto3` instead of the default `--upgrade` of everything).
# uv runs from a throwaway virtualenv: users of the lock never need it.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
python=${PYTHON:-python3}
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
"$python" -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install -q "uv==$UV_VERSION"
uv="$tools/venv/bin/uv"
if [ $# -eq 0 ]; then set -- --upgrade; fi
"$uv" lock "$@"
"$uv" export --frozen --all-extras --no-emit-project --format requirements-txt \
  -o requirements.lock >/dev/null
echo "==> uv.lock and requirements.lock: $(grep -c '^[A-Za-z0-9]' requirements.lock) distributions" >&2
