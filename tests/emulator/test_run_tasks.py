"""The emulator's reading of a miniwdl call directory: reserved resources, instance type, and the
"command not found" diagnosis."""

from __future__ import annotations

import json
from pathlib import Path

from healthomics_emulator.run_tasks import _command_not_found, _drop_workflow_entries, _task_state


def test_bash_command_not_found_messages() -> None:
    script = "/state/runs/1/wdl/call-x/command: line 4: gatk: command not found"
    assert _command_not_found(f"calling S1\n{script}\n") == "gatk"
    assert _command_not_found("bash: samtools: command not found") == "samtools"
    assert _command_not_found("bwa: command not found\nbcftools: command not found") == "bcftools"
    assert _command_not_found("error: file not found") is None
    assert _command_not_found("") is None


def _call_dir(tmp_path: Path, request: dict, resources: dict | None, stderr: str) -> Path:
    call = tmp_path / "call-call_variants"
    call.mkdir()
    (call / "task_request.json").write_text(json.dumps(request))
    if resources is not None:
        (call / "host_resources.json").write_text(json.dumps(resources))
    (call / "stderr.txt").write_text(stderr)
    return call


REQUEST = {
    "requested_cpu": 4,
    "requested_memory_bytes": 6 * 2**30,
    "declared_cpu": 2,  # capped by miniwdl to this host
    "declared_memory_bytes": 6 * 2**30,
    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/gatk:4.6",
}


def test_running_task_reports_its_request_and_instance_type(tmp_path: Path) -> None:
    status, details = _task_state(_call_dir(tmp_path, REQUEST, None, ""), None, "us-east-1")
    assert status == "RUNNING"
    assert (details["cpus"], details["memory"], details["instanceType"]) == (4, 6, "omics.c.xlarge")
    assert details["imageDetails"] == {"image": REQUEST["image"]}


def test_exit_127_names_the_missing_command(tmp_path: Path) -> None:
    resources = {
        **REQUEST,
        "exit_status": 127,
        "started_at": "2026-11-01T08:00:00+00:00",
        "ended_at": "2026-11-01T08:00:01+00:00",
    }
    stderr = "x/command: line 3: gatk: command not found\n"
    status, details = _task_state(_call_dir(tmp_path, REQUEST, resources, stderr), None)
    assert status == "FAILED"
    assert details["failureReason"].startswith("gatk not found")
    assert len(details["failureReason"]) <= 64
    message = details["statusMessage"]
    assert message.startswith("gatk not found: the local stack runs task commands on this machine")
    assert REQUEST["image"] in message and "PATH" in message


def test_other_failures_keep_the_stderr_tail(tmp_path: Path) -> None:
    resources = {**REQUEST, "exit_status": 3}
    status, details = _task_state(_call_dir(tmp_path, REQUEST, resources, "boom\n"), None)
    assert status == "FAILED" and details["statusMessage"] == "boom"
    assert "failureReason" not in details


def test_dropping_workflow_entries_keeps_their_folders_for_runs_writing_meanwhile(
    tmp_path: Path,
) -> None:
    """A run's workflow-level cache entries are removed, but not the folders another run of the
    same workflow may have just made to write its own entry into (miniwdl's CallCache.put makes
    the folder, then writes ``<key>.json.tmp.<uuid>`` and renames it)."""
    folder = tmp_path / "Germline" / "abc123"
    folder.mkdir(parents=True)
    (folder / "def456.json").write_text("{}")
    task_entry = tmp_path / "CallVariants" / "k1" / "k2.json"
    task_entry.parent.mkdir(parents=True)
    task_entry.write_text("{}")
    in_flight = folder / "789.json.tmp.0001"
    in_flight.write_text("{}")

    _drop_workflow_entries(tmp_path, {"_workflowName": "Germline"})

    assert not (folder / "def456.json").exists()
    assert task_entry.exists()  # task-level entries are the run cache
    in_flight.rename(folder / "789.json")  # the other run's put completes
    assert (folder / "789.json").exists()
    _drop_workflow_entries(tmp_path, {"_workflowName": "Absent"})  # nothing there: no error
