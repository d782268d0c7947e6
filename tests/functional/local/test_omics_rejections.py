"""The emulator itself (not botocore) rejects what HealthOmics rejects, with the model's error shapes.

Client-side validation is switched off so that invalid requests reach the emulator over HTTP.
"""

from __future__ import annotations

import io
import time
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def raw_omics(local_stack):
    return boto3.client(
        "omics",
        endpoint_url=local_stack["omics"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            inject_host_prefix=False, parameter_validation=False, retries={"max_attempts": 1}
        ),
    )


def _error(call):
    with pytest.raises(ClientError) as exc:
        call()
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_missing_required_member(raw_omics):
    code, message, status = _error(lambda: raw_omics.create_sequence_store(description="no name"))
    assert (code, status) == ("ValidationException", 400)
    assert "name" in message and "must not be null" in message


def test_bad_enum(raw_omics):
    code, message, status = _error(lambda: raw_omics.create_annotation_store(storeFormat="EXCEL"))
    assert (code, status) == ("ValidationException", 400)
    assert "EXCEL" in message and "enum" in message.lower()


def test_start_run_parameter_absent_from_template(raw_omics, aws):
    wdl = b"version 1.0\nworkflow W {\n  input { String who }\n  output { String greeting = 'hi ' + who }\n}\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("main.wdl", wdl)
    wf = raw_omics.create_workflow(
        name="reject-test",
        engine="WDL",
        main="main.wdl",
        definitionZip=buf.getvalue(),
        parameterTemplate={"who": {"description": "name", "optional": False}},
        requestId="reject-test-1",
    )
    for _ in range(100):
        if raw_omics.get_workflow(id=wf["id"])["status"] == "ACTIVE":
            break
        time.sleep(0.1)
    code, message, status = _error(
        lambda: raw_omics.start_run(
            workflowId=wf["id"],
            roleArn="arn:aws:iam::123456789012:role/r",
            outputUri="s3://b/o/",
            requestId="reject-run-1",
            storageType="DYNAMIC",
            parameters={"who": "x", "unexpected": 1},
        )
    )
    assert (code, status) == ("ValidationException", 400)
    assert "unexpected" in message
