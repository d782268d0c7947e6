"""Helpers of the HealthOmics emulator tests (tests/functional/local/omics), importable by name
(a module called ``conftest`` is ambiguous when several directories have one)."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from tests.support import omics_roles

ROLE = "arn:aws:iam::123456789012:role/omics-service-role"


#: What ``ROLE`` may do: the emulator holds imports and runs to the role's identity policies.
SERVICE_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": ["arn:aws:s3:::*"],
        },
        {
            "Effect": "Allow",
            "Action": [
                "omics:GetReference",
                "omics:GetReferenceMetadata",
                "omics:GetReadSet",
                "omics:GetReadSetMetadata",
            ],
            "Resource": ["arn:aws:omics:us-east-1:123456789012:*"],
        },
    ],
}


def create_service_role(moto_url: str, name: str, policy: dict[str, Any]) -> str:
    """A role HealthOmics may assume, with ``policy`` inline; returns its ARN."""
    return omics_roles.create_service_role(_client("iam", moto_url), name, policy)


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


def zip_wdl(text: str) -> bytes:
    """A workflow definition zip holding ``text`` as ``main.wdl`` (CreateWorkflow definitionZip)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("main.wdl", text)
    return buf.getvalue()


def wait_for(
    fetch: Callable[[], dict[str, Any]], key: str, done: set[str], timeout: float = 30.0
) -> dict[str, Any]:
    """Poll ``fetch()`` every 0.2 s until ``result[key]`` is in ``done``; return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if result.get(key) in done:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {key} in {done}: {result.get(key)} ({result})"
            )
        time.sleep(0.2)


FASTA = (
    ">chr1 test\n"
    + "ACGT" * 50
    + "\n"
    + "GATTACA" * 10
    + "\n>chr2\n"
    + "TTTTGGGGCCCCAAAA" * 8
    + "\n"
)
