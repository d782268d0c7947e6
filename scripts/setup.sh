#!/usr/bin/env bash
# Install what omics-toolkit needs on a Debian/Ubuntu machine: system tools (apt) and a virtualenv
# with the toolkit and its [dev] extras. Safe to re-run: does nothing when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(bwa samtools bcftools tabix)
need_apt=()
for tool in "${APT_PACKAGES[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool")
done
ok_python() { "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
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
  echo "omics-toolkit needs Python >= 3.11 with venv ($python is $("$python" --version 2>&1));" \
       "install python3.11 or newer, or set PYTHON=/path/to/python3.11" >&2; exit 1; }

stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> creating .venv and installing omics-toolkit[dev]" >&2
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  rm -f .venv/.installed-*; touch "$stamp"
fi
