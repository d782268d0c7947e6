"""Output that survives pipes: without a terminal nothing wraps (unless COLUMNS is set), so long
paths, bucket names and messages stay on one line in logs and CI; ``--json`` is unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _long_home(tmp_path: Path) -> Path:
    """A state directory whose path is over 200 characters (wider than any old wrap width)."""
    home = tmp_path.joinpath(*["a-rather-long-directory-name-for-pipes"] * 6)
    assert len(str(home)) > 200
    return home


def _cli(*args: str, home: Path, columns: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["OMICS_TOOLKIT_HOME"] = str(home)
    if columns:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", *args],
        capture_output=True,  # stdout and stderr are pipes, not terminals
        text=True,
        env=env,
        timeout=60,
    )


def test_piped_message_is_one_line(tmp_path: Path) -> None:
    home = _long_home(tmp_path)
    r = _cli("local", "status", home=home)
    assert r.returncode == 3
    assert r.stdout == f"local stack not running (state in {home / 'local'})\n"


def test_piped_error_is_one_line(tmp_path: Path) -> None:
    home = _long_home(tmp_path)
    r = _cli("runs", home=home)
    assert r.returncode == 1
    assert r.stderr == (
        f"error: the local stack is not running (no {home / 'local' / 'stack.json'}); "
        "start it with `omics-toolkit local start`\n"
    )


def test_piped_table_rows_are_whole(tmp_path: Path) -> None:
    """A table row holding a value wider than 160 columns keeps it whole on its line."""
    home = _long_home(tmp_path)
    r = _cli("config", "show", home=home)
    assert r.returncode == 0
    rows = [line for line in r.stdout.splitlines() if " home " in line]
    assert len(rows) == 1 and str(home) in rows[0]
    assert "default" in rows[0] or "env" in rows[0]  # the source column on the same line


def test_columns_sets_the_width(tmp_path: Path) -> None:
    home = _long_home(tmp_path)
    r = _cli("local", "status", home=home, columns="60")
    lines = r.stdout.splitlines()
    assert len(lines) > 3 and max(len(line) for line in lines) <= 60


def test_json_is_unchanged_when_piped(tmp_path: Path) -> None:
    home = _long_home(tmp_path)
    r = _cli("--json", "config", "show", home=home)
    rows = {row["setting"]: row for row in json.loads(r.stdout)}
    assert rows["home"]["value"] == str(home)
    assert r.stdout.startswith("[\n  {\n")  # emit_json: indent 2, as before
