"""Translate botocore ``ClientError`` into domain errors with fields."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

from omics_toolkit.errors import AwsError, ResourceNotFoundError

NOT_FOUND_CODES = {
    "ResourceNotFoundException",
    "NoSuchKey",
    "NoSuchBucket",
    "NoSuchEntity",
    "EntityNotFoundException",
    "StateMachineDoesNotExist",
    "ExecutionDoesNotExist",
    "404",
}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


@contextmanager
def translate(service: str, operation: str) -> Iterator[None]:
    """Re-raise ``ClientError`` raised inside the block as :class:`AwsError` (or a subclass)."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", exc))
        cls = ResourceNotFoundError if code in NOT_FOUND_CODES else AwsError
        raise cls(service, operation, code, message) from exc


def user_message(exc: BaseException) -> str | None:
    """A one-line "what to fix" for AWS SDK errors a user can fix, else ``None`` (a bug).

    Covers missing profiles/credentials/region, unreachable endpoints, expired or denied access.
    """
    from botocore import exceptions as bx

    if isinstance(exc, bx.ProfileNotFound):
        return f"{exc}: check --profile / AWS_PROFILE against ~/.aws/config"
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return f"{exc}: run `aws configure` or `aws sso login`, or set AWS_PROFILE"
    if isinstance(exc, bx.NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(exc, bx.EndpointConnectionError):
        return (
            f"{exc}: is the local stack running (`omics-toolkit local status`) or the network up?"
        )
    if isinstance(exc, bx.ClientError):
        code = error_code(exc)
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            return f"access denied: {exc}. The caller needs the permission named above."
        if code in (
            "ExpiredToken",
            "ExpiredTokenException",
            "RequestExpired",
            "InvalidClientTokenId",
        ):
            return f"{exc}: refresh your credentials (e.g. `aws sso login`)"
    return None
