"""The local stack process: start/status/stop and moto state kept across a restart."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from omics_toolkit.config import read_local_endpoints
from omics_toolkit.errors import LocalStackError
from omics_toolkit.local.stack import lifecycle as stack

HANDLER = """
from urllib.parse import unquote_plus

import boto3


def handler(event, context):
    for record in event.get("Records", []):
        s3 = record["s3"]
        key = unquote_plus(s3["object"]["key"])
        boto3.client("s3").put_object(Bucket=s3["bucket"]["name"], Key="seen/" + key, Body=b"x")
    return {"ok": True}
"""


def _clients(record: dict[str, Any]) -> dict[str, Any]:
    kw = {
        "endpoint_url": record["moto"],
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return {
        s: boto3.client(s, **kw)
        for s in ("s3", "iam", "lambda", "glue", "lakeformation", "stepfunctions", "logs")
    }


def _seen(s3: Any, expected: list[str] | None = None, timeout: float = 15) -> list[str]:
    """Keys the handler wrote; with ``expected``, wait for them (S3 invokes asynchronously),
    then for a moment longer so that a duplicate invocation would show."""
    deadline = time.monotonic() + timeout
    while True:
        listing = s3.list_objects_v2(Bucket="otk-persist", Prefix="seen/")
        keys = sorted(o["Key"] for o in listing.get("Contents", []))
        if expected is None or keys == expected or time.monotonic() > deadline:
            return keys
        time.sleep(0.2)


def _populate(c: dict[str, Any]) -> None:
    role = c["iam"].create_role(RoleName="otk-persist", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", HANDLER)
    fn = c["lambda"].create_function(
        FunctionName="otk-persist-fn",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buf.getvalue()},
        Timeout=10,
    )["FunctionArn"]
    s3 = c["s3"]
    s3.create_bucket(Bucket="otk-persist")
    s3.put_bucket_tagging(
        Bucket="otk-persist",
        Tagging={"TagSet": [{"Key": "omics-toolkit:deployment", "Value": "t"}]},
    )
    s3.put_public_access_block(
        Bucket="otk-persist",
        PublicAccessBlockConfiguration={
            k: True
            for k in (
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            )
        },
    )
    s3.put_bucket_notification_configuration(
        Bucket="otk-persist",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": fn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                }
            ]
        },
    )
    s3.put_object(
        Bucket="otk-persist",
        Key="in/a.fastq",
        Body=b"@r1\nACGT\n+\nIIII\n",
        Metadata={"sample": "s1"},
        Tagging="omics-toolkit:lifecycle=raw",
    )
    c["glue"].create_database(DatabaseInput={"Name": "otk_persist_db"})
    c["lakeformation"].grant_permissions(
        Principal={"DataLakePrincipalIdentifier": role},
        Resource={"Database": {"Name": "otk_persist_db"}},
        Permissions=["DESCRIBE"],
    )
    arn = c["stepfunctions"].create_state_machine(
        name="otk-persist-sm",
        roleArn=role,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    c["stepfunctions"].start_execution(stateMachineArn=arn, name="first")


def test_start_status_stop_and_persistence(tmp_path: Path) -> None:
    local_dir = tmp_path / "local"
    assert stack.status(local_dir) is None
    assert stack.stop(local_dir) is False

    record = stack.start(local_dir, timeout_seconds=60)
    try:
        assert record["moto_ok"] and (record["omics_ok"] or record["omics"] is None)
        assert (local_dir / "stack.json").is_file()
        assert read_local_endpoints(local_dir)["pid"] == record["pid"]
        assert stack.start(local_dir)["pid"] == record["pid"], "a live stack is reused"
        c = _clients(record)
        _populate(c)
        assert _seen(c["s3"], ["seen/in/a.fastq"]) == ["seen/in/a.fastq"], "fired once"
    finally:
        assert stack.stop(local_dir) is True
    assert not (local_dir / "stack.json").exists()
    assert stack.status(local_dir) is None
    with pytest.raises(LocalStackError):
        read_local_endpoints(local_dir)
    assert (local_dir / "moto" / "manifest.json").is_file()

    record = stack.start(local_dir, timeout_seconds=60)
    try:
        assert "s3" in record["restored"] and "lambda" in record["restored"]
        assert all("could not" not in item for item in record["not_restored"])
        c = _clients(record)
        s3 = c["s3"]
        head = s3.head_object(Bucket="otk-persist", Key="in/a.fastq")
        assert head["Metadata"] == {"sample": "s1"}
        assert (
            s3.get_object(Bucket="otk-persist", Key="in/a.fastq")["Body"].read()
            == b"@r1\nACGT\n+\nIIII\n"
        )
        tags = s3.get_object_tagging(Bucket="otk-persist", Key="in/a.fastq")["TagSet"]
        assert tags == [{"Key": "omics-toolkit:lifecycle", "Value": "raw"}]
        assert s3.get_bucket_tagging(Bucket="otk-persist")["TagSet"][0]["Value"] == "t"
        assert s3.get_public_access_block(Bucket="otk-persist")["PublicAccessBlockConfiguration"][
            "BlockPublicAcls"
        ]
        assert _seen(s3) == ["seen/in/a.fastq"], "restoring must not fire notifications"
        s3.put_object(Bucket="otk-persist", Key="in/b.fastq", Body=b"x")
        both = ["seen/in/a.fastq", "seen/in/b.fastq"]
        assert _seen(s3, both) == both, "notifications still attached"
        assert c["glue"].get_database(Name="otk_persist_db")["Database"]["Name"] == "otk_persist_db"
        grants = c["lakeformation"].list_permissions()["PrincipalResourcePermissions"]
        assert any(g["Permissions"] == ["DESCRIBE"] for g in grants)
        machines = c["stepfunctions"].list_state_machines()["stateMachines"]
        assert [m["name"] for m in machines] == ["otk-persist-sm"]
        executions = c["stepfunctions"].list_executions(
            stateMachineArn=machines[0]["stateMachineArn"]
        )["executions"]
        assert [e["name"] for e in executions] == ["first"]
        assert c["logs"].describe_log_groups(logGroupNamePrefix="/aws/lambda/otk-persist-fn")[
            "logGroups"
        ]
    finally:
        assert stack.stop(local_dir) is True


def test_start_failure_reports_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local_dir = tmp_path / "local"
    broken = tmp_path / "broken" / "moto"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('moto is broken on purpose')\n")
    monkeypatch.setenv("PYTHONPATH", str(broken.parent))  # the server process imports this moto
    started = time.monotonic()
    with pytest.raises(LocalStackError, match="(?s)exited with status.*moto is broken on purpose"):
        stack.start(local_dir, timeout_seconds=30)
    assert time.monotonic() - started < 30
    assert not (local_dir / "stack.json").exists()
    assert os.path.getsize(local_dir / "stack.log") > 0
