"""Asynchronous Lambda on the local stack: S3 notifications and Invoke(Event) are queued, retried
as Lambda retries them, dropped to async-failures.jsonl and the on-failure destination; faults
injected through <state dir>/faults/*.json.

Retry waits are the stack's defaults (1 s, then 2 s; AWS waits about 60 s and 120 s).
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote_plus

import pytest

from omics_toolkit.local import faults
from omics_toolkit.local.patches.lambda_exec import INJECTED_ERROR_TYPE

T = TypeVar("T")

#: Records every delivery as an object ``deliveries/<key>/<time>-<uuid>`` before acting on it.
#: The object key's second part says what to do: ``slow`` sleeps 3 s first, ``fail-N`` fails
#: while fewer than N deliveries came before, ``fail-always`` always fails, anything else succeeds.
HANDLER = '''
import json
import time
import uuid
from urllib.parse import unquote_plus

import boto3


class DeliveryFailedError(Exception):
    """Raised on purpose."""


def handler(event, context):
    if "Records" in event:
        record = event["Records"][0]["s3"]
        bucket, key = record["bucket"]["name"], unquote_plus(record["object"]["key"])
    else:
        bucket, key = event["bucket"], event["key"]
    mode = key.split("/")[1]
    if mode == "slow":
        time.sleep(3)
    s3 = boto3.client("s3")
    prefix = "deliveries/" + key + "/"
    before = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0)
    body = {"request_id": context.aws_request_id, "at": time.time(), "event": event}
    s3.put_object(
        Bucket=bucket, Key=f"{prefix}{time.time_ns()}-{uuid.uuid4().hex}", Body=json.dumps(body)
    )
    if mode == "fail-always" or (mode.startswith("fail-") and before < int(mode[5:])):
        raise DeliveryFailedError(f"delivery {before + 1} of {key} fails on purpose")
    return {"delivery": before + 1}
'''


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buf.getvalue()


def _until(check: Callable[[], T], what: str, timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what} (last: {value!r})")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def state_dir(local_stack: dict[str, Any]) -> Path:
    path = Path(os.environ["OMICS_TOOLKIT_HOME"]) / "local"
    assert Path(local_stack["log"]).parent == path
    return path


@pytest.fixture(autouse=True)
def no_faults_left(state_dir: Path) -> Iterator[None]:
    yield
    faults.clear_lambda_faults(state_dir)
    faults.clear_s3_faults(state_dir)


@pytest.fixture(scope="module")
def role(aws: Any) -> str:
    return str(
        aws.client("iam").create_role(RoleName="otk-async", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
    )


@pytest.fixture
def wire(aws: Any, role: str) -> Callable[..., str]:
    """``wire(name, **config)``: bucket ``name`` notifying function ``name`` of ``in/*`` objects,
    with the invoke permission S3 needs and, if given, an event invoke config."""
    lam, s3 = aws.client("lambda"), aws.client("s3")

    def make(name: str, **event_invoke_config: Any) -> str:
        arn = lam.create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": _zip()},
            Timeout=10,
        )["FunctionArn"]
        lam.add_permission(
            FunctionName=name,
            StatementId="s3-invoke",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            SourceArn=f"arn:aws:s3:::{name}",
        )
        if event_invoke_config:
            lam.put_function_event_invoke_config(FunctionName=name, **event_invoke_config)
        s3.create_bucket(Bucket=name)
        s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {
                        "LambdaFunctionArn": arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                    }
                ]
            },
        )
        return str(arn)

    return make


def _deliveries(aws: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    s3 = aws.client("s3")
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"deliveries/{key}/").get("Contents", [])
    return [
        json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
        for o in sorted(listing, key=lambda o: o["Key"])
    ]


def _failures(state_dir: Path, function: str) -> list[dict[str, Any]]:
    return [r for r in faults.async_failures(state_dir) if r["function"] == function]


def _put(aws: Any, bucket: str, key: str) -> float:
    started = time.monotonic()
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=b"@r\nA\n+\nI\n")
    return time.monotonic() - started


def test_put_object_returns_before_a_slow_handler_finishes(aws: Any, wire: Any) -> None:
    wire("otk-async-slow")
    took = _put(aws, "otk-async-slow", "in/slow/a.fastq")
    assert took < 1.5, f"PutObject waited {took:.2f} s for the handler"
    assert _deliveries(aws, "otk-async-slow", "in/slow/a.fastq") == []
    (delivery,) = _until(lambda: _deliveries(aws, "otk-async-slow", "in/slow/a.fastq"), "delivery")
    record = delivery["event"]["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put"
    assert unquote_plus(record["s3"]["object"]["key"]) == "in/slow/a.fastq"


def test_failing_twice_then_succeeding_is_delivered_three_times(
    aws: Any, wire: Any, state_dir: Path
) -> None:
    wire("otk-async-flaky")
    _put(aws, "otk-async-flaky", "in/fail-2/a.fastq")
    got = _until(
        lambda: len(d := _deliveries(aws, "otk-async-flaky", "in/fail-2/a.fastq")) >= 3 and d,
        "three deliveries",
    )
    time.sleep(1.5)  # a fourth would come 2 s after the third
    assert len(_deliveries(aws, "otk-async-flaky", "in/fail-2/a.fastq")) == 3
    assert len({d["request_id"] for d in got}) == 1, "retries keep the request id"
    assert got[0]["event"] == got[1]["event"] == got[2]["event"]
    first, second, third = (d["at"] for d in got)
    assert second - first >= 0.9 and third - second >= 1.9, "waits of 1 s then 2 s"
    assert _failures(state_dir, "otk-async-flaky") == []


def test_an_event_failing_every_attempt_is_dropped_to_the_record_and_the_queue(
    aws: Any, wire: Any, state_dir: Path
) -> None:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="otk-async-on-failure")["QueueUrl"]
    destination = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    arn = wire("otk-async-broken", DestinationConfig={"OnFailure": {"Destination": destination}})
    _put(aws, "otk-async-broken", "in/fail-always/a.fastq")
    (record,) = _until(lambda: _failures(state_dir, "otk-async-broken"), "a dropped event")
    deliveries = _deliveries(aws, "otk-async-broken", "in/fail-always/a.fastq")
    assert len(deliveries) == 3
    assert record["condition"] == "RetriesExhausted" and record["attempts"] == 3
    assert record["request_id"] == deliveries[0]["request_id"]
    assert [e["errorType"] for e in record["errors"]] == ["DeliveryFailedError"] * 3
    assert record["error"]["errorMessage"].startswith("delivery 3 of in/fail-always/a.fastq")
    assert record["event"] == deliveries[0]["event"] and record["source"] == "s3"
    assert record["destination"] == destination and record["destination_error"] is None

    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    body = json.loads(message["Body"])
    assert body["requestContext"] == {
        "requestId": record["request_id"],
        "functionArn": f"{arn}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert body["requestPayload"] == record["event"]
    assert body["responsePayload"]["errorType"] == "DeliveryFailedError"


def test_maximum_retry_attempts_zero_is_honoured(aws: Any, wire: Any, state_dir: Path) -> None:
    wire("otk-async-once", MaximumRetryAttempts=0)
    _put(aws, "otk-async-once", "in/fail-always/a.fastq")
    (record,) = _until(lambda: _failures(state_dir, "otk-async-once"), "a dropped event")
    assert record["attempts"] == 1 and record["condition"] == "RetriesExhausted"
    time.sleep(1.5)  # a retry would have come after 1 s
    assert len(_deliveries(aws, "otk-async-once", "in/fail-always/a.fastq")) == 1


def test_timeout_after_handler_runs_the_handler_and_lambda_retries_it(
    aws: Any, wire: Any, state_dir: Path
) -> None:
    wire("otk-async-late")
    faults.add_lambda_faults(
        state_dir, [{"function": "otk-async-late", "mode": "timeout_after_handler"}]
    )
    _put(aws, "otk-async-late", "in/ok/a.fastq")
    got = _until(
        lambda: len(d := _deliveries(aws, "otk-async-late", "in/ok/a.fastq")) >= 2 and d,
        "the handler run twice",
    )
    assert len({d["request_id"] for d in got}) == 1
    (rule,) = faults.lambda_faults(state_dir)
    assert (rule["count"], rule["fired"]) == (0, 1)
    events = aws.client("logs").filter_log_events(logGroupName="/aws/lambda/otk-async-late")
    text = "\n".join(e["message"] for e in events["events"])
    assert f"RequestId: {got[0]['request_id']} Error: Task timed out after 10.00 seconds" in text
    time.sleep(1.0)
    assert len(_deliveries(aws, "otk-async-late", "in/ok/a.fastq")) == 2
    assert _failures(state_dir, "otk-async-late") == []


def test_duplicate_delivery_delivers_the_same_event_twice(
    aws: Any, wire: Any, state_dir: Path
) -> None:
    wire("otk-async-twice")
    faults.set_s3_duplicates(state_dir, 1)
    _put(aws, "otk-async-twice", "in/ok/dup.fastq")
    got = _until(
        lambda: len(d := _deliveries(aws, "otk-async-twice", "in/ok/dup.fastq")) >= 2 and d,
        "two deliveries",
    )
    assert got[0]["event"] == got[1]["event"]
    assert got[0]["request_id"] != got[1]["request_id"], "two invocations, not a retry"
    assert faults.s3_faults(state_dir) == {"duplicate": 0, "duplicated": 1}
    _put(aws, "otk-async-twice", "in/ok/once.fastq")
    _until(lambda: _deliveries(aws, "otk-async-twice", "in/ok/once.fastq"), "a delivery")
    time.sleep(1.0)
    assert len(_deliveries(aws, "otk-async-twice", "in/ok/once.fastq")) == 1
    assert len(_deliveries(aws, "otk-async-twice", "in/ok/dup.fastq")) == 2


def test_invoke_event_returns_202_at_once_and_is_retried(aws: Any, wire: Any) -> None:
    wire("otk-async-invoke")
    lam = aws.client("lambda")
    started = time.monotonic()
    resp = lam.invoke(
        FunctionName="otk-async-invoke",
        InvocationType="Event",
        Payload=json.dumps({"bucket": "otk-async-invoke", "key": "direct/fail-1/x"}),
    )
    assert time.monotonic() - started < 1.5
    assert resp["StatusCode"] == 202 and resp["Payload"].read() == b""
    got = _until(
        lambda: len(d := _deliveries(aws, "otk-async-invoke", "direct/fail-1/x")) >= 2 and d,
        "a failed delivery and its retry",
    )
    assert got[0]["request_id"] == got[1]["request_id"]

    dry = lam.invoke(
        FunctionName="otk-async-invoke",
        InvocationType="DryRun",
        Payload=json.dumps({"bucket": "otk-async-invoke", "key": "direct/ok/dry"}),
    )
    assert dry["StatusCode"] == 204
    time.sleep(1.0)
    assert _deliveries(aws, "otk-async-invoke", "direct/ok/dry") == []


def test_injected_error_and_timeout_do_not_run_the_handler(
    aws: Any, wire: Any, state_dir: Path
) -> None:
    wire("otk-async-faulty")
    faults.add_lambda_faults(
        state_dir,
        [
            {"function": "otk-async-faulty", "mode": "error"},
            {"function": "otk-async-faulty", "mode": "timeout"},
        ],
    )
    lam = aws.client("lambda")
    payload = json.dumps({"bucket": "otk-async-faulty", "key": "direct/ok/x"})

    def call() -> tuple[dict[str, Any], str | None]:
        resp = lam.invoke(FunctionName="otk-async-faulty", Payload=payload)
        return json.loads(resp["Payload"].read()), resp.get("FunctionError")

    body, error = call()
    assert error and body["errorType"] == INJECTED_ERROR_TYPE
    started = time.monotonic()
    body, error = call()
    assert time.monotonic() - started < 5, "an injected timeout does not wait for the timeout"
    assert error and body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Error: Task timed out after 10.00 seconds")
    assert _deliveries(aws, "otk-async-faulty", "direct/ok/x") == []
    body, error = call()
    assert error is None and body == {"delivery": 1}
    assert [(r["mode"], r["count"], r["fired"]) for r in faults.lambda_faults(state_dir)] == [
        ("error", 0, 1),
        ("timeout", 0, 1),
    ]


def test_step_functions_reports_a_timeout_as_sandbox_timedout(
    aws: Any, wire: Any, role: str, state_dir: Path
) -> None:
    arn = wire("otk-async-sfn")
    faults.add_lambda_faults(state_dir, [{"function": "*", "mode": "timeout"}])
    sfn = aws.client("stepfunctions")
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                "Catch": [
                    {"ErrorEquals": ["Sandbox.Timedout"], "ResultPath": "$.error", "Next": "Caught"}
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    machine = sfn.create_state_machine(
        name="otk-async-timeout", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    execution = sfn.start_execution(
        stateMachineArn=machine,
        input=json.dumps({"bucket": "otk-async-sfn", "key": "direct/ok/x"}),
    )["executionArn"]
    done = _until(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        "the execution to stop",
    )
    assert done["status"] == "SUCCEEDED", done
    error = json.loads(done["output"])["error"]
    assert error["Error"] == "Sandbox.Timedout"
    assert "Task timed out after 10.00 seconds" in json.loads(error["Cause"])["errorMessage"]
    assert _deliveries(aws, "otk-async-sfn", "direct/ok/x") == []
