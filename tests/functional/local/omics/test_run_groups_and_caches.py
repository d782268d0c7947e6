"""Run groups and run caches on the emulator: the API, StartRun's checks, and call caching
(CACHE_ALWAYS reuses a task's outputs; CACHE_ON_FAILURE keeps only failed runs' outputs)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.omics_helpers import ROLE, wait_for, zip_wdl

RUN_DONE = {"COMPLETED", "FAILED", "CANCELLED"}

# `stamp` has the same inputs in every run: a cache hit for it; `maybe_fail` fails on request.
CACHED_WDL = """version 1.0
workflow Cached {
  input { String word  Boolean fail = false }
  call stamp { input: word = word }
  call maybe_fail { input: stamp = stamp.out, fail = fail }
  output { File out = maybe_fail.out }
}
task stamp {
  input { String word }
  command <<<
    echo "~{word} $(date +%s%N)" > stamp.txt
  >>>
  output { File out = "stamp.txt" }
  runtime { cpu: 1  memory: "1 GiB"  docker: "IMAGE" }
}
task maybe_fail {
  input { File stamp  Boolean fail }
  command <<<
    if ~{true="true" false="false" fail}; then echo "asked to fail" >&2; exit 2; fi
    cp ~{stamp} out.txt
  >>>
  output { File out = "out.txt" }
  runtime { cpu: 1  memory: "1 GiB"  docker: "IMAGE" }
}
"""


@pytest.fixture(scope="module")
def cached_workflow(omics: Any, private_image: str) -> str:
    wf = omics.create_workflow(
        name="cached",
        engine="WDL",
        definitionZip=zip_wdl(CACHED_WDL.replace("IMAGE", private_image)),
        main="main.wdl",
        requestId="create-cached",
    )
    done = wait_for(lambda: omics.get_workflow(id=wf["id"]), "status", {"ACTIVE", "FAILED"})
    assert done["status"] == "ACTIVE", done
    return str(wf["id"])


def _run(omics: Any, workflow: str, bucket: str, token: str, **kw: Any) -> dict[str, Any]:
    params = {"word": "hello", **kw.pop("parameters", {})}
    run = omics.start_run(
        workflowId=workflow,
        roleArn=ROLE,
        outputUri=f"s3://{bucket}/cache-runs/",
        requestId=token,
        parameters=params,
        **kw,
    )
    done = wait_for(lambda: omics.get_run(id=run["id"]), "status", RUN_DONE, timeout=120)
    tasks = omics.list_run_tasks(id=run["id"])["items"]
    return {"run": done, "tasks": {t["name"]: t for t in tasks}}


def test_run_group_api_and_start_run_checks(omics: Any, cached_workflow: str, bucket: str) -> None:
    group = omics.create_run_group(name="g1", maxRuns=2, maxCpus=8, requestId="group-g1")
    again = omics.create_run_group(name="g1", maxRuns=2, maxCpus=8, requestId="group-g1")
    assert again["id"] == group["id"]
    omics.update_run_group(id=group["id"], maxRuns=3)
    got = omics.get_run_group(id=group["id"])
    assert (got["maxRuns"], got["maxCpus"], got["name"]) == (3, 8, "g1")
    assert group["id"] in [g["id"] for g in omics.list_run_groups(name="g1")["items"]]
    with pytest.raises(ClientError) as exc:
        omics.start_run(
            workflowId=cached_workflow,
            roleArn=ROLE,
            outputUri=f"s3://{bucket}/x/",
            requestId="bad-group",
            runGroupId="1234567",
            parameters={"word": "x"},
        )
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        omics.create_run_cache(cacheS3Location="s3://no-such-bucket/c/", requestId="c-bad")
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    done = _run(omics, cached_workflow, bucket, "grouped", runGroupId=group["id"])
    assert done["run"]["status"] == "COMPLETED" and done["run"]["runGroupId"] == group["id"]
    omics.delete_run_group(id=group["id"])
    assert group["id"] not in [g["id"] for g in omics.list_run_groups()["items"]]


def test_cache_always_reuses_task_outputs(omics: Any, cached_workflow: str, bucket: str) -> None:
    cache = omics.create_run_cache(
        name="always",
        cacheS3Location=f"s3://{bucket}/run-cache/always/",
        cacheBehavior="CACHE_ALWAYS",
        requestId="cache-always",
    )
    assert omics.get_run_cache(id=cache["id"])["cacheS3Uri"].endswith("/run-cache/always/")
    first = _run(omics, cached_workflow, bucket, "always-1", cacheId=cache["id"])
    second = _run(omics, cached_workflow, bucket, "always-2", cacheId=cache["id"])
    assert first["run"]["status"] == second["run"]["status"] == "COMPLETED"
    assert first["run"]["cacheBehavior"] == "CACHE_ALWAYS"
    assert not first["tasks"]["stamp"]["cacheHit"]
    assert second["tasks"]["stamp"]["cacheHit"] is True
    uncached = _run(omics, cached_workflow, bucket, "always-3")  # no cacheId: runs again
    assert not uncached["tasks"]["stamp"]["cacheHit"]


def test_cache_on_failure_keeps_only_failed_runs_outputs(
    omics: Any, cached_workflow: str, bucket: str
) -> None:
    cache = omics.create_run_cache(
        name="on-failure",
        cacheS3Location=f"s3://{bucket}/run-cache/on-failure/",
        requestId="cache-on-failure",
    )
    assert omics.get_run_cache(id=cache["id"])["cacheBehavior"] == "CACHE_ON_FAILURE"
    ok = _run(omics, cached_workflow, bucket, "onf-1", cacheId=cache["id"])
    assert ok["run"]["status"] == "COMPLETED"
    after_ok = _run(omics, cached_workflow, bucket, "onf-2", cacheId=cache["id"])
    assert not after_ok["tasks"]["stamp"]["cacheHit"]  # a completed run leaves nothing behind
    failed = _run(
        omics, cached_workflow, bucket, "onf-3", cacheId=cache["id"], parameters={"fail": True}
    )
    assert failed["run"]["status"] == "FAILED"
    retry = _run(omics, cached_workflow, bucket, "onf-4", cacheId=cache["id"])
    assert retry["run"]["status"] == "COMPLETED"
    assert retry["tasks"]["stamp"]["cacheHit"] is True  # the failed run's outputs are reused
    with pytest.raises(ClientError) as exc:
        omics.start_run(
            workflowId=cached_workflow,
            roleArn=ROLE,
            outputUri=f"s3://{bucket}/x/",
            requestId="behaviour-without-cache",
            cacheBehavior="CACHE_ALWAYS",
            parameters={"word": "x"},
        )
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    omics.delete_run_cache(id=cache["id"])


SLOW_WDL = """version 1.0
workflow Slow {
  input { Int seconds }
  call nap { input: seconds = seconds }
}
task nap {
  input { Int seconds }
  command <<<
    sleep ~{seconds}
  >>>
  runtime { cpu: 1  memory: "1 GiB"  docker: "IMAGE" }
}
"""


def test_run_group_max_runs_keeps_runs_pending(omics: Any, bucket: str, private_image: str) -> None:
    import time

    wf = omics.create_workflow(
        name="slow",
        engine="WDL",
        definitionZip=zip_wdl(SLOW_WDL.replace("IMAGE", private_image)),
        requestId="create-slow",
    )
    wait_for(lambda: omics.get_workflow(id=wf["id"]), "status", {"ACTIVE"})
    group = omics.create_run_group(name="one-at-a-time", maxRuns=1, requestId="group-one")
    ids = [
        omics.start_run(
            workflowId=wf["id"],
            roleArn=ROLE,
            outputUri=f"s3://{bucket}/slow/",
            requestId=f"slow-{i}",
            runGroupId=group["id"],
            parameters={"seconds": 2},
        )["id"]
        for i in range(2)
    ]
    overlap = False
    seen_pending_while_other_runs = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        states = [omics.get_run(id=i)["status"] for i in ids]
        active = [s for s in states if s in ("STARTING", "RUNNING")]
        overlap |= len(active) > 1
        seen_pending_while_other_runs |= "PENDING" in states and len(active) == 1
        if all(s in RUN_DONE for s in states):
            break
        time.sleep(0.2)
    assert [omics.get_run(id=i)["status"] for i in ids] == ["COMPLETED", "COMPLETED"]
    assert not overlap
    assert seen_pending_while_other_runs
