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
from http import HTTPStatus
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
    self.endpoint = None


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
        error.endpoint = client.meta.endpoint_url
        raise error

    return handler


def refuse_non_aws_answer(client: Any) -> Any:
    """A ``before-parse`` handler for ``client`` that raises :class:`AwsError` with the HTTP
    status as its code (``"404"``) for a 4xx answer whose body is an HTML page.

    Such an answer comes from something that is not the service (a web server, a proxy, a local
    stack that does not know the call); botocore would fail parsing it as XML with a
    ``ResponseParserError`` holding the whole page. 5xx answers are left to botocore's retries.
    """
    service = client.meta.service_model.service_name

    def handler(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        status = int(response_dict.get("status_code") or 0)
        if not 400 <= status < 500:
            return
        headers = {k.lower(): v for k, v in (response_dict.get("headers") or {}).items()}
        body = response_dict.get("body") or b""
        head = body[:200].lstrip().lower() if isinstance(body, bytes) else b""
        if not head:  # HEAD answers have no body (moto labels its empty 404 text/html)
            return
        if "text/html" not in headers.get("content-type", "") and not head.startswith(
            (b"<!doctype html", b"<html")
        ):
            return
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "HTTP error"
        error = AwsError(service, operation_model.name, str(status), f"{reason} (an HTML page)")
        error.endpoint = client.meta.endpoint_url
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


def sdk_cause(exc: BaseException) -> BaseException | None:
    """The AWS error behind ``exc``: itself or the first in its ``__cause__``/``__context__`` chain.

    An AWS error is an :class:`~omics_toolkit.errors.AwsError` (translated botocore errors are
    too), a botocore ``ClientError`` or ``BotoCoreError`` (no credentials, unreachable endpoint,
    ...). Libraries wrap them: boto3's ``upload_file`` raises ``S3UploadFailedError`` while
    handling the ``ClientError``, PyAthena a ``DatabaseError`` from it. ``None``: no AWS error.
    """
    from botocore.exceptions import BotoCoreError
    from botocore.parsers import ResponseParserError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, AwsError | ClientError | BotoCoreError | ResponseParserError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


#: Phrases of AWS messages that say a named resource does not exist, whatever the error code
#: (Athena answers ``InvalidRequestException`` "WorkGroup ... is not found" / "does not exist").
_MISSING_PHRASES = ("does not exist", "not found", "no such")


def says_missing(exc: BaseException) -> bool:
    """True for an AWS error saying a resource does not exist (not an HTTP error of a non-AWS
    endpoint, such as an HTML 404 page: see :func:`http_status_only`)."""
    if not isinstance(exc, AwsError | ClientError) or http_status_only(exc):
        return False
    code = error_code(exc)
    if kind_of(code) is ResourceNotFoundError:
        return True
    message = str(getattr(exc, "message", "") or exc).lower()
    return kind_of(code) in (AwsError, InvalidRequestError) and any(
        phrase in message for phrase in _MISSING_PHRASES
    )


def http_status_only(exc: BaseException) -> int | None:
    """The HTTP status of an answer that was not an AWS error response, else ``None``.

    botocore names an error by the bare status (code ``"404"``, ``"502"``) when the body holds no
    AWS error (an HTML page from a proxy, a web server or a stack that does not know the call).
    """
    if not isinstance(exc, AwsError | ClientError):
        return None
    code = error_code(exc)
    return int(code) if code.isdigit() else None


def _endpoint(exc: BaseException) -> str:
    endpoint = getattr(exc, "endpoint", None)
    return f" {endpoint}" if endpoint else ""


def _call(exc: BaseException) -> str:
    service = getattr(exc, "service", "") or ""
    operation = getattr(exc, "operation", "") or ""
    return f"{service}:{operation}" if service else operation or "the call"


def user_message(exc: BaseException) -> str | None:
    """A one-line "what happened, what to do" for an AWS SDK error, else ``None`` (not AWS's).

    Covers missing profiles/credentials/region, unreachable endpoints (refused, timed out,
    unknown host), answers that are not AWS's (HTML error pages), expired, rejected or denied
    credentials, throttling, service faults (5xx) and every other AWS error code (its call,
    code and message). ``exc`` may wrap the AWS error (see :func:`sdk_cause`).
    """
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    cause = sdk_cause(exc)
    if cause is None:
        return None
    exc = cause
    if isinstance(exc, bx.ProfileNotFound):
        return f"{exc}: check --profile / AWS_PROFILE against ~/.aws/config"
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return f"{exc}: run `aws configure` or `aws sso login`, or set AWS_PROFILE"
    if isinstance(exc, bx.TokenRetrievalError | bx.SSOError):
        return f"{exc}: log in again (`aws sso login`)"
    if isinstance(exc, bx.NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionClosedError):
        return (
            f"{exc}: is the local stack running (`omics-toolkit local status`), the network up, "
            "and the service offered in this region (--region)?"
        )
    if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return f"{exc}: the endpoint did not answer in time; check the network and retry"
    if isinstance(exc, bx.BotoCoreError):
        return f"AWS SDK error: {exc}"
    if isinstance(exc, ResponseParserError):
        return (
            f"an answer that is not an AWS response ({str(exc).splitlines()[0][:120]}): check the "
            "endpoint settings (AWS_ENDPOINT_URL, proxies) or, on the local stack, that "
            "`omics-toolkit doctor` passes"
        )
    status = http_status_only(exc)
    if status is not None:
        return (
            f"the endpoint{_endpoint(exc)} answered {_call(exc)} with HTTP {status} "
            f"{getattr(exc, 'message', '') or '(no AWS error in the body)'}, not an AWS response: "
            "check the endpoint settings (AWS_ENDPOINT_URL, proxies) or, on the local stack, "
            "that `omics-toolkit doctor` passes (a moto version it does not support?)"
        )
    code = error_code(exc) if isinstance(exc, AwsError | ClientError) else "Unknown"
    message = getattr(exc, "message", "") or str(exc)
    what = f"{_call(exc)} failed with {code}: {message}"
    if kind_of(code) is AccessDeniedError:
        return f"access denied: {what}. The caller needs the permission named above"
    if code in (
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
    ):
        return f"{what}: refresh your credentials (e.g. `aws sso login`) or check the profile"
    if kind_of(code) is ThrottlingError:
        return f"{what}: still throttled after retries; wait a minute and run it again"
    if kind_of(code) is ResourceNotFoundError:
        return f"not found: {what}"
    status_code = 0
    if isinstance(exc, ClientError):
        status_code = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if status_code >= 500:
        return f"{what}: the service failed; run it again later (--debug shows the traceback)"
    return f"{what} (--debug shows the traceback)"
