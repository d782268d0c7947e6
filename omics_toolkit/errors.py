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


class RegionError(UserError):
    """A genomic region the user typed cannot be used: bad syntax (``contig:start-end``, 1-based
    inclusive, as samtools takes it), start after end, or a contig the file does not have.
    The message says what to type instead."""


class IndexFormatError(UserError):
    """An index file (BAI, CSI, TBI, CRAI) or the data it indexes is not what its specification
    says: wrong magic, truncated, or an offset outside the data file. Attributes: ``kind``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind} index: {message}")
        self.kind = kind


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


class ReadSetArchivedError(UserError):
    """A read set is ARCHIVED (or still ACTIVATING): HealthOmics gives no S3 access to its files
    until it is active again (developer guide, "Accessing HealthOmics read sets with Amazon S3
    URIs"; read sets are archived after 30 days without access).

    Attributes:
        read_set_id: the read set.
        sample_id: its sample.
        status: ``ARCHIVED`` or ``ACTIVATING``.
    """

    def __init__(self, read_set_id: str, sample_id: str, status: str) -> None:
        self.read_set_id = read_set_id
        self.sample_id = sample_id
        self.status = status
        if status == "ACTIVATING":
            fix = "wait for its activation to finish (`omics-toolkit reads show {rs}` shows it)"
        else:
            fix = "run `omics-toolkit reads activate {rs}` (activation takes minutes to hours)"
        super().__init__(
            f"read set {read_set_id} (sample {sample_id}) is {status}: its files cannot be read "
            f"until it is active; " + fix.format(rs=read_set_id)
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
