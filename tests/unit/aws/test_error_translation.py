"""AWS errors are translated once, in omics_toolkit/aws: kinds with fields, botocore's name and text."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from omics_toolkit.aws.errors import error_code, is_sdk_error, kind_of
from omics_toolkit.aws.session import AwsContext
from omics_toolkit.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    AwsError,
    ConflictError,
    InvalidRequestError,
    ResourceNotFoundError,
    ThrottlingError,
    ToolkitError,
)


@pytest.fixture
def ctx() -> AwsContext:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return AwsContext(session=session)


@pytest.mark.parametrize(
    ("service", "method", "params", "code", "status", "kind"),
    [
        ("s3", "get_object", {"Bucket": "b", "Key": "k"}, "NoSuchKey", 404, ResourceNotFoundError),
        (
            "iam",
            "create_role",
            {"RoleName": "r", "AssumeRolePolicyDocument": "{}"},
            "EntityAlreadyExists",
            409,
            AlreadyExistsError,
        ),
        (
            "omics",
            "delete_sequence_store",
            {"id": "1234567890"},
            "ConflictException",
            409,
            ConflictError,
        ),
        (
            "stepfunctions",
            "list_state_machines",
            {},
            "AccessDeniedException",
            400,
            AccessDeniedError,
        ),
        ("glue", "get_databases", {}, "ThrottlingException", 400, ThrottlingError),
        ("omics", "get_run", {"id": "1234567"}, "ValidationException", 400, InvalidRequestError),
        ("sts", "get_caller_identity", {}, "SomethingNew", 500, AwsError),
    ],
)
def test_client_errors_become_toolkit_kinds(
    ctx: AwsContext, service: str, method: str, params: dict, code: str, status: int, kind: type
) -> None:
    client = ctx.client(service)
    with Stubber(client) as stub:
        stub.add_client_error(
            method, service_error_code=code, service_message="the text", http_status_code=status
        )
        with pytest.raises(kind) as info:
            getattr(client, method)(**params)
    exc = info.value
    operation = client.meta.method_to_api_mapping[method]
    assert (exc.service, exc.operation, exc.code, exc.message) == (
        service,
        operation,
        code,
        "the text",
    )
    # botocore's class, name and text are kept: ``except ClientError`` and ErrorEquals still match
    assert isinstance(exc, ClientError) and isinstance(exc, client.exceptions.from_code(code))
    assert isinstance(exc, ToolkitError) and is_sdk_error(exc)
    assert type(exc).__name__ == client.exceptions.from_code(code).__name__
    assert (
        str(exc) == f"An error occurred ({code}) when calling the {operation} operation: the text"
    )
    assert error_code(exc) == code
    assert kind_of(code) is kind


def test_paginated_calls_are_translated(ctx: AwsContext) -> None:
    glue = ctx.client("glue")
    with Stubber(glue) as stub:
        stub.add_client_error(
            "get_tables", service_error_code="EntityNotFoundException", http_status_code=400
        )
        with pytest.raises(ResourceNotFoundError):
            list(glue.get_paginator("get_tables").paginate(DatabaseName="d"))


def test_success_is_untouched(ctx: AwsContext) -> None:
    sts = ctx.client("sts")
    with Stubber(sts) as stub:
        stub.add_response("get_caller_identity", {"Account": "123456789012"})
        assert sts.get_caller_identity()["Account"] == "123456789012"


def test_toolkit_raised_aws_errors_are_not_sdk_errors() -> None:
    exc = ResourceNotFoundError("s3", "GetObject", "NoSuchKey", "gone")
    assert not is_sdk_error(exc)
    assert error_code(exc) == "NoSuchKey"
