"""Poll defaults fit the target (`omics-toolkit config show` as a user types it); explicit wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omics_toolkit.cli.main import app


def _show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> dict:
    monkeypatch.chdir(tmp_path)  # no omics-toolkit.toml of the caller's
    for name in ("POLL_INTERVAL_SECONDS", "MAX_POLL_INTERVAL_SECONDS", "TARGET"):
        monkeypatch.delenv(f"OMICS_TOOLKIT_{name}", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["--json", *args, "config", "show"])
    assert result.exit_code == 0, result.output
    rows = {row["setting"]: row for row in json.loads(result.stdout)}
    return {
        name: (rows[name]["value"], rows[name]["source"])
        for name in ("poll_interval_seconds", "max_poll_interval_seconds")
    }


def test_local_target_polls_in_seconds_by_default(tmp_path, monkeypatch):
    assert _show(tmp_path, monkeypatch) == {
        "poll_interval_seconds": ("1", "default (local)"),
        "max_poll_interval_seconds": ("2", "default (local)"),
    }


def test_aws_target_keeps_minutes(tmp_path, monkeypatch):
    assert _show(tmp_path, monkeypatch, "--target", "aws") == {
        "poll_interval_seconds": ("60", "default (aws)"),
        "max_poll_interval_seconds": ("600", "default (aws)"),
    }


def test_explicit_setting_wins_on_either_target(tmp_path, monkeypatch):
    (tmp_path / "omics-toolkit.toml").write_text("max_poll_interval_seconds = 30\n")
    shown = _show(tmp_path, monkeypatch, OMICS_TOOLKIT_POLL_INTERVAL_SECONDS="20")
    assert shown["poll_interval_seconds"] == ("20", "env OMICS_TOOLKIT_POLL_INTERVAL_SECONDS")
    assert shown["max_poll_interval_seconds"][0] == "30"
    assert shown["max_poll_interval_seconds"][1].startswith("file ")
    aws = _show(tmp_path, monkeypatch, "--target", "aws", OMICS_TOOLKIT_POLL_INTERVAL_SECONDS="5")
    assert aws["poll_interval_seconds"] == ("5", "env OMICS_TOOLKIT_POLL_INTERVAL_SECONDS")


def test_a_first_wait_above_the_local_cap_raises_the_cap(tmp_path, monkeypatch):
    shown = _show(tmp_path, monkeypatch, OMICS_TOOLKIT_POLL_INTERVAL_SECONDS="10")
    assert shown["max_poll_interval_seconds"] == ("10", "default (local)")
