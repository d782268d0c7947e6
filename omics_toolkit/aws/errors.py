"""Translate botocore ``ClientError`` into domain errors with fields, once, for every client.

Every client made by :class:`omics_toolkit.aws.session.AwsContext` raises, instead of botocore's
modeled error (``NoSuchKey``, ``ResourceNotFoundException``, ...), an instance of a class that
derives from both that botocore class and the toolkit's error kind for its code
(:class:`~omics_toolkit.errors.ResourceNotFoundError`, :class:`~omics_toolkit.errors.AlreadyExistsError`,
:class:`~omics_toolkit.errors.ConflictError`, :class:`~omics_toolkit.errors.AccessDeniedError`,
:class:`~omics_toolkit.errors.ThrottlingError`, :class:`~omics_toolkit.errors.InvalidRequestError`,
else :class:`~omics_toolkit.errors.AwsError`), with ``service``, ``operation``, ``code`` and
``message`` fields. The core catches those kinds and never imports botocore; the class name and
message stay botocore's, so what a user or a Step Functions ``ErrorEquals`` sees is unchanged.
Model: chalice ``awsclient.TypedAWSClient`` (``ResourceDoesNotExistError``), done here with
botocore's public ``after-call`` event rather than one method per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from omics_toolkit.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    AwsError,
    ConflictError,
    InvalidRequestError,
    ResourceNotFoundError,
    ThrottlingError,
)

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


ALREADY_EXISTS_CODES = {
    "AlreadyExistsException",
    "EntityAlreadyExists",
    "EntityAlreadyExistsException",
    "ResourceAlreadyExistsException",
    "ResourceConflictException",
    "BucketAlreadyOwnedByYou",
    "BucketAlreadyExists",
    "StateMachineAlreadyExists",
    "ExecutionAlreadyExists",
    "RepositoryAlreadyExistsException",
    "PullThroughCacheRuleAlreadyExistsException",
}
CONFLICT_CODES = {"ConflictException", "ResourceInUseException", "OperationAbortedException"}
ACCESS_DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
}
THROTTLING_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
}
INVALID_REQUEST_CODES = {
    "ValidationException",
    "ValidationError",
    "InvalidParameterValueException",
    "InvalidParameterException",
    "InvalidInputException",
    "InvalidRequestException",
    "InvalidArgument",
    "MalformedPolicyDocument",
}

#: Error kind for each code; any other code is a plain :class:`AwsError`.
KINDS: dict[str, type[AwsError]] = {
    **dict.fromkeys(NOT_FOUND_CODES, ResourceNotFoundError),
    **dict.fromkeys(ALREADY_EXISTS_CODES, AlreadyExistsError),
    **dict.fromkeys(CONFLICT_CODES, ConflictError),
    **dict.fromkeys(ACCESS_DENIED_CODES, AccessDeniedError),
    **dict.fromkeys(THROTTLING_CODES, ThrottlingError),
    **dict.fromkeys(INVALID_REQUEST_CODES, InvalidRequestError),
}


def error_code(exc: ClientError | AwsError) -> str:
    """The AWS error code of ``exc`` (``"NoSuchKey"``, ``"ValidationException"``, ...)."""
    if isinstance(exc, AwsError) and not isinstance(exc, ClientError):
        return exc.code
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def kind_of(code: str) -> type[AwsError]:
    """The toolkit's error class for an AWS error code (``AwsError`` when it has no kind)."""
    return KINDS.get(code, AwsError)


def _sdk_init(self: Any, error_response: dict[str, Any], operation_name: str) -> None:
    ClientError.__init__(self, error_response, operation_name)
    error = error_response.get("Error", {})
    self.service = ""
    self.operation = operation_name
    self.code = str(error.get("Code", "Unknown"))
    self.message = str(error.get("Message", ""))


def translated_class(sdk_class: type[ClientError], kind: type[AwsError]) -> type:
    """A class deriving from ``kind`` and botocore's ``sdk_class``, with ``sdk_class``'s name.

    Instances are built like botocore's (``cls(error_response, operation_name)``), so ``str()``,
    ``response`` and ``except ClientError`` behave as before; ``service``, ``operation``,
    ``code`` and ``message`` are set as on :class:`AwsError`.
    """
    # Kept on botocore's class itself (one per session and code), so the cache lives and dies with
    # the session's exception classes.
    cache: dict[type[AwsError], type] = sdk_class.__dict__.get("_toolkit_translated") or {}
    if not cache:
        setattr(sdk_class, "_toolkit_translated", cache)  # noqa: B010 - a class attribute
    cls = cache.get(kind)
    if cls is None:
        namespace = {"__init__": _sdk_init, "__module__": sdk_class.__module__}
        cls = cache[kind] = type(sdk_class.__name__, (kind, sdk_class), namespace)
    return cls


def is_sdk_error(exc: BaseException) -> bool:
    """True for an error an AWS client raised (translated here), not one the toolkit raised."""
    return isinstance(exc, ClientError)


def raise_translated(client: Any) -> Any:
    """An ``after-call`` handler for ``client`` that raises the translated error of a failed call.

    botocore emits ``after-call`` just before it raises the modeled error for an HTTP status of
    300 or more; this handler raises, with the same response and operation, the class from
    :func:`translated_class` for botocore's class of that code (``client.exceptions.from_code``)
    and the code's kind. Retries (botocore's retry handler) happen before ``after-call``.
    """
    service = client.meta.service_model.service_name

    def handler(
        http_response: Any, parsed: dict[str, Any], model: Any, context: Any = None, **_: Any
    ) -> None:
        if http_response is None or http_response.status_code < 300:
            return
        code = (context or {}).get("error_code_override") or parsed.get("Error", {}).get("Code")
        sdk_class = client.exceptions.from_code(code)
        error = translated_class(sdk_class, kind_of(str(code)))(parsed, model.name)
        error.service = service
        raise error

    return handler


@contextmanager
def translate(service: str, operation: str) -> Iterator[None]:
    """Re-raise an AWS error raised inside the block as a plain :class:`AwsError`.

    :class:`ResourceNotFoundError` for the codes in :data:`NOT_FOUND_CODES`, else
    :class:`AwsError` (not the finer kinds of :func:`kind_of`). Its message names the call
    (``"s3:GetObject failed with NoSuchKey: ..."``) where botocore's names only the operation.
    """
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
