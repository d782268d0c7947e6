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
