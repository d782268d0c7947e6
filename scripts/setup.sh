#!/usr/bin/env bash
# Install what omics-toolkit needs on a Debian/Ubuntu machine: system tools (apt) and a virtualenv
# with exactly the locked versions of every dependency (requirements.lock, hashes required; see
# `make lock`), then the toolkit itself, editable, without dependencies. Safe to re-run: does
# nothing when .venv was built from the current lock; rebuilds .venv when the lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(bwa samtools bcftools tabix)
need_apt=()
for tool in "${APT_PACKAGES[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool")
done
# The lock covers CPython 3.11 to 3.13 ([tool.uv] in pyproject.toml).
ok_python() {
  "$1" -c 'import sys, venv, ensurepip; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' \
    2>/dev/null
}
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3 python3.13 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null && ok_python "$candidate"; then python=$candidate; break; fi
  done
fi
if [ -z "$python" ]; then
  python=python3
  need_apt+=(python3 python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "==> installing system packages: ${need_apt[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
ok_python "$python" || {
  echo "omics-toolkit's lock needs CPython 3.11, 3.12 or 3.13 with venv ($python is" \
       "$("$python" --version 2>&1)); install one (apt-get install python3.11-venv, or" \
       "python3-venv) or set PYTHON=/path/to/python3.12" >&2; exit 1; }

stamp=.venv/.installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  if [ -f .venv/pyvenv.cfg ]; then
    echo "==> pyproject.toml or requirements.lock changed: rebuilding .venv from the lock" >&2
    rm -rf .venv
  fi
  echo "==> creating .venv ($("$python" --version 2>&1)) and installing the locked dependencies" >&2
  "$python" -m venv .venv
  # exactly the lock: every file checked against its sha256, nothing resolved, nothing built
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps \
    --only-binary :all: -r requirements.lock
  # the toolkit itself (its build backend, setuptools, is in the lock: no isolated build env)
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
    --no-build-isolation -e .
  touch "$stamp"
fi
