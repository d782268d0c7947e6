"""docs/guarantees.md: every README guarantee row names tests, and every named test exists.

The table's rows are ``| # | README section | Claim | Test(s) |``; the tests are
``tests/<path>.py::<function>`` (or ``::<Class>::<method>``) separated by ``<br>``. A test exists
when its file defines that function (found by AST, so nothing is imported or collected). The
sections must be headings of README.md (or a paragraph's lead-in line ending with ``:``, such as
"What `provision` guarantees:"), so a renamed section shows here too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "guarantees.md"
README = ROOT / "README.md"

_NODE = re.compile(r"^(tests/[\w/.-]+\.py)::(\w+)(?:::(\w+))?$")


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body row of the first Markdown table whose header starts ``| # |``."""
    rows: list[list[str]] = []
    in_table = False
    for line in text.splitlines():
        stripped = line.strip()
        if not in_table:
            in_table = stripped.startswith("| # |")
            continue
        if not stripped.startswith("|"):
            break
        cells = [c.strip() for c in stripped.strip("|").split("|")]
        if set("".join(cells)) <= set("-: "):
            continue  # the separator row
        rows.append(cells)
    return rows


def test_ids(cell: str) -> list[str]:
    """The test node ids of a Test(s) cell (``<br>``-separated; empty parts ignored)."""
    return [part.strip() for part in re.split(r"<br\s*/?>", cell) if part.strip()]


test_ids.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def defined_tests(path: Path) -> set[str]:
    """``name`` of each top-level function and ``Class::method`` of each class method."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return found


def problems(doc: str, root: Path, readme: str) -> list[str]:
    """Everything wrong with the table in ``doc`` (test paths relative to ``root``)."""
    rows = table_rows(doc)
    if not rows:
        return ["no guarantees table (a Markdown table whose header starts '| # |')"]
    headings = {
        m.group(1).strip() for m in re.finditer(r"^#{2,4}\s+(.+)$", readme, flags=re.MULTILINE)
    }
    plain = "\n" + readme.replace("`", "")  # lead-in lines such as "What `provision` guarantees:"
    found: list[str] = []
    cache: dict[Path, set[str]] = {}
    for cells in rows:
        if len(cells) != 4:
            found.append(f"row {cells[:1]}: {len(cells)} cells, want 4 (#, section, claim, tests)")
            continue
        number, sections, claim, tests = cells
        if not claim:
            found.append(f"row {number}: no claim")
        for section in (s.strip() for s in sections.split(";")):
            base = re.sub(r"\s*\(.*\)$", "", section)
            if base not in headings and f"\n{base}:" not in plain:
                found.append(f"row {number}: README has no section {base!r}")
        ids = test_ids(tests)
        if not ids:
            found.append(f"row {number}: no test for {claim!r}")
        for node in ids:
            m = _NODE.match(node)
            if not m:
                found.append(f"row {number}: {node!r} is not tests/<file>.py::<test>")
                continue
            path = root / m.group(1)
            if not path.is_file():
                found.append(f"row {number}: {m.group(1)} does not exist")
                continue
            if path not in cache:
                cache[path] = defined_tests(path)
            name = m.group(2) + (f"::{m.group(3)}" if m.group(3) else "")
            if name not in cache[path]:
                found.append(f"row {number}: {m.group(1)} defines no {name}")
            elif not (m.group(3) or m.group(2)).startswith("test"):
                found.append(f"row {number}: {node} is not a test (pytest collects test_*)")
    numbers = [cells[0] for cells in rows]
    if len(set(numbers)) != len(numbers):
        found.append(f"row numbers repeat: {sorted(n for n in numbers if numbers.count(n) > 1)}")
    return found


def test_every_guarantee_names_existing_tests() -> None:
    rows = table_rows(DOC.read_text(encoding="utf-8"))
    assert len(rows) >= 60, len(rows)  # the table was read, not silently skipped
    found = problems(DOC.read_text(encoding="utf-8"), ROOT, README.read_text(encoding="utf-8"))
    assert not found, "docs/guarantees.md:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("| 1 | Architecture | A claim. | |", "no test for"),
        (
            "| 1 | Architecture | A claim. | tests/unit/test_guarantees_doc.py::test_nothing |",
            "defines no test_nothing",
        ),
        ("| 1 | Architecture | A claim. | tests/unit/no_such_file.py::test_x |", "does not exist"),
        (
            "| 1 | Architecture | A claim. | tests/unit/test_guarantees_doc.py::table_rows |",
            "is not a test",
        ),
        ("| 1 | Architecture | A claim. | test_x |", "is not tests/<file>.py::<test>"),
        (
            "| 1 | No such section | A claim. | "
            "tests/unit/test_guarantees_doc.py::test_every_guarantee_names_existing_tests |",
            "README has no section 'No such section'",
        ),
    ],
)
def test_the_check_rejects_rows_without_a_real_test(row: str, problem: str) -> None:
    doc = "| # | README section | Claim | Test(s) |\n|---|---|---|---|\n" + row + "\n"
    found = problems(doc, ROOT, "## Architecture\n")
    assert any(problem in f for f in found), found


def test_the_check_accepts_a_good_row_and_class_methods(tmp_path: Path) -> None:
    tests = tmp_path / "tests" / "unit"
    tests.mkdir(parents=True)
    (tests / "test_x.py").write_text(
        "def test_a():\n    pass\n\nclass TestB:\n    def test_c(self):\n        pass\n"
    )
    doc = (
        "| # | README section | Claim | Test(s) |\n|---|---|---|---|\n"
        "| 1 | Architecture; Layout (paths) | A claim. | "
        "tests/unit/test_x.py::test_a<br>tests/unit/test_x.py::TestB::test_c |\n"
    )
    assert problems(doc, tmp_path, "## Architecture\n## Layout\n") == []
