"""The emulator holds HealthOmics jobs to the identity policies of the role they are given.

Policy evaluation (``healthomics_emulator.role_policy``) as IAM's for one identity, then import
jobs on a real moto server: a source the role may not read fails the JOB (FAILED with the
source's status message), not the API call; a grant lets the same import complete; the check is
skipped only by the emulator option ``evaluate_role_policies``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from healthomics_emulator.role_policy import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    UnsupportedConditionError,
    condition_holds,
    evaluate,
)
from healthomics_emulator.server import OmicsEmulator

OBJ = "arn:aws:s3:::data/ref/genome.fa"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    ("statements", "action", "resource", "expected"),
    [
        (
            [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJ}],
            "s3:GetObject",
            OBJ,
            ALLOW,
        ),
        # actions are case-insensitive, resources are not
        (
            [{"Effect": "Allow", "Action": "S3:getobject", "Resource": OBJ}],
            "s3:GetObject",
            OBJ,
            ALLOW,
        ),
        (
            [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJ.upper()}],
            "s3:GetObject",
            OBJ,
            IMPLICIT_DENY,
        ),
        # * spans "/", ? is one character
        (
            [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::data/*"}],
            "s3:GetObject",
            OBJ,
            ALLOW,
        ),
        (
            [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::dat?/ref/genome.fa",
                }
            ],
            "s3:GetObject",
            OBJ,
            ALLOW,
        ),
        (
            [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::d?/ref/genome.fa",
                }
            ],
            "s3:GetObject",
            OBJ,
            IMPLICIT_DENY,
        ),
        # a "." in a pattern is a dot, not any character
        (
            [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::data/ref/genome.fa",
                }
            ],
            "s3:GetObject",
            "arn:aws:s3:::data/ref/genomeXfa",
            IMPLICIT_DENY,
        ),
        # the other bucket: nothing allows it
        (
            [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::in/*"}],
            "s3:GetObject",
            OBJ,
            IMPLICIT_DENY,
        ),
        # an explicit deny wins over any allow
        (
            [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/ref/*"},
            ],
            "s3:GetObject",
            OBJ,
            EXPLICIT_DENY,
        ),
        # NotAction / NotResource
        (
            [{"Effect": "Allow", "NotAction": "s3:PutObject", "Resource": "*"}],
            "s3:GetObject",
            OBJ,
            ALLOW,
        ),
        (
            [{"Effect": "Allow", "NotAction": "s3:Get*", "Resource": "*"}],
            "s3:GetObject",
            OBJ,
            IMPLICIT_DENY,
        ),
        (
            [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::in/*"},
            ],
            "s3:GetObject",
            OBJ,
            EXPLICIT_DENY,
        ),
        (
            [{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::data/*"}],
            "s3:GetObject",
            OBJ,
            IMPLICIT_DENY,
        ),
        # a condition on a key the request does not carry: the Allow does not apply
        (
            [
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": OBJ,
                    "Condition": {"StringEquals": {"s3:ExistingObjectTag/x": "y"}},
                }
            ],
            "s3:GetObject",
            OBJ,
            IMPLICIT_DENY,
        ),
    ],
)
def test_evaluation(
    statements: list[dict[str, Any]], action: str, resource: str, expected: str
) -> None:
    assert evaluate([_doc(*statements)], action, resource) == expected


def test_several_documents_and_conditions() -> None:
    allow = _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJ})
    deny = _doc({"Effect": "Deny", "Action": "*", "Resource": "*"})
    assert evaluate([allow], "s3:GetObject", OBJ) == ALLOW
    assert evaluate([allow, deny], "s3:GetObject", OBJ) == EXPLICIT_DENY
    assert evaluate([], "s3:GetObject", OBJ) == IMPLICIT_DENY
    ctx = {"aws:sourceaccount": "123456789012", "aws:tagkeys": ["a", "b"]}
    assert condition_holds({"StringEquals": {"aws:SourceAccount": "123456789012"}}, ctx)
    assert not condition_holds({"StringEquals": {"aws:SourceAccount": "999999999999"}}, ctx)
    assert condition_holds({"StringNotEquals": {"aws:SourceAccount": "999999999999"}}, ctx)
    assert condition_holds({"StringLikeIfExists": {"aws:SourceArn": "arn:*"}}, ctx)
    assert not condition_holds({"StringLike": {"aws:SourceArn": "arn:*"}}, ctx)
    assert condition_holds({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b", "c"]}}, ctx)
    assert not condition_holds({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, ctx)
    assert condition_holds({"ForAnyValue:StringEquals": {"aws:TagKeys": ["b"]}}, ctx)
    assert not condition_holds({"NumericLessThan": {"aws:SourceAccount": "1"}}, ctx)


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"Null": {"aws:SourceArn": "true"}}, True),
        ({"Null": {"aws:SourceArn": "false"}}, False),
        ({"Null": {"aws:SourceAccount": "false"}}, True),
        ({"Null": {"aws:SourceAccount": "true"}}, False),
        ({"NumericLessThan": {"s3:max-keys": "11"}}, True),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, False),
        ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, True),
        ({"NumericNotEquals": {"s3:max-keys": "10"}}, False),
        ({"NumericEquals": {"s3:max-keys": "ten"}}, False),
        ({"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}, True),
        ({"DateLessThan": {"aws:CurrentTime": "2026-01-01"}}, False),
        ({"DateLessThan": {"aws:EpochTime": "1800000000"}}, True),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, True),
        ({"IpAddress": {"aws:SourceIp": "192.168.0.0/16"}}, False),
        ({"NotIpAddress": {"aws:SourceIp": "192.168.0.0/16"}}, True),
        ({"NumericLessThanIfExists": {"aws:MultiFactorAuthAge": "3600"}}, True),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else str(v),
)
def test_null_numeric_date_and_ip_operators(condition: dict[str, Any], holds: bool) -> None:
    ctx = {
        "aws:sourceaccount": "123456789012",
        "s3:max-keys": "10",
        "aws:currenttime": "2026-12-06T21:00:00Z",
        "aws:epochtime": "1796590800",
        "aws:sourceip": "10.1.2.3",
    }
    assert condition_holds(condition, ctx) is holds


def test_a_deny_with_an_unknown_operator_fails_loudly_rather_than_allowing() -> None:
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJ}
    # a Deny AWS would apply (the request is not over TLS); its operator is one the emulator
    # does not know: it must not silently not hold (which would allow the request)
    deny = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"BinaryEquals": {"s3:x-amz-content-sha256": "YWJj"}},
    }
    with pytest.raises(UnsupportedConditionError, match="condition operator 'BinaryEquals'"):
        evaluate([_doc(allow, deny)], "s3:GetObject", OBJ)
    # a Null Deny: denied when the key is missing from the request, as AWS does
    null_deny = {**deny, "Condition": {"Null": {"aws:SourceArn": "true"}}}
    assert evaluate([_doc(allow, null_deny)], "s3:GetObject", OBJ) == EXPLICIT_DENY


# ------------------------------------------------------------------ import jobs on moto
ACCOUNT = "123456789012"
FASTA = b">chr1\nACGTACGTAC\n"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "omics.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from moto.server import ThreadedMotoServer

    mp = pytest.MonkeyPatch()
    port = _free_port()
    mp.setenv("MOTO_PORT", str(port))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    moto = f"http://127.0.0.1:{port}"
    emu = OmicsEmulator(Path(tmp_path_factory.mktemp("omics")), moto)
    emu.start()
    s3, iam = _client("s3", moto), _client("iam", moto)
    for bucket in ("dep-input", "shared-refs"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="shared-refs", Key="grch38/genome.fa", Body=FASTA)
    iam.create_role(RoleName="import", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_role(
        RoleName="not-omics",
        AssumeRolePolicyDocument=json.dumps(
            {
                **TRUST,
                "Statement": [
                    {**TRUST["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}
                ],
            }
        ),
    )
    # the deployment's own bucket only, as the toolkit's import role had before the fix
    iam.put_role_policy(
        RoleName="import",
        PolicyName="least-privilege",
        PolicyDocument=json.dumps(
            _doc(
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": ["arn:aws:s3:::dep-input/*"],
                }
            )
        ),
    )
    omics = _client("omics", emu.url)
    store = omics.create_reference_store(name="refs")["id"]
    try:
        yield {"omics": omics, "iam": iam, "store": store, "emulator": emu}
    finally:
        emu.stop()
        server.stop()
        mp.undo()


def _import(stack: dict[str, Any], role: str, name: str) -> dict[str, Any]:
    omics, store = stack["omics"], stack["store"]
    job = omics.start_reference_import_job(
        referenceStoreId=store,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
        sources=[{"sourceFile": "s3://shared-refs/grch38/genome.fa", "name": name}],
    )
    deadline = time.monotonic() + 30
    while True:
        got = omics.get_reference_import_job(id=job["id"], referenceStoreId=store)
        if got["status"] in ("COMPLETED", "FAILED", "COMPLETED_WITH_FAILURES"):
            return dict(got)
        assert time.monotonic() < deadline, got
        time.sleep(0.1)


def test_an_import_whose_role_cannot_read_the_source_fails_the_job(stack: dict[str, Any]) -> None:
    job = _import(stack, "import", "denied")
    assert job["status"] == "FAILED"
    expected = (
        "s3://shared-refs/grch38/genome.fa: AccessDenied: role import may not s3:GetObject "
        "(implicitly denied)"
    )
    assert job["sources"][0]["status"] == "FAILED"
    assert job["sources"][0]["statusMessage"] == expected
    assert job["statusMessage"] == expected
    assert "referenceId" not in job["sources"][0]


def test_a_role_that_omics_cannot_assume_fails_the_job(stack: dict[str, Any]) -> None:
    for role in ("not-omics", "missing"):
        job = _import(stack, role, f"assume-{role}")
        assert job["status"] == "FAILED"
        assert job["sources"][0]["statusMessage"] == (
            f"s3://shared-refs/grch38/genome.fa: Unable to assume role {role}"
        )


def test_granting_the_object_lets_the_import_complete(stack: dict[str, Any]) -> None:
    stack["iam"].put_role_policy(
        RoleName="import",
        PolicyName="shared-reference",
        PolicyDocument=json.dumps(
            _doc(
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": ["arn:aws:s3:::shared-refs/grch38/genome.fa"],
                }
            )
        ),
    )
    try:
        job = _import(stack, "import", "granted")
        assert job["status"] == "COMPLETED", job
        assert job["sources"][0]["referenceId"]
    finally:
        stack["iam"].delete_role_policy(RoleName="import", PolicyName="shared-reference")


def test_the_check_is_skipped_only_by_the_emulator_option(stack: dict[str, Any]) -> None:
    backend = stack["emulator"].backend
    assert backend.options["evaluate_role_policies"] is True  # on by default
    backend.set_options({"evaluate_role_policies": False})
    try:
        assert _import(stack, "import", "unchecked")["status"] == "COMPLETED"
    finally:
        backend.set_options({"evaluate_role_policies": True})
    assert _import(stack, "import", "checked-again")["status"] == "FAILED"
