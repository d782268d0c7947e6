"""Sessions and clients, made in one place.

Against the local stack every service points at moto except ``omics``, which points at the
HealthOmics emulator; host-prefix injection is disabled there (omics operations carry host prefixes
such as ``workflows-`` that cannot be prepended to ``127.0.0.1``).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from omics_toolkit import __version__
from omics_toolkit.aws.errors import raise_translated, refuse_non_aws_answer
from omics_toolkit.constants import (
    DEFAULT_REGION,
    LOCAL_ACCESS_KEY,
    LOCAL_SECRET_KEY,
)

if TYPE_CHECKING:
    from omics_toolkit.config import Settings

#: Key under which the API parameters of a call wait in botocore's request context for the
#: ``before-call`` hook (set by the ``before-parameter-build`` hook).
_PARAMS_KEY = "omics_toolkit_api_params"


@dataclass(frozen=True)
class RecordedRequest:
    """One API request as the caller made it, before serialization.

    Attributes:
        service: botocore service name (``iam``, ``stepfunctions``, ``omics``, ...).
        operation: API operation name (``PutRolePolicy``).
        params: a shallow copy of the API parameters after botocore's parameter handlers (so
            injected idempotency tokens are included); nested values and blobs (a Lambda
            ``ZipFile``) are the caller's objects, not copies.
    """

    service: str
    operation: str
    params: dict[str, Any]

    @property
    def call(self) -> str:
        """``"service:Operation"``, as in :attr:`AwsContext.calls`."""
        return f"{self.service}:{self.operation}"


#: Operation-name prefixes of read-only calls; every other operation changes something.
READ_PREFIXES = ("Get", "List", "Describe", "Head", "BatchGet", "Lookup", "Search")


def is_read(operation: str) -> bool:
    """True for read-only operations (``GetRole``, ``ListWorkflows``, ``HeadBucket``, ...)."""
    return operation.startswith(READ_PREFIXES)


@dataclass
class AwsContext:
    """A boto3 session plus the endpoints to use for each service.

    Attributes:
        session: the boto3 session (profile, region, credentials).
        endpoints: service name -> endpoint URL; empty against real AWS.
    """

    session: boto3.Session
    endpoints: dict[str, str] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Every API call made through this context's clients, as ``"service:Operation"``.
    calls: list[str] = field(default_factory=list, repr=False)
    #: The same calls with their parameters, for checking requests against the service model.
    requests: list[RecordedRequest] = field(default_factory=list, repr=False)
    #: Facts looked up once per context (e.g. a deployment's variant back end).
    memo: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Seconds between polls of long jobs (store creation, imports, workflow builds): minutes in
    #: AWS, seconds on the local stack.
    job_poll_seconds: float = 15.0
    #: Seconds between ``GetQueryExecution`` polls of an Athena query.
    query_poll_seconds: float = 1.0
    #: Whether the target's Lambda applies Lambda's platform and size limits to layers (the
    #: embedded local stack runs functions on this machine's interpreter).
    lambda_limits_enforced: bool = True
    #: Whether the AWS-managed Powertools layer exists in the target (its SSM parameter).
    managed_powertools_layer: bool = True

    @property
    def region(self) -> str:
        return self.session.region_name or DEFAULT_REGION

    @property
    def is_local(self) -> bool:
        return bool(self.endpoints)

    def endpoint(self, service: str) -> str | None:
        """The endpoint URL set for ``service`` (or for every service), ``None`` for AWS's own."""
        return self.endpoints.get(service) or self.endpoints.get("default")

    def client(self, service: str) -> Any:
        """Return a cached boto3 client for ``service`` with retries, timeouts and endpoint set."""
        if service not in self._clients:
            endpoint = self.endpoint(service)
            options: dict[str, Any] = {}
            if self.is_local:
                # omics host prefixes ("workflows-", ...) cannot be prepended to 127.0.0.1
                options["inject_host_prefix"] = False
            if service == "s3":
                # botocore presigns S3 URLs with SigV2 in us-east-1 unless told otherwise; AWS
                # accepts SigV4 everywhere (SigV2 is deprecated and refused in newer regions)
                options["signature_version"] = "s3v4"
            config = Config(
                retries={"mode": "standard", "total_max_attempts": 5},
                connect_timeout=10,
                read_timeout=120,
                user_agent_extra=f"omics-toolkit/{__version__}",
                **options,
            )
            client = self.session.client(service, endpoint_url=endpoint, config=config)
            client.meta.events.register("before-parameter-build", self._keep_params)
            client.meta.events.register("before-call", self._record_call)
            client.meta.events.register("before-parse", refuse_non_aws_answer(client))
            client.meta.events.register("after-call", raise_translated(client))
            self._clients[service] = client
        return self._clients[service]

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # A reference, copied in before-call: handlers that run after this one (for the same
        # event or later) still change the dict in place.
        context[_PARAMS_KEY] = params

    def _record_call(self, model: Any, context: dict[str, Any] | None = None, **_: Any) -> None:
        """Record a call about to be sent (it passed botocore's own parameter validation)."""
        service = model.service_model.service_name
        self.calls.append(f"{service}:{model.name}")
        params = dict((context or {}).get(_PARAMS_KEY) or {})
        self.requests.append(RecordedRequest(service, model.name, params))

    def mutating_calls(self) -> list[str]:
        """Calls recorded so far that are not reads (Get/List/Describe/Head/...)."""
        return [c for c in self.calls if not is_read(c.split(":", 1)[1])]

    @cached_property
    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    def partition(self) -> str:
        return self.session.get_partition_for_region(self.region)

    def child_environment(self) -> dict[str, str]:
        """Environment variables that point a child process (boto3, AWS CLI) at the same stack."""
        env = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.is_local:
            env.update(
                AWS_ACCESS_KEY_ID=LOCAL_ACCESS_KEY,
                AWS_SECRET_ACCESS_KEY=LOCAL_SECRET_KEY,
                AWS_ENDPOINT_URL=self.endpoints["default"],
                AWS_ENDPOINT_URL_OMICS=self.endpoints["omics"],
                AWS_DISABLE_HOST_PREFIX_INJECTION="true",
            )
        return env


def local_context(moto_url: str, omics_url: str, region: str = DEFAULT_REGION) -> AwsContext:
    """Context for the embedded local stack at the given endpoints (fake credentials)."""
    session = boto3.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY,
        aws_secret_access_key=LOCAL_SECRET_KEY,
        region_name=region,
    )
    # Default endpoint for every client made from this session, including those libraries such as
    # PyAthena create themselves (botocore's ``endpoint_url`` config variable, as AWS_ENDPOINT_URL).
    session._session.get_component("config_store").set_config_variable("endpoint_url", moto_url)
    return AwsContext(
        session=session,
        endpoints={"default": moto_url, "omics": omics_url},
        job_poll_seconds=1.0,
        query_poll_seconds=0.2,
        lambda_limits_enforced=False,
        managed_powertools_layer=False,
    )


def environment_context() -> AwsContext:
    """Context from the process environment (Lambda handlers, child processes).

    Endpoints come from ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_<SERVICE>`` (read by botocore itself)
    and host-prefix injection from ``AWS_DISABLE_HOST_PREFIX_INJECTION``.
    """
    return AwsContext(session=boto3.Session())


def make_context(settings: Settings) -> AwsContext:
    """Build the context for ``settings.target``.

    Raises:
        LocalStackError: target is local and the local stack is not running or refuses
            connections.
    """
    if settings.target == "local":
        from omics_toolkit.config import read_local_endpoints

        record = read_local_endpoints(settings.local_dir)
        region = str(record.get("region") or DEFAULT_REGION)
        if settings.region and settings.region != region:
            from omics_toolkit.errors import ConfigError

            raise ConfigError(
                f"the local stack runs in {region} but the region setting is {settings.region}: "
                f"restart it in {settings.region} (`omics-toolkit local stop && omics-toolkit local start`) "
                f"or pass --region {region}"
            )
        for url in (record["moto"], record.get("omics")):
            if url and not _accepts_connections(str(url)):
                from omics_toolkit.errors import LocalStackError

                raise LocalStackError(
                    f"the local stack recorded in {settings.local_dir / 'stack.json'} "
                    f"(pid {record.get('pid')}) refuses connections at {url}; restart it with "
                    "`omics-toolkit local stop && omics-toolkit local start`"
                )
        return local_context(record["moto"], record["omics"], region)
    session = boto3.Session(profile_name=settings.profile, region_name=settings.region)
    return AwsContext(session=session)


def _accepts_connections(url: str, timeout_seconds: float = 2.0) -> bool:
    """Whether a TCP connection to ``url``'s host and port succeeds (no HTTP request is sent).

    Checked before any call to the local stack, so a stack whose process lives on but whose
    server is gone fails at once instead of after botocore's retries of every call.
    """
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout_seconds
        ):
            return True
    except OSError:
        return False


def service_protocol(service: str) -> str:
    """The wire protocol the installed botocore speaks to ``service`` (``json``, ``rest-json``...).

    Source: the service model's ``metadata.protocol`` in botocore's data.
    """
    import botocore.session

    return str(botocore.session.get_session().get_service_model(service).protocol)
