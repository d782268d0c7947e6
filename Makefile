.PHONY: demo test check setup bench lock test-latest
setup:
	bash scripts/setup.sh
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
check: setup
	.venv/bin/ruff check omics_toolkit healthomics_emulator healthomics_facts lambdas tests bench
	.venv/bin/ruff format --check omics_toolkit healthomics_emulator healthomics_facts lambdas tests bench
	.venv/bin/lint-imports --no-cache
bench:
	bash scripts/bench.sh
lock:
	bash scripts/lock.sh
test-latest:
	bash scripts/test-latest.sh
