"""`--help` reads the same in a terminal and in a pipe: paragraphs re-wrapped, placeholders kept."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from omics_toolkit.cli.main import app


def _help(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


def test_docstring_line_breaks_are_not_kept_mid_sentence() -> None:
    """The docstring breaks after 'The run'; rich markup mode printed that break as is."""
    text = " ".join(_help("provision").split())
    assert "then applied with a progress display. The run options given here" in text
    assert not any(line.rstrip().endswith("The run") for line in _help("provision").splitlines())


def test_placeholders_in_angle_brackets_are_kept() -> None:
    """Markdown help would take ``<name>`` for an HTML tag and drop it."""
    assert "queries/<name>.sql" in _help("query")
    assert "s3://<output" in _help("contigs")


def test_no_box_drawing_in_help() -> None:
    """Plain help: nothing that breaks into mojibake in a log or a narrow pipe."""
    for command in ([], ["runs"], ["upload"], ["workflows", "package"]):
        assert not re.search("[\u2500-\u257f]", _help(*command)), command
