"""Workflows and runs on the emulator: parameter template checks, idempotency, a real miniwdl run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.omics_helpers import ROLE, wait_for, zip_wdl

RUN_DONE = {"COMPLETED", "FAILED", "CANCELLED"}

HELLO_WDL = """version 1.0

workflow Hello {
  input {
    File reads
    File genome
    String greeting
    Int copies = 2
  }
  call count { input: reads = reads, genome = genome, greeting = greeting, copies = copies }
  output {
    File report = count.report
    Array[File] parts = count.parts
  }
}

task count {
  input {
    File reads
    File genome
    String greeting
    Int copies
  }
  command <<<
    set -e
    echo "~{greeting} $(wc -l < ~{reads}) $(grep -c '>' ~{genome})" > report.txt
    for i in $(seq 1 ~{copies}); do echo "part $i" > part_$i.txt; done
    echo "counted" >&2
  >>>
  output {
    File report = "report.txt"
    Array[File] parts = glob("part_*.txt")
  }
  runtime { cpu: 2  memory: "1 GiB"  docker: "IMAGE" }
}
"""

FAIL_WDL = """version 1.0
workflow Boom {
  input { String msg }
  call explode { input: msg = msg }
}
task explode {
  input { String msg }
  command <<<
    echo "about to fail" >&2
    echo "~{msg}" >&2
    exit 3
  >>>
  runtime { cpu: 1  memory: "1 GiB"  docker: "IMAGE" }
}
"""


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def hello(omics: Any, private_image: str) -> str:
    wf = omics.create_workflow(
        name="hello",
        engine="WDL",
        definitionZip=zip_wdl(HELLO_WDL.replace("IMAGE", private_image)),
        main="main.wdl",
        requestId="create-hello",
        parameterTemplate={
            "reads": {"description": "reads", "optional": False},
            "genome": {"description": "genome", "optional": False},
            "greeting": {"description": "greeting", "optional": False},
            "copies": {"description": "copies", "optional": True},
        },
    )
    assert wf["status"] == "CREATING"
    again = omics.create_workflow(
        name="hello",
        engine="WDL",
        definitionZip=zip_wdl(HELLO_WDL.replace("IMAGE", private_image)),
        requestId="create-hello",
    )
    assert again["id"] == wf["id"]
    done = wait_for(lambda: omics.get_workflow(id=wf["id"]), "status", {"ACTIVE", "FAILED"})
    assert done["status"] == "ACTIVE", done
    return wf["id"]


def test_workflow_from_s3_uri_derives_parameter_template(omics: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="wf/boom.zip", Body=zip_wdl(FAIL_WDL))
    wf = omics.create_workflow(
        name="boom", engine="WDL", definitionUri=f"s3://{bucket}/wf/boom.zip", requestId="boom-1"
    )
    done = wait_for(lambda: omics.get_workflow(id=wf["id"]), "status", {"ACTIVE", "FAILED"})
    assert done["status"] == "ACTIVE", done
    assert done["parameterTemplate"] == {"msg": {"description": "String", "optional": False}}
    assert done["main"] == "main.wdl"
    assert wf["id"] in [w["id"] for w in omics.list_workflows()["items"]]


def test_start_run_rejects_unknown_and_missing_parameters(
    omics: Any, hello: str, bucket: str
) -> None:
    base = {
        "workflowId": hello,
        "roleArn": ROLE,
        "outputUri": f"s3://{bucket}/out/",
        "storageType": "DYNAMIC",
    }
    with pytest.raises(ClientError) as exc:
        omics.start_run(
            **base,
            parameters={"reads": "s3://x/y", "genome": "s3://x/g", "greeting": "hi", "bogus": 1},
        )
    assert _code(exc) == "ValidationException"
    assert "bogus" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        omics.start_run(**base, parameters={"reads": "s3://x/y", "genome": "s3://x/g"})
    assert _code(exc) == "ValidationException"
    assert "greeting" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        omics.start_run(**dict(base, workflowId="9999999"), parameters={})
    assert _code(exc) == "ResourceNotFoundException"


def test_run_executes_wdl_uploads_outputs_and_records_tasks(
    omics: Any, s3: Any, logs: Any, hello: str, bucket: str, reference: dict[str, Any]
) -> None:
    s3.put_object(Bucket=bucket, Key="in/reads.txt", Body=b"l1\nl2\nl3\n")
    genome = f"omics://123456789012.storage.us-east-1.amazonaws.com/{reference['storeId']}/reference/{reference['id']}"
    params = {"reads": f"s3://{bucket}/in/reads.txt", "genome": genome, "greeting": "hello"}
    run = omics.start_run(
        workflowId=hello,
        roleArn=ROLE,
        outputUri=f"s3://{bucket}/runs/",
        parameters=params,
        requestId="run-hello-1",
        name="hello-run",
        storageType="DYNAMIC",
    )
    same = omics.start_run(
        workflowId=hello,
        roleArn=ROLE,
        outputUri=f"s3://{bucket}/runs/",
        parameters=params,
        requestId="run-hello-1",
        name="hello-run",
        storageType="DYNAMIC",
    )
    assert same["id"] == run["id"]
    assert run["status"] == "PENDING" and run["id"].isdigit()
    done = wait_for(lambda: omics.get_run(id=run["id"]), "status", RUN_DONE, timeout=60)
    assert done["status"] == "COMPLETED", done
    assert done["outputUri"] == f"s3://{bucket}/runs/"
    assert done["parameters"] == params
    prefix = f"runs/{run['id']}"
    report = s3.get_object(Bucket=bucket, Key=f"{prefix}/out/report/report.txt")["Body"].read()
    assert report == b"hello 3 2\n"
    summary = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{prefix}/logs/outputs.json")["Body"].read()
    )
    assert summary["Hello.report"] == f"s3://{bucket}/{prefix}/out/report/report.txt"
    assert summary["Hello.parts"] == [
        f"s3://{bucket}/{prefix}/out/parts/0/part_1.txt",
        f"s3://{bucket}/{prefix}/out/parts/1/part_2.txt",
    ]
    tasks = omics.list_run_tasks(id=run["id"])["items"]
    assert [(t["name"], t["status"], t["cpus"], t["memory"]) for t in tasks] == [
        ("count", "COMPLETED", 2, 1)
    ]
    task = omics.get_run_task(id=run["id"], taskId=tasks[0]["taskId"])
    assert task["logStream"].endswith(f"run/{run['id']}/task/{tasks[0]['taskId']}")
    events = logs.get_log_events(
        logGroupName="/aws/omics/WorkflowLog",
        logStreamName=f"run/{run['id']}/task/{tasks[0]['taskId']}",
    )
    assert "counted" in [e["message"] for e in events["events"]]
    run_events = logs.get_log_events(
        logGroupName="/aws/omics/WorkflowLog", logStreamName=f"run/{run['id']}"
    )
    assert any("COMPLETED" in e["message"] for e in run_events["events"])


def test_failed_task_fails_run_with_task_name_and_stderr(
    omics: Any, s3: Any, bucket: str, private_image: str
) -> None:
    wf = omics.create_workflow(
        name="boom2",
        engine="WDL",
        definitionZip=zip_wdl(FAIL_WDL.replace("IMAGE", private_image)),
        requestId="boom-2",
    )
    wait_for(lambda: omics.get_workflow(id=wf["id"]), "status", {"ACTIVE"})
    run = omics.start_run(
        workflowId=wf["id"],
        roleArn=ROLE,
        outputUri=f"s3://{bucket}/runs/",
        parameters={"msg": "kaboom"},
        requestId="run-boom",
        storageType="DYNAMIC",
    )
    done = wait_for(lambda: omics.get_run(id=run["id"]), "status", RUN_DONE, timeout=60)
    assert done["status"] == "FAILED"
    assert "explode" in done["failureReason"] and "kaboom" in done["failureReason"]
    assert "about to fail" in done["statusMessage"]
    assert len(done["failureReason"]) <= 64  # FailureReason shape: max 64 characters
    tasks = omics.list_run_tasks(id=run["id"])["items"]
    assert [(t["name"], t["status"]) for t in tasks] == [("explode", "FAILED")]


def test_invalid_wdl_fails_workflow_and_runs_are_refused(omics: Any, bucket: str) -> None:
    wf = omics.create_workflow(
        name="broken",
        engine="WDL",
        definitionZip=zip_wdl("version 1.0\nworkflow {"),
        requestId="broken-1",
    )
    done = wait_for(lambda: omics.get_workflow(id=wf["id"]), "status", {"ACTIVE", "FAILED"})
    assert done["status"] == "FAILED"
    assert "main.wdl: WDL error" in done["statusMessage"]
    with pytest.raises(ClientError) as exc:
        omics.start_run(
            workflowId=wf["id"],
            roleArn=ROLE,
            outputUri=f"s3://{bucket}/runs/",
            storageType="DYNAMIC",
        )
    assert _code(exc) == "ValidationException"
    assert "is not ACTIVE" in str(exc.value)
