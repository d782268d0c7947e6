#!/usr/bin/env bash
# The drift guard (`make test-latest`): what a user gets who runs `pip install omics-toolkit[dev]`
# today. A throwaway virtualenv takes the newest versions pyproject.toml allows (no lock), then
# runs the fast tests (-m "not slow") and the demo, in temporary homes. It prints how those
# versions differ from requirements.lock and one result line per part; exit status 1 if either
# failed. CI runs it after the locked suite and reports it without failing on it (.ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1   # system tools (and the locked .venv, unused here)
python=${PYTHON:-$(.venv/bin/python -c 'import sys; print(sys._base_executable)')}
work=$(mktemp -d "${TMPDIR:-/tmp}/omics-toolkit-latest.XXXXXX")
venv="$work/venv"
cleanup() {
  if [ -x "$venv/bin/omics-toolkit" ] && [ -d "$work/demo-home/local" ]; then
    OMICS_TOOLKIT_HOME="$work/demo-home" "$venv/bin/omics-toolkit" local stop >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> drift guard: newest versions pyproject.toml allows, in $venv" >&2
"$python" -m venv "$venv" || exit 1
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip || exit 1
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade \
  --upgrade-strategy eager -e ".[dev]" || { echo "drift guard: install FAILED" >&2; exit 1; }
# how these versions differ from requirements.lock (doctor's lock rows), repeated at the end
differences=$(OMICS_TOOLKIT_HOME="$work/doctor-home" "$venv/bin/omics-toolkit" --json doctor \
  | "$venv/bin/python" -c '
import json, sys
rows = [c["result"] for c in json.load(sys.stdin) if c["check"].startswith("lock:")]
print("; ".join(rows) if rows else "none")
')
echo "==> newest allowed versions vs requirements.lock: $differences" >&2

start=$SECONDS
workers=$(nproc 2>/dev/null || echo 1); [ "$workers" -le 2 ] || workers=2  # as scripts/test.sh
OMICS_TOOLKIT_HOME="$work/test-home" "$venv/bin/python" -m pytest -m "not slow" \
  -n "$workers" --dist loadfile -p no:cacheprovider -q --timeout 900
tests=$?
tests_s=$((SECONDS - start))
start=$SECONDS
OMICS_TOOLKIT_HOME="$work/demo-home" "$venv/bin/omics-toolkit" demo
demo=$?
demo_s=$((SECONDS - start))

result() { [ "$1" -eq 0 ] && echo PASSED || echo "FAILED (exit $1)"; }
echo "drift guard: versions differing from requirements.lock: $differences" >&2
echo "drift guard: fast tests $(result $tests) in ${tests_s} s; demo $(result $demo) in ${demo_s} s" >&2
[ $tests -eq 0 ] && [ $demo -eq 0 ]
