"""Step Functions aws-sdk tasks on the local stack: PascalCase in and out, AWS error names."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest


def _run(
    aws: Any, name: str, definition: dict[str, Any], payload: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/otk-sfn-test",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        desc = sfn.describe_execution(executionArn=execution)
        if desc["status"] != "RUNNING":
            history = sfn.get_execution_history(executionArn=execution)["events"]
            return desc, history
        time.sleep(0.2)
    raise AssertionError(f"{execution} still running")


def test_pascal_case_parameters_and_output(aws: Any) -> None:
    aws.client("s3").create_bucket(Bucket="otk-sdk-bucket")
    aws.client("glue").create_database(DatabaseInput={"Name": "otk_sdk_db", "Description": "d"})
    definition = {
        "StartAt": "ListBuckets",
        "States": {
            "ListBuckets": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
                "Parameters": {},
                "ResultSelector": {"Names.$": "$.Buckets[*].Name", "First.$": "$.Buckets[0]"},
                "ResultPath": "$.buckets",
                "Next": "GetDatabases",
            },
            "GetDatabases": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:glue:getDatabases",
                "Parameters": {"MaxResults": 100},
                "ResultPath": "$.dbs",
                "Next": "GetDatabase",
            },
            "GetDatabase": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:glue:getDatabase",
                "Parameters": {"Name.$": "$.missing"},
                "Catch": [
                    {
                        "ErrorEquals": ["Glue.EntityNotFoundException"],
                        "ResultPath": "$.error",
                        "Next": "Done",
                    }
                ],
                "Next": "Done",
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    desc, history = _run(aws, "otk-sdk-sm", definition, {"missing": "no_such_db"})
    assert desc["status"] == "SUCCEEDED", desc
    out = json.loads(desc["output"])
    assert "otk-sdk-bucket" in out["buckets"]["Names"]
    assert isinstance(out["buckets"]["First"]["CreationDate"], str)
    assert out["buckets"]["First"]["CreationDate"].endswith("Z")
    names = [d["Name"] for d in out["dbs"]["DatabaseList"]]
    assert "otk_sdk_db" in names
    assert out["error"]["Error"] == "Glue.EntityNotFoundException"
    failed = [e for e in history if e["type"] == "TaskFailed"]
    assert failed and failed[0]["taskFailedEventDetails"]["error"] == "Glue.EntityNotFoundException"


def test_omics_tasks_go_to_the_emulator(aws: Any, local_stack: dict[str, Any]) -> None:
    if not local_stack.get("omics"):
        pytest.skip("HealthOmics emulator not present in this tree yet")
    definition = {
        "StartAt": "ListWorkflows",
        "States": {
            "ListWorkflows": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:omics:listWorkflows",
                "Parameters": {"MaxResults": 10},
                "Next": "GetRun",
            },
            "GetRun": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:omics:getRun",
                "Parameters": {"Id": "0000000"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}],
                "Next": "Done",
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    desc, _ = _run(aws, "otk-sdk-omics", definition, {})
    assert desc["status"] == "SUCCEEDED", desc
    out = json.loads(desc["output"])
    assert "Items" in out or "error" in out
    assert out["error"]["Error"].startswith("Omics.")
