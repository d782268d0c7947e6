"""What every provisioning step shares: the report, the dry-run guard, waits and helpers.

- :class:`Action` (one line of the report), :class:`Deployment` (a deployment's identifiers);
- :class:`Steps`, the base of the step classes of every area (``storage``, ``iam``,
  ``healthomics``, ``healthomics_workflows``, ``functions``, ``orchestration``, ``analytics``),
  which ``Provisioner`` and ``Teardown`` compose: the AWS clients (in plan mode every mutating
  call is refused before it is sent), the report, polling waits, the retry while a new IAM role
  propagates, and what every delete step shares (``_delete``, ``_ours``, ``_omics_tags``);
- helpers: deterministic tokens, canonical JSON, tag lists.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omics_toolkit.aws.session import AwsContext, is_read
from omics_toolkit.aws.stepfunctions import deployment_state_machine_arn
from omics_toolkit.config import Settings
from omics_toolkit.constants import DEPLOYMENT_TAG
from omics_toolkit.errors import (
    AwsError,
    NotProvisionedError,
    ResourceNotFoundError,
    ToolkitError,
)
from omics_toolkit.identity import Names

#: Placeholder for identifiers a plan cannot know before the resource exists.
AFTER_APPLY = "(known after apply)"


@dataclass
class Action:
    """One line of the provisioning report: ``create``, ``update``, ``unchanged`` or ``delete``."""

    kind: str
    name: str
    action: str
    detail: str = ""


@dataclass
class Deployment:
    """Identifiers of a provisioned deployment, discovered by name (nothing is cached locally)."""

    names: Names
    reference_store_id: str | None = None
    reference_id: str | None = None
    sequence_store_id: str | None = None
    workflow_id: str | None = None
    workflow_version: str | None = None
    state_machine_arn: str | None = None
    variant_store_id: str | None = None
    #: ``"local"`` or ``"aws"``: where the deployment was looked for (named in errors).
    target: str = "local"

    def require(self, attr: str) -> str:
        """The identifier ``attr``.

        Raises:
            NotProvisionedError: the deployment lacks it (not provisioned in this target/region).
        """
        value = getattr(self, attr)
        if not value:
            raise NotProvisionedError(
                self.names.deployment,
                self.target,
                self.names.region,
                _MISSING.get(attr, attr.replace("_", " ")).format(names=self.names),
            )
        return str(value)


#: What a missing :class:`Deployment` identifier is called in errors (``names``: its Names).
_MISSING = {
    "state_machine_arn": "state machine {names.state_machine}",
    "workflow_id": "workflow",
    "reference_store_id": "reference store",
    "reference_id": "reference",
    "sequence_store_id": "sequence store",
    "variant_store_id": "variant store",
}

Reporter = Callable[[Action], None]


def is_provisioned(ctx: AwsContext, settings: Settings) -> bool:
    """Whether the deployment's pipeline state machine ``<deployment>-germline`` exists.

    Source: Step Functions DescribeStateMachine (``StateMachineDoesNotExist`` -> ``False``).

    Raises:
        AwsError: any other failure of the call.
    """
    names = Names(settings.deployment, ctx.account_id, ctx.region)
    arn = deployment_state_machine_arn(ctx, names.state_machine)
    try:
        ctx.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    except ResourceNotFoundError:
        return False
    return True


class PlanMutationError(ToolkitError):
    """A dry run (``omics-toolkit plan``) tried to change something: a bug in the toolkit."""


def tags_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """``[{"Key": k, "Value": v}, ...]`` sorted by key (the Tags shape of IAM, ECR, S3...)."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def canon(doc: Any) -> str:
    """Canonical JSON of a document (a JSON string is parsed first), for comparisons."""
    if isinstance(doc, str):
        doc = json.loads(doc)
    return json.dumps(doc, sort_keys=True)


def token(*parts: str) -> str:
    """Deterministic idempotency token (``clientToken``/``requestId``) from the given parts."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


#: Longest idempotency-token prefix: the longest token made with it, ``<prefix>/<execution
#: name>-reads`` (execution names: at most 80 characters), stays within StartReadSetImportJob's
#: ``clientToken`` maximum of 127 (StartRun ``requestId``: 128).
TOKEN_PREFIX_MAX = 40


def token_prefix(deployment: str, incarnation: str | None) -> str:
    """Prefix of the pipeline's run and import idempotency tokens: ``<deployment>/<incarnation>``.

    Idempotency tokens are account-wide and HealthOmics answers a reused one with the job it
    made the first time. ``incarnation`` is the random id kept in the deployment's output bucket
    (:meth:`~omics_toolkit.provisioning.storage.StorageSteps.incarnation`), which holds the runs'
    outputs: it stays the same across re-provisions and retries, and changes when ``teardown
    --force-delete-data`` deleted the bucket (and with it the old runs' outputs) and ``provision``
    made it anew. Hashed to :data:`TOKEN_PREFIX_MAX` characters when longer, so that
    ``<prefix>/<execution name (80)>-reads`` fits StartReadSetImportJob's 127-character
    ``clientToken``.

    Args:
        deployment: the deployment name.
        incarnation: the bucket's id, ``None`` before it exists (``plan`` of a new deployment).
    """
    prefix = f"{deployment}/{incarnation or 'new'}"
    if len(prefix) <= TOKEN_PREFIX_MAX:
        return prefix
    return hashlib.sha256(prefix.encode()).hexdigest()[:TOKEN_PREFIX_MAX]


def statement_diff(current: Any, wanted: dict[str, Any]) -> str:
    """``+N/-M statements`` between two policy documents (for plan details)."""
    if isinstance(current, str):
        current = json.loads(current)
    have = {canon(st) for st in (current or {}).get("Statement", [])}
    want = {canon(st) for st in wanted.get("Statement", [])}
    return f"+{len(want - have)}/-{len(have - want)} statements"


#: What AWS services answer while an IAM role (or a permission) created moments ago has not
#: propagated yet ("Changes that I make are not always immediately visible", IAM User Guide
#: troubleshooting): ``(error code, message fragments (lower case), the operations)``. A match
#: needs the code and one fragment, so a real misconfiguration with another message fails at once.
#: Each entry says where its wording comes from: DOCUMENTED/OBSERVED (AWS's own wording, as quoted
#: by the service's documentation or retried on by terraform-provider-aws) or ASSUMED (no
#: published wording; fragments chosen to cover the likely phrasings).
IAM_PROPAGATION_ERRORS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # Lambda, OBSERVED: "The role defined for the function cannot be assumed by Lambda."; "The
    # provided execution role does not have permissions to call ReceiveMessage on SQS"
    # (terraform-provider-aws retries both on CreateFunction/CreateEventSourceMapping)
    (
        "InvalidParameterValueException",
        ("cannot be assumed by lambda", "execution role does not have permissions"),
        "Lambda CreateFunction, UpdateFunctionConfiguration, CreateEventSourceMapping",
    ),
    # Step Functions, OBSERVED: "Neither the global service principal states.amazonaws.com, nor
    # the regional one is authorized to assume the provided role." (terraform-provider-aws
    # retries it on CreateStateMachine)
    (
        "AccessDeniedException",
        ("authorized to assume the provided role",),
        "Step Functions CreateStateMachine, UpdateStateMachine",
    ),
    # HealthOmics, ASSUMED: no published wording for a roleArn it cannot assume yet
    # (ValidationException or AccessDeniedException naming the role); the fragments cover the
    # usual phrasings. EventBridge PutTargets/PutRule, OBSERVED: "Provided role ... cannot be
    # assumed by principal 'events.amazonaws.com'."
    (
        "ValidationException",
        ("cannot be assumed", "unable to assume", "not authorized to assume", "assume the role"),
        "HealthOmics Start*ImportJob, StartRun (assumed); EventBridge PutRule, PutTargets",
    ),
    # HealthOmics, ASSUMED (as above)
    (
        "AccessDeniedException",
        ("unable to assume", "not authorized to assume", "assume the role", "sts:assumerole"),
        "HealthOmics Start*ImportJob, StartRun (assumed)",
    ),
    # S3, DOCUMENTED: S3 checks the Lambda permission (AddPermission) of a notification's
    # function and answers "Unable to validate the following destination configurations" (AWS
    # Knowledge Center article on that error)
    (
        "InvalidArgument",
        ("unable to validate the following destination configurations",),
        "S3 PutBucketNotificationConfiguration",
    ),
)
#: Longest total wait for IAM propagation, seconds: IAM changes can take minutes to be seen
#: everywhere; terraform-provider-aws waits up to 2 minutes (``PropagationTimeout``).
IAM_PROPAGATION_MAX_SECONDS = 120.0
#: Longest single wait between attempts, seconds.
IAM_PROPAGATION_MAX_DELAY_SECONDS = 10.0


def _propagation_delays(total: float, cap: float) -> tuple[float, ...]:
    """Waits 1, 2, 4, 8, then ``cap`` seconds, the last one trimmed so they add up to ``total``."""
    delays: list[float] = []
    delay = 1.0
    while sum(delays) < total:
        delays.append(min(delay, cap, total - sum(delays)))
        delay *= 2
    return tuple(delays)


#: Waits between attempts, seconds: 1, 2, 4, 8, then 10 s up to 120 s in all (IAM usually
#: propagates in under 10 s).
IAM_PROPAGATION_DELAYS = _propagation_delays(
    IAM_PROPAGATION_MAX_SECONDS, IAM_PROPAGATION_MAX_DELAY_SECONDS
)


def is_iam_propagation_error(exc: AwsError) -> bool:
    """Whether ``exc`` is one of :data:`IAM_PROPAGATION_ERRORS` (code and message fragment)."""
    message = (exc.message or "").lower()
    return any(
        exc.code == code and any(fragment in message for fragment in fragments)
        for code, fragments, _ in IAM_PROPAGATION_ERRORS
    )


def retry_iam_propagation(
    call: Callable[[], Any],
    sleep: Callable[[float], None] = time.sleep,
    delays: tuple[float, ...] = IAM_PROPAGATION_DELAYS,
) -> Any:
    """``call()``, retried after each of ``delays`` while it fails with an error of a role or
    permission not propagated yet (:func:`is_iam_propagation_error`).

    Raises:
        AwsError: any other error at once; a propagation error after the last attempt.
    """
    for delay in (*delays, None):
        try:
            return call()
        except AwsError as exc:
            if delay is None or not is_iam_propagation_error(exc):
                raise
            sleep(delay)
    raise AssertionError("unreachable")


class Steps:
    """Shared state of the provisioning steps of one deployment (base of every area's steps).

    Args:
        ctx: AWS clients (local stack or real account).
        settings: effective settings (deployment name, workflow, storage type, poll interval).
        report: called with every :class:`Action` as it happens (progress display).
        sleep: injectable for tests; used while waiting for asynchronous HealthOmics jobs.
        dry_run: plan only: read the current state and report what would change; any mutating
            call raises :class:`PlanMutationError` (a bug) before it is sent.
    """

    def __init__(
        self,
        ctx: AwsContext,
        settings: Settings,
        report: Reporter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        dry_run: bool = False,
    ) -> None:
        self.ctx = ctx
        self.dry_run = dry_run
        self._guarded: set[str] = set()
        self.settings = settings
        self.names = Names(settings.deployment, ctx.account_id, ctx.region)
        self.tags = {DEPLOYMENT_TAG: settings.deployment}
        self.actions: list[Action] = []
        self._report = report or (lambda action: None)
        self._sleep = sleep
        self.partition = ctx.partition()

    def client(self, service: str) -> Any:
        """The context's client for ``service``; in a dry run, mutating calls are refused."""
        client = self.ctx.client(service)
        if self.dry_run and service not in self._guarded:
            client.meta.events.register(
                "before-call", self._refuse_mutation, unique_id=f"plan-guard-{id(self)}"
            )
            self._guarded.add(service)
        return client

    def _refuse_mutation(self, model: Any, **_: Any) -> None:
        if self.dry_run and not is_read(model.name):
            raise PlanMutationError(
                f"plan attempted {model.service_model.service_name}:{model.name} (a bug: plans only read)"
            )

    def end_plan(self) -> None:
        """Unregister the dry-run guard from the shared clients (the context may be reused)."""
        for service in self._guarded:
            self.ctx.client(service).meta.events.unregister(
                "before-call", unique_id=f"plan-guard-{id(self)}"
            )
        self._guarded.clear()

    def _change(self, changes: list[str], label: str, call: Callable[[], Any]) -> None:
        """Record ``label`` as a differing field and make ``call`` unless this is a dry run."""
        changes.append(label)
        if not self.dry_run:
            call()

    def _record(self, kind: str, name: str, action: str, detail: str = "") -> None:
        item = Action(kind, name, action, detail)
        self.actions.append(item)
        self._report(item)

    def _delete(self, kind: str, name: str, detail: str, call: Callable[[], Any]) -> None:
        """Report ``delete`` and make ``call`` (unless this is a dry run).

        A :class:`~omics_toolkit.errors.ResourceNotFoundError` from ``call`` means the resource
        is already gone and is not an error: the SDK retried a delete whose first attempt the
        service performed (its response lost to a 5xx or a dropped connection), or another
        teardown got there first.
        """
        self._record(kind, name, "delete", detail)
        if not self.dry_run:
            try:
                call()
            except ResourceNotFoundError:
                pass

    def _ours(self, tags: dict[str, str] | None) -> bool:
        """Whether ``tags`` carry this deployment's tag (teardown deletes only such resources)."""
        return bool(tags) and tags.get(DEPLOYMENT_TAG) == self.names.deployment  # type: ignore[union-attr]

    def _omics_tags(self, arn: str) -> dict[str, str]:
        """Tags of a HealthOmics resource (omics ListTagsForResource)."""
        return dict(self.client("omics").list_tags_for_resource(resourceArn=arn)["tags"])

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>``.

        The region is left empty when ``region`` is false, the account for S3 (bucket ARNs carry
        neither).
        """
        reg = self.ctx.region if region else ""
        account = self.ctx.account_id if service not in ("s3",) else ""
        return f"arn:{self.partition}:{service}:{reg}:{account}:{resource}"

    def _wait(
        self,
        what: str,
        get_status: Callable[[], tuple[str, str]],
        done: set[str],
        timeout_seconds: float = 3600,
    ) -> None:
        deadline = time.monotonic() + timeout_seconds
        while True:
            status, message = get_status()
            if status in done:
                return
            if status in {"FAILED", "CANCELLED", "DELETED", "COMPLETED_WITH_FAILURES"}:
                raise ToolkitError(f"{what} ended {status}: {message}")
            if time.monotonic() > deadline:
                raise ToolkitError(f"{what} still {status} after {timeout_seconds:.0f} s")
            self._sleep(self.ctx.job_poll_seconds)

    def _retry_iam_propagation(self, call: Callable[[], Any]) -> Any:
        """``call``, retried while a new IAM role or permission has not propagated yet (see
        :func:`retry_iam_propagation`)."""
        return retry_iam_propagation(call, self._sleep)

    def _find_by_name(
        self, list_op: str, key: str, name: str, **kwargs: Any
    ) -> dict[str, Any] | None:
        omics = self.client("omics")
        for page in omics.get_paginator(list_op).paginate(**kwargs):
            for item in page[key]:
                if item.get("name") == name and item.get("status") not in (
                    "DELETING",
                    "DELETED",
                    "FAILED",
                ):
                    return dict(item)
        return None
