"""Error hierarchy shared by every layer.

Two tiers reach the CLI (``omics_toolkit.cli.main.run``): :class:`UserError` (and subclasses),
every other :class:`ToolkitError`, AWS errors (:class:`AwsError` kinds and botocore's own: no
credentials, unreachable endpoints, answers that are not AWS's) and errors about a named file
print one ``error:`` line saying what happened and what to fix, and exit 1; anything else is a
bug and prints a traceback. ``--debug`` shows the traceback of every error.
"""

from __future__ import annotations


class ToolkitError(Exception):
    """Base class of every error raised on purpose by omics-toolkit."""


class UserError(ToolkitError):
    """Something the user can fix: bad input, missing tool, stack not running, ..."""


class ConfigError(UserError):
    """A setting is missing or invalid."""


class LocalStackError(UserError):
    """The embedded local stack is not running or could not be started."""


class NotProvisionedError(UserError):
    """A deployment's resource (bucket, workgroup, state machine, store...) does not exist: the
    deployment was never provisioned in this target and region, or was torn down.

    The one place that words this error, so every command says the same thing and the same fix.

    Attributes:
        deployment: the deployment name.
        target: ``"local"`` or ``"aws"``.
        region: the region looked in.
        missing: what was not found, e.g. ``"state machine dev-germline"`` (may be empty).
    """

    def __init__(self, deployment: str, target: str, region: str, missing: str = "") -> None:
        self.deployment = deployment
        self.target = target
        self.region = region
        self.missing = missing
        # Outside the local stack, the target and region belong in the fix: a bare
        # `omics-toolkit provision` would provision the local stack (or the default region).
        flags = "" if target == "local" else f" --target {target} --region {region}"
        detail = f": no {missing}" if missing else ""
        super().__init__(
            f"deployment {deployment} is not provisioned (in {target}/{region}){detail}; "
            f"run `omics-toolkit -d {deployment}{flags} provision`"
        )


class AwsError(ToolkitError):
    """An AWS API call failed.

    Attributes:
        service: botocore service name, e.g. ``"omics"``.
        operation: API operation name, e.g. ``"StartRun"``.
        code: AWS error code, e.g. ``"ValidationException"``.
        message: the service's message.
        endpoint: the endpoint URL that answered, when known (``None``: AWS's own or unknown).
    """

    endpoint: str | None = None

    def __init__(self, service: str, operation: str, code: str, message: str) -> None:
        super().__init__(f"{service}:{operation} failed with {code}: {message}")
        self.service = service
        self.operation = operation
        self.code = code
        self.message = message


class ResourceNotFoundError(AwsError):
    """The named AWS resource does not exist."""


class AlreadyExistsError(AwsError):
    """A resource of that name already exists (``EntityAlreadyExists``, ``AlreadyExistsException``...)."""


class ConflictError(AwsError):
    """The resource is in a state that does not allow the call (``ConflictException``...)."""


class AccessDeniedError(AwsError):
    """The caller's identity, a resource policy or a service control policy denied the call."""


class ThrottlingError(AwsError):
    """The service throttled the call after botocore's retries."""


class InvalidRequestError(AwsError):
    """The service rejected the request's parameters (``ValidationException``...)."""


class PipelineError(ToolkitError):
    """A pipeline step failed; ``cause`` carries the service's own reason."""


class RunOutputsMissingError(PipelineError):
    """A completed run did not produce the outputs the pipeline imports (name used in ASL Catch)."""


class ChecksumMismatchError(ToolkitError):
    """A downloaded file's checksum differs from the one S3 gives for the object.

    The partial file is kept (``<dest>.part``) for inspection; the next download of the same
    object starts over.

    Attributes:
        path: the partial file that failed verification.
        source: the object, ``s3://bucket/key``.
        kind: what was compared, e.g. ``"sha256"`` or ``"md5 of 3 part md5s (ETag)"``.
        expected: the value S3 gives (base64 for S3 checksums, hex for ETags).
        actual: the value computed from the downloaded bytes, in the same form.
    """

    def __init__(self, path: str, source: str, kind: str, expected: str, actual: str) -> None:
        self.path = path
        self.source = source
        self.kind = kind
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{path}: {kind} of the downloaded bytes is {actual} but {source} has {expected}; "
            "the partial file is kept for inspection and the next download starts over"
        )
