#!/usr/bin/env bash
# The main job: real NA12878 reads through the whole pipeline on the embedded local stack.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/omics-toolkit demo "$@"
