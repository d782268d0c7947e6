"""AwsContext records every request it sends, with the caller's parameters."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ParamValidationError

from omics_toolkit.aws.session import AwsContext, RecordedRequest


class Refused(Exception):
    """Raised instead of sending: the request got as far as the wire."""


def _context() -> AwsContext:
    session = boto3.Session(
        aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1"
    )
    return AwsContext(session)


def _offline(ctx: AwsContext, service: str):
    client = ctx.client(service)

    def refuse(request, **_):
        raise Refused(request.url)

    client.meta.events.register("before-send", refuse)
    return client


def test_sent_requests_are_recorded_with_their_parameters() -> None:
    ctx = _context()
    iam = _offline(ctx, "iam")
    with pytest.raises(Refused):
        iam.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument="{}")
    assert ctx.requests == [
        RecordedRequest(
            "iam", "PutRolePolicy", {"RoleName": "r", "PolicyName": "p", "PolicyDocument": "{}"}
        )
    ]
    assert ctx.calls == ["iam:PutRolePolicy"] and ctx.requests[0].call == "iam:PutRolePolicy"

    # Injected idempotency tokens are part of the record; blobs are the caller's, not copies.
    omics = _offline(ctx, "omics")
    with pytest.raises(Refused):
        omics.create_sequence_store(name="s")
    assert ctx.requests[-1].params["clientToken"]
    code = b"PK" + bytes(1024)
    with pytest.raises(Refused):
        _offline(ctx, "lambda").create_function(
            FunctionName="f", Role="arn:aws:iam::123456789012:role/r", Code={"ZipFile": code}
        )
    assert ctx.requests[-1].params["Code"]["ZipFile"] is code


def test_requests_botocore_refuses_are_not_recorded() -> None:
    ctx = _context()
    iam = _offline(ctx, "iam")
    with pytest.raises(ParamValidationError):
        iam.put_role_policy(RoleName="r", PolicyName="p")
    assert ctx.requests == [] and ctx.calls == []
