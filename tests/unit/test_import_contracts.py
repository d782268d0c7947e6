"""The import-linter contracts in pyproject.toml hold, and each one fails on a wrong import.

The contracts (``[tool.importlinter]``): omics_toolkit's layers (nothing imports the CLI), boto3 and
botocore only in ``omics_toolkit.aws``, Lambda handlers free of the CLI, the local stack, pandas and
typer, the HealthOmics emulator and the service facts independent of the toolkit, the core free of
the local stack, and no import cycle inside a package. Each check runs ``lint-imports`` in a child
process whose ``PYTHONPATH`` holds only the tree checked.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("omics_toolkit", "healthomics_emulator", "healthomics_facts")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}


def lint(tree: Path, *contract_ids: str) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the packages under ``tree`` with ``tree``'s pyproject.toml."""
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, "
        f"limit_to_contracts={contract_ids!r}))"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_contract_is_kept() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the three packages and pyproject.toml, to break one import at a time."""
    out = tmp_path_factory.mktemp("contracts")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, out / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", out / "pyproject.toml")
    return out


#: contract id -> (module file, the wrong import appended to it)
WRONG_IMPORTS = {
    "layers": ("omics_toolkit/pipeline/status.py", "import omics_toolkit.cli.main"),
    "boto": ("omics_toolkit/pipeline/status.py", "import botocore.exceptions"),
    "handlers": ("omics_toolkit/pipeline/outputs.py", "import pandas"),
    "emulator": ("healthomics_emulator/tags.py", "import omics_toolkit.errors"),
    "facts": ("healthomics_facts/service.py", "import healthomics_emulator.errors"),
    "core-local": ("omics_toolkit/athena.py", "import omics_toolkit.local.stack"),
    "acyclic": (
        "omics_toolkit/provisioning/core.py",
        "import omics_toolkit.provisioning.provision",
    ),
}


def test_every_contract_has_a_wrong_import() -> None:
    assert set(WRONG_IMPORTS) == set(CONTRACTS)


@pytest.mark.parametrize("contract_id", sorted(WRONG_IMPORTS))
def test_a_wrong_import_breaks_the_contract(tree: Path, contract_id: str) -> None:
    path, line = WRONG_IMPORTS[contract_id]
    target = tree / path
    original = target.read_text()
    assert lint(tree, contract_id).returncode == 0  # the copy keeps it before the change
    target.write_text(f"{original}\n{line}  # noqa\n")
    try:
        result = lint(tree, contract_id)
    finally:
        target.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert CONTRACTS[contract_id]["name"].split(" (")[0][:60] in " ".join(result.stdout.split())


def _omics_toolkit_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def test_handler_contract_lists_what_the_handlers_import() -> None:
    handlers = sorted((ROOT / "lambdas").glob("*/app.py"))
    assert len(handlers) >= 5
    imported = set().union(*(_omics_toolkit_imports(h) for h in handlers))
    assert imported == set(CONTRACTS["handlers"]["source_modules"])
