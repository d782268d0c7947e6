"""The emulator and the shared facts never import the toolkit they check (AST of every module)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("healthomics_emulator", "healthomics_facts")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_omics_toolkit(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, package
    offenders = {
        str(f.relative_to(ROOT)): name
        for f in files
        for name in _imports(f)
        if name == "omics_toolkit" or name.startswith("omics_toolkit.")
    }
    assert offenders == {}


def test_facts_import_only_the_standard_library() -> None:
    import sys

    for path in sorted((ROOT / "healthomics_facts").rglob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top == "healthomics_facts", (path, name)
