"""A freshly created role is used before IAM has propagated it: provisioning retries each error a
service answers then (``IAM_PROPAGATION_ERRORS``), with bounded backoff, and nothing else."""

from __future__ import annotations

import pytest

from omics_toolkit.errors import AccessDeniedError, AwsError, InvalidRequestError
from omics_toolkit.provisioning.core import (
    IAM_PROPAGATION_DELAYS,
    is_iam_propagation_error,
    retry_iam_propagation,
)

#: What each service answers while the role it is given has not propagated (real messages where
#: published: Lambda, Step Functions, EventBridge, S3).
NOT_YET_PROPAGATED = [
    AwsError(
        "lambda",
        "CreateFunction",
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    ),
    AwsError(
        "lambda",
        "CreateEventSourceMapping",
        "InvalidParameterValueException",
        "The provided execution role does not have permissions to call ReceiveMessage on SQS",
    ),
    AccessDeniedError(
        "stepfunctions",
        "CreateStateMachine",
        "AccessDeniedException",
        "Neither the global service principal states.amazonaws.com, nor the regional one is "
        "authorized to assume the provided role.",
    ),
    InvalidRequestError(
        "omics",
        "StartReferenceImportJob",
        "ValidationException",
        "Unable to assume role arn:aws:iam::123456789012:role/dev-omics-import",
    ),
    AccessDeniedError(
        "omics",
        "StartRun",
        "AccessDeniedException",
        "HealthOmics is not authorized to assume the role arn:aws:iam::123456789012:role/r",
    ),
    InvalidRequestError(
        "events",
        "PutTargets",
        "ValidationException",
        "Provided role 'arn:aws:iam::123456789012:role/r' cannot be assumed by principal "
        "'events.amazonaws.com'.",
    ),
    AwsError(
        "s3",
        "PutBucketNotificationConfiguration",
        "InvalidArgument",
        "Unable to validate the following destination configurations",
    ),
]


class Flaky:
    """Fails with ``error`` ``times`` times, then answers ``"ok"``."""

    def __init__(self, error: AwsError, times: int) -> None:
        self.error, self.left, self.calls = error, times, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise self.error
        return "ok"


@pytest.mark.parametrize("error", NOT_YET_PROPAGATED, ids=lambda e: f"{e.operation}-{e.code}")
def test_each_propagation_error_is_retried_with_backoff(error: AwsError) -> None:
    slept: list[float] = []
    call = Flaky(error, 3)
    assert is_iam_propagation_error(error)
    assert retry_iam_propagation(call, slept.append) == "ok"
    assert call.calls == 4
    assert slept == [1.0, 2.0, 4.0]


def test_the_retry_is_bounded() -> None:
    slept: list[float] = []
    call = Flaky(NOT_YET_PROPAGATED[2], 100)
    with pytest.raises(AccessDeniedError, match="authorized to assume the provided role"):
        retry_iam_propagation(call, slept.append)
    assert call.calls == len(IAM_PROPAGATION_DELAYS) + 1
    assert slept == list(IAM_PROPAGATION_DELAYS)
    # IAM propagation can take minutes: about two minutes in all (as terraform-provider-aws
    # waits), no single wait longer than 10 s
    assert sum(slept) == 120.0
    assert max(slept) == 10.0
    assert slept[:5] == [1.0, 2.0, 4.0, 8.0, 10.0]


@pytest.mark.parametrize(
    "error",
    [
        # same codes, other causes: a real misconfiguration fails at once
        AwsError(
            "lambda",
            "CreateFunction",
            "InvalidParameterValueException",
            "Unzipped size must be smaller than 262144000 bytes",
        ),
        AccessDeniedError(
            "omics",
            "StartRun",
            "AccessDeniedException",
            "User is not authorized to perform: omics:StartRun",
        ),
        InvalidRequestError(
            "omics",
            "StartRun",
            "ValidationException",
            "parameter foo is not in the parameter template",
        ),
        AwsError(
            "s3",
            "PutBucketNotificationConfiguration",
            "InvalidArgument",
            "Configuration is ambiguously defined",
        ),
    ],
    ids=lambda e: f"{e.operation}-{e.code}",
)
def test_other_errors_are_not_retried(error: AwsError) -> None:
    slept: list[float] = []
    call = Flaky(error, 1)
    with pytest.raises(type(error)):
        retry_iam_propagation(call, slept.append)
    assert call.calls == 1 and slept == []
