#!/usr/bin/env bash
# The benchmarks (`make bench`): provisioning, variant back ends, accuracy and pipeline
# performance, each on its own local stack in a temporary home (about 20 minutes on 2 CPUs).
# Writes bench/results/*.json and the markdown tables bench/results/*.md; see bench/README.md.
# Every benchmark runs even if an earlier one fails a check; the exit status is 1 if any did.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
# dwgsim simulates the accuracy and performance benchmarks' reads (Debian package).
if ! command -v dwgsim >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "==> installing system package: dwgsim (read simulator for bench/accuracy.py, bench/pipeline.py)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dwgsim >/dev/null || exit 1
fi
failed=()
for bench in provision variants vcf_reader accuracy pipeline; do
  echo "==> bench/${bench}.py" >&2
  start=$SECONDS
  if [ "$bench" = provision ]; then
    # provision.py prints its markdown table without writing one: keep it beside its JSON
    .venv/bin/python bench/provision.py | tee bench/results/provision.md \
      || failed+=("$bench")
  else
    .venv/bin/python "bench/${bench}.py" || failed+=("$bench")
  fi
  echo "==> bench/${bench}.py: $((SECONDS - start)) s" >&2
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "benchmarks with failed checks: ${failed[*]}" >&2
  exit 1
fi
