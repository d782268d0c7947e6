"""`omics-toolkit config show`, `plan`, `provision` and `teardown` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from omics_toolkit.data import fetch_demo_data


def _cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omics_toolkit", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=600,
    )


def test_config_show_names_the_source_of_every_setting(tmp_path: Path) -> None:
    (tmp_path / "omics-toolkit.toml").write_text('deployment = "from-file"\nregion = "eu-west-1"\n')
    r = _cli(
        "--json",
        "--region",
        "eu-central-1",
        "config",
        "show",
        cwd=tmp_path,
        OMICS_TOOLKIT_POLL_INTERVAL_SECONDS="7",
    )
    assert r.returncode == 0, r.stderr
    rows = {row["setting"]: row for row in json.loads(r.stdout)}
    assert rows["deployment"]["value"] == "from-file"
    assert rows["deployment"]["source"].startswith("file ")
    assert (rows["region"]["value"], rows["region"]["source"]) == ("eu-central-1", "flag")
    assert rows["poll_interval_seconds"] == {
        "setting": "poll_interval_seconds",
        "value": "7",
        "source": "env OMICS_TOOLKIT_POLL_INTERVAL_SECONDS",
    }
    assert rows["workflow"]["source"] == "default"


def test_plan_provision_teardown_from_the_command_line(local_stack: dict[str, Any]) -> None:
    reference = str(fetch_demo_data().reference)
    plan = _cli("--json", "-d", "ft-cli", "plan", "--reference", reference)
    assert plan.returncode == 0, plan.stderr
    actions = json.loads(plan.stdout)
    assert len(actions) > 25 and {a["action"] for a in actions} == {"create"}

    applied = _cli("--json", "-d", "ft-cli", "provision", "--reference", reference)
    assert applied.returncode == 0, applied.stderr
    result = json.loads(applied.stdout)
    assert sorted((a["kind"], a["action"]) for a in result["actions"]) == sorted(
        (a["kind"], a["action"]) for a in actions
    )

    again = _cli("--json", "-d", "ft-cli", "plan")
    assert {a["action"] for a in json.loads(again.stdout)} == {"unchanged"}

    destroy = _cli("--json", "-d", "ft-cli", "plan", "--destroy")
    deletions = [a for a in json.loads(destroy.stdout) if a["action"] == "delete"]
    assert len(deletions) > 20

    # Declining the confirmation deletes nothing.
    declined = subprocess.run(
        [sys.executable, "-m", "omics_toolkit", "-d", "ft-cli", "teardown"],
        input="n\n",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert declined.returncode == 1 and "aborted" in declined.stderr
    assert {a["action"] for a in json.loads(_cli("--json", "-d", "ft-cli", "plan").stdout)} == {
        "unchanged"
    }

    gone = _cli("--json", "-d", "ft-cli", "teardown", "--yes", "--force-delete-data")
    assert gone.returncode == 0, gone.stderr
    leftover = _cli("--json", "-d", "ft-cli", "plan", "--destroy")
    assert [a for a in json.loads(leftover.stdout) if a["action"] == "delete"] == []


def test_provision_killed_with_sigkill_completes_when_rerun(local_stack: dict[str, Any]) -> None:
    """A real kill -9 of the CLI in the middle of provisioning (after the reference store was
    reported), then a re-run: complete, nothing duplicated, a plan changes nothing."""
    import signal

    reference = str(fetch_demo_data().reference)
    proc = subprocess.Popen(
        [sys.executable, "-m", "omics_toolkit", "-d", "ft-sigkill", "provision"]
        + ["--reference", reference],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "reference store:" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)

    rerun = _cli("--json", "-d", "ft-sigkill", "provision", "--reference", reference)
    assert rerun.returncode == 0, rerun.stderr
    plan = json.loads(_cli("--json", "-d", "ft-sigkill", "plan").stdout)
    assert {a["action"] for a in plan} == {"unchanged"}
    assert sum(a["kind"] == "reference" for a in plan) == 1
    gone = _cli("--json", "-d", "ft-sigkill", "teardown", "--yes", "--force-delete-data")
    assert gone.returncode == 0, gone.stderr
