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
python=${PYTHON:-python3}
if ! "$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  need_apt+=(python3 python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "==> installing system packages: ${need_apt[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "omics-toolkit needs Python >= 3.11 ($python is $("$python" --version))" >&2; exit 1; }

stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> creating .venv and installing omics-toolkit[dev]" >&2
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  rm -f .venv/.installed-*; touch "$stamp"
fi
