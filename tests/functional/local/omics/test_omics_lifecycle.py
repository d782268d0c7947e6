"""CancelRun, and persistence across emulator stop/start (in-flight work becomes FAILED)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from healthomics_emulator.server import OmicsEmulator
from tests.support.omics_helpers import ROLE, _client, wait_for, zip_wdl

SLEEPY_WDL = """version 1.0
workflow Sleepy {
  input { Int seconds = 60 }
  call nap { input: seconds = seconds }
}
task nap {
  input { Int seconds }
  command <<<
    echo "napping-marker-~{seconds}" >&2
    sleep ~{seconds}
  >>>
  runtime { docker: "IMAGE" }
}
"""


def _sleepy(omics: Any, request_id: str, image: str) -> str:
    wf = omics.create_workflow(
        name="sleepy",
        engine="WDL",
        definitionZip=zip_wdl(SLEEPY_WDL.replace("IMAGE", image)),
        requestId=request_id,
    )
    wait_for(lambda: omics.get_workflow(id=wf["id"]), "status", {"ACTIVE"})
    return wf["id"]


def _sleeping(seconds: int) -> bool:
    out = subprocess.run(["pgrep", "-f", f"sleep {seconds}$"], capture_output=True, text=True)
    return bool(out.stdout.strip())


def test_cancel_run_kills_the_task_and_ends_cancelled(
    omics: Any, bucket: str, private_image: str
) -> None:
    wf = _sleepy(omics, "sleepy-cancel", private_image)
    run = omics.start_run(
        workflowId=wf,
        roleArn=ROLE,
        outputUri=f"s3://{bucket}/runs/",
        parameters={"seconds": 47},
        requestId="cancel-me",
        storageType="DYNAMIC",
    )
    wait_for(lambda: omics.get_run(id=run["id"]), "status", {"RUNNING"})
    wait_for(
        lambda: (omics.list_run_tasks(id=run["id"])["items"] or [{}])[0], "status", {"RUNNING"}
    )
    omics.cancel_run(id=run["id"])
    assert omics.get_run(id=run["id"])["status"] in ("STOPPING", "CANCELLED")
    done = wait_for(
        lambda: omics.get_run(id=run["id"]),
        "status",
        {"CANCELLED", "FAILED", "COMPLETED"},
        timeout=20,
    )
    assert done["status"] == "CANCELLED"
    assert [t["status"] for t in omics.list_run_tasks(id=run["id"])["items"]] == ["CANCELLED"]
    deadline = time.monotonic() + 10
    while _sleeping(47) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _sleeping(47)
    with pytest.raises(ClientError) as exc:
        omics.cancel_run(id=run["id"])
    assert exc.value.response["Error"]["Code"] == "ConflictException"
    omics.delete_run(id=run["id"])
    with pytest.raises(ClientError) as exc:
        omics.get_run(id=run["id"])
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_state_survives_restart_and_in_flight_runs_fail(
    moto_url: str, bucket: str, tmp_path: Path, private_image: str
) -> None:
    emu = OmicsEmulator(tmp_path / "omics", moto_url)
    omics = _client("omics", emu.start())
    store = omics.create_sequence_store(name="persisted")
    wf = _sleepy(omics, "sleepy-persist", private_image)
    run = omics.start_run(
        workflowId=wf,
        roleArn=ROLE,
        outputUri=f"s3://{bucket}/runs/",
        parameters={"seconds": 53},
        requestId="interrupted",
        storageType="DYNAMIC",
    )
    wait_for(lambda: omics.get_run(id=run["id"]), "status", {"RUNNING"})
    emu.stop()
    omics = _client("omics", emu.start())
    try:
        assert omics.get_sequence_store(id=store["id"])["name"] == "persisted"
        assert omics.get_workflow(id=wf)["status"] == "ACTIVE"
        after = omics.get_run(id=run["id"])
        assert after["status"] == "FAILED"
        assert after["statusMessage"] == "interrupted by local stack stop"
        same = omics.start_run(
            workflowId=wf,
            roleArn=ROLE,
            outputUri=f"s3://{bucket}/runs/",
            parameters={"seconds": 53},
            requestId="interrupted",
            storageType="DYNAMIC",
        )
        assert same["id"] == run["id"]
    finally:
        emu.stop()
