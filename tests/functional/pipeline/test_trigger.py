"""The pair detector's core on the local stack: one execution per pair content, whatever the events."""

from __future__ import annotations

import json

from omics_toolkit.aws.stepfunctions import list_executions
from omics_toolkit.pipeline.trigger import handle_s3_event

WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}


def _event(bucket: str, *keys: str) -> dict:
    return {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": k}},
            }
            for k in keys
        ]
    }


def test_duplicate_and_mate_events_start_exactly_one_running_execution(aws):
    s3, sfn = aws.client("s3"), aws.client("stepfunctions")
    bucket = "trigger-test"
    s3.create_bucket(Bucket=bucket)
    arn = sfn.create_state_machine(
        name="trigger-test", definition=json.dumps(WAIT), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]
    s3.put_object(Bucket=bucket, Key="in/my sample_R1.fq.gz", Body=b"r1")
    first = handle_s3_event(
        _event(bucket, "in/my+sample_R1.fq.gz"),
        s3,
        sfn,
        state_machine_arn=arn,
        poll_interval_seconds=1,
    )
    assert [r["action"] for r in first] == ["waiting"]

    s3.put_object(Bucket=bucket, Key="in/my sample_R2.fq.gz", Body=b"r2")
    s3.put_object(Bucket=bucket, Key="in/notes.txt", Body=b"x")
    # Both mates' events, a duplicate, and a non-FASTQ object in one batch, while the execution runs.
    results = handle_s3_event(
        _event(
            bucket,
            "in/my+sample_R2.fq.gz",
            "in/my+sample_R1.fq.gz",
            "in/my+sample_R2.fq.gz",
            "in/notes.txt",
        ),
        s3,
        sfn,
        state_machine_arn=arn,
        poll_interval_seconds=1,
    )
    assert [r["action"] for r in results] == [
        "started",
        "already-started",
        "already-started",
        "ignored",
    ]
    assert len({r["execution_name"] for r in results[:3]}) == 1
    executions = list_executions(sfn, arn)
    assert len(executions) == 1 and executions[0]["status"] == "RUNNING"
    started = json.loads(
        sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"]
    )
    assert started["fastq1"] == f"s3://{bucket}/in/my sample_R1.fq.gz"
    assert started["sample"] == "my sample"
    sfn.stop_execution(executionArn=executions[0]["executionArn"])
