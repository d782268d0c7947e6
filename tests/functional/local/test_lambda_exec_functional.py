"""Lambda handlers run from their zip on the local stack: Invoke, S3 notification, Step Functions."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

HANDLER = '''
import os
import time
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger

logger = Logger(service="otk-test")


class QcFailedError(Exception):
    """Raised on purpose; Step Functions catches it by name."""


@logger.inject_lambda_context
def handler(event, context):
    logger.info("got event")
    print("plain print from handler")
    if "Records" in event:
        s3 = event["Records"][0]["s3"]
        boto3.client("s3").put_object(
            Bucket=s3["bucket"]["name"], Key="seen/" + unquote_plus(s3["object"]["key"]), Body=b"x"
        )
        return {"seen": unquote_plus(s3["object"]["key"])}
    if event.get("fail"):
        raise QcFailedError("coverage too low: " + str(event["fail"]))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {
        "echo": event,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 10000,
        "my_var": os.environ.get("MY_VAR"),
        "buckets": sorted(b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]),
    }
'''


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", source)
    return buf.getvalue()


@pytest.fixture(scope="module")
def fn(aws: Any) -> dict[str, str]:
    iam, lam = aws.client("iam"), aws.client("lambda")
    role = iam.create_role(RoleName="otk-lambda-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn = lam.create_function(
        FunctionName="otk-fn",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip(HANDLER)},
        Timeout=10,
        MemorySize=256,
        Environment={"Variables": {"MY_VAR": "hello"}},
    )["FunctionArn"]
    slow = lam.create_function(
        FunctionName="otk-slow",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": _zip(HANDLER)},
        Timeout=1,
    )["FunctionArn"]
    return {"arn": arn, "slow": slow, "role": role}


def test_direct_invoke(aws: Any, fn: dict[str, str]) -> None:
    aws.client("s3").create_bucket(Bucket="otk-invoke-visible")
    resp = aws.client("lambda").invoke(FunctionName="otk-fn", Payload=json.dumps({"a": 1}))
    assert "FunctionError" not in resp
    body = json.loads(resp["Payload"].read())
    assert body["echo"] == {"a": 1}
    assert body["function_name"] == "otk-fn"
    assert body["memory"] == 256
    assert body["remaining_ok"] is True
    assert body["my_var"] == "hello"
    assert "otk-invoke-visible" in body["buckets"]


def test_unhandled_error_has_lambda_shape(aws: Any, fn: dict[str, str]) -> None:
    resp = aws.client("lambda").invoke(FunctionName="otk-fn", Payload=json.dumps({"fail": 7}))
    assert resp["FunctionError"]
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "QcFailedError"
    assert body["errorMessage"] == "coverage too low: 7"
    assert any("app.py" in line for line in body["stackTrace"])


def test_timeout(aws: Any, fn: dict[str, str]) -> None:
    started = time.monotonic()
    resp = aws.client("lambda").invoke(FunctionName="otk-slow", Payload=json.dumps({"sleep": 30}))
    assert time.monotonic() - started < 10
    body = json.loads(resp["Payload"].read())
    assert resp["FunctionError"]
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]


def test_logs_go_to_cloudwatch(aws: Any, fn: dict[str, str]) -> None:
    aws.client("lambda").invoke(FunctionName="otk-fn", Payload=json.dumps({"log": "me"}))
    events = aws.client("logs").filter_log_events(logGroupName="/aws/lambda/otk-fn")["events"]
    messages = "\n".join(e["message"] for e in events)
    assert "START RequestId:" in messages and "REPORT RequestId:" in messages
    assert "plain print from handler" in messages
    structured = [
        json.loads(m) for m in messages.splitlines() if m.startswith("{") and "got event" in m
    ]
    assert structured and structured[0]["function_name"] == "otk-fn"
    assert structured[0]["function_request_id"]


def test_s3_notification_invokes_handler(aws: Any, fn: dict[str, str]) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="otk-notify")
    s3.put_bucket_notification_configuration(
        Bucket="otk-notify",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": fn["arn"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                }
            ]
        },
    )
    s3.put_object(Bucket="otk-notify", Key="in/sample_R1.fastq.gz", Body=b"@r\nA\n+\nI\n")
    deadline = time.monotonic() + 15  # S3 invokes the function asynchronously
    keys: list[str] = []
    while "seen/in/sample_R1.fastq.gz" not in keys and time.monotonic() < deadline:
        time.sleep(0.2)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="otk-notify").get("Contents", [])]
    assert "seen/in/sample_R1.fastq.gz" in keys


def _run(
    aws: Any, definition: dict[str, Any], name: str, payload: dict[str, Any], role: str
) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        desc = sfn.describe_execution(executionArn=execution)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.2)
    raise AssertionError(f"execution {execution} still running")


def test_step_functions_lambda_task_and_catch(aws: Any, fn: dict[str, str]) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": fn["arn"], "Payload.$": "$"},
                "ResultSelector": {"result.$": "$.Payload"},
                "Catch": [
                    {"ErrorEquals": ["QcFailedError"], "ResultPath": "$.error", "Next": "Caught"}
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    ok = _run(aws, definition, "otk-lambda-sm", {"x": 1}, fn["role"])
    assert ok["status"] == "SUCCEEDED", ok
    assert json.loads(ok["output"])["result"]["echo"] == {"x": 1}

    caught = _run(aws, definition, "otk-lambda-sm2", {"fail": 3}, fn["role"])
    assert caught["status"] == "SUCCEEDED", caught
    error = json.loads(caught["output"])["error"]
    assert error["Error"] == "QcFailedError"
    assert json.loads(error["Cause"])["errorMessage"] == "coverage too low: 3"


# ------------------------------------------------------------------ layers
PROBE = """
import importlib
import os
import sys

import shadow


def handler(event, context):
    out = {"path": sys.path, "task_root": os.environ["LAMBDA_TASK_ROOT"],
           "runtime_dir": os.environ["LAMBDA_RUNTIME_DIR"], "shadow": shadow.VALUE}
    for name in event.get("imports", []):
        try:
            module = importlib.import_module(name)
            out[name] = getattr(module, "VALUE", module.__file__)
        except ImportError as exc:
            out[name] = type(exc).__name__
    return out
"""


def _zip_files(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buf.getvalue()


def _publish(aws: Any, name: str, files: dict[str, str]) -> str:
    return aws.client("lambda").publish_layer_version(
        LayerName=name, Content={"ZipFile": _zip_files(files)}, CompatibleRuntimes=["python3.13"]
    )["LayerVersionArn"]


@pytest.fixture(scope="module")
def layered(aws: Any, fn: dict[str, str]) -> dict[str, str]:
    first = _publish(
        aws,
        "otk-first",
        {
            "python/shared.py": "VALUE = 'first'\n",
            "python/only_first.py": "VALUE = 'first'\n",
            "python/shadow.py": "VALUE = 'layer'\n",
        },
    )
    second = _publish(
        aws,
        "otk-second",
        {
            "python/shared.py": "VALUE = 'second'\n",
            "python/lib/python3.13/site-packages/site_module.py": "VALUE = 'site-packages'\n",
        },
    )
    aws.client("lambda").create_function(
        FunctionName="otk-layered",
        Runtime="python3.13",
        Role=fn["role"],
        Handler="app.handler",
        Code={"ZipFile": _zip_files({"app.py": PROBE, "shadow.py": "VALUE = 'code'\n"})},
        Layers=[first, second],
        Timeout=10,
    )
    return {"first": first, "second": second}


def _invoke(aws: Any, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    resp = aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    return json.loads(resp["Payload"].read()), "FunctionError" in resp


def test_layers_merge_in_order_after_the_function_code(aws: Any, layered: dict[str, str]) -> None:
    body, errored = _invoke(
        aws, "otk-layered", {"imports": ["shared", "only_first", "site_module"]}
    )
    assert not errored, body
    assert body["shadow"] == "code"  # function code first
    assert body["shared"] == "second"  # the later layer overwrites the earlier one (/opt merge)
    assert body["only_first"] == "first"
    assert body["site_module"] == "site-packages"
    path = body["path"]
    opt = Path(path[2]).parent
    assert path[0] == body["task_root"]
    assert path[1:4] == [
        str(opt / "python" / "lib" / "python3.13" / "site-packages"),
        str(opt / "python"),
        body["runtime_dir"],
    ]
    assert opt != Path(body["task_root"]) and "site-packages" not in body["runtime_dir"]
    assert not any(p.endswith("site-packages") for p in path[4:]), path


def test_environment_packages_are_not_importable(aws: Any, layered: dict[str, str]) -> None:
    """Only the runtime's boto3 and Powertools are there, as in AWS: not the toolkit's venv."""
    body, _ = _invoke(
        aws,
        "otk-layered",
        {"imports": ["boto3", "aws_lambda_powertools", "pandas", "moto", "omics_toolkit"]},
    )
    assert body["boto3"].startswith(body["runtime_dir"])
    assert body["aws_lambda_powertools"].startswith(body["runtime_dir"])
    assert body["pandas"] == body["moto"] == body["omics_toolkit"] == "ModuleNotFoundError"


def test_function_without_layer_cannot_import_the_toolkit(aws: Any, fn: dict[str, str]) -> None:
    aws.client("lambda").create_function(
        FunctionName="otk-no-layer",
        Runtime="python3.13",
        Role=fn["role"],
        Handler="app.handler",
        Code={
            "ZipFile": _zip("import omics_toolkit\n\ndef handler(event, context):\n    return 1\n")
        },
    )
    body, errored = _invoke(aws, "otk-no-layer", {})
    assert errored
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'omics_toolkit'" in body["errorMessage"]


def test_layer_is_extracted_once_and_outlives_its_deletion(
    aws: Any, layered: dict[str, str]
) -> None:
    lam = aws.client("lambda")
    _invoke(aws, "otk-layered", {})
    started = time.monotonic()
    body, errored = _invoke(aws, "otk-layered", {"imports": ["shared"]})
    warm = time.monotonic() - started
    assert not errored and body["shared"] == "second"
    assert warm < 2.0, f"an invoke with cached layers took {warm:.2f} s"
    # AWS: "functions can continue to use any layer version ... after it has been deleted"
    lam.delete_layer_version(LayerName="otk-second", VersionNumber=1)
    body, errored = _invoke(aws, "otk-layered", {"imports": ["shared"]})
    assert not errored and body["shared"] == "second"
