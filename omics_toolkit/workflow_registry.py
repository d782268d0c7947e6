"""A deployment's HealthOmics private workflows: register the toolkit's WDL workflows, list them.

Registration is the provisioner's own step (:meth:`Provisioner.ensure_workflow`): CreateWorkflow
the first time, CreateWorkflowVersion (named ``sha256-<16 hex of the digest>``) when the digest of
the packaged WDL and its creation settings changed, nothing otherwise; definitions over 4.4 MB go
through the deployment's output bucket as ``definitionUri``. A deployment's workflows are named
``<deployment>-<workflow>`` and tagged with the deployment; the pipeline's state machine starts
one of them (StartRun ``WorkflowId``/``WorkflowVersionName`` in its definition).

API operations: ListWorkflows, ListWorkflowVersions, ListTagsForResource (HealthOmics);
DescribeStateMachine (Step Functions); plus what ``ensure_workflow`` and the container registry
step call (CreateWorkflow, CreateWorkflowVersion, ECR pull through cache rules).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from omics_toolkit import workflows
from omics_toolkit.constants import DEPLOYMENT_TAG
from omics_toolkit.errors import NotProvisionedError, ResourceNotFoundError
from omics_toolkit.identity import DIGEST_TAG
from omics_toolkit.provisioning.provision import Provisioner
from omics_toolkit.provisioning.teardown import discover

if TYPE_CHECKING:
    from omics_toolkit.aws.session import AwsContext
    from omics_toolkit.config import Settings
    from omics_toolkit.provisioning.provision import Action

#: Step Functions resource of the state that starts the HealthOmics run.
START_RUN_RESOURCE = "arn:aws:states:::aws-sdk:omics:startRun"
#: Prefix of the version names ``ensure_workflow`` gives (``sha256-<16 hex>``).
VERSION_PREFIX = "sha256-"


@dataclass(frozen=True)
class PipelineWorkflow:
    """What the deployment's state machine starts (its StartRun state's parameters).

    Attributes:
        state_machine_arn: the pipeline's state machine.
        workflow_id: StartRun ``WorkflowId``.
        version: StartRun ``WorkflowVersionName``; ``None`` runs the workflow's own definition.
    """

    state_machine_arn: str
    workflow_id: str | None
    version: str | None

    def starts(self, workflow_id: str, version: str | None) -> bool:
        """True when StartRun names this workflow and version (``None``: its own definition)."""
        return self.workflow_id == workflow_id and self.version == version


@dataclass(frozen=True)
class Registration:
    """Outcome of :func:`register_workflow`.

    Attributes:
        workflow: the toolkit's workflow name (directory under ``workflows/``).
        name: the HealthOmics workflow name, ``<deployment>-<workflow>``.
        workflow_id: HealthOmics workflow id.
        version: the version now holding this content; ``None`` for the workflow's own
            (first) definition.
        action: ``"create"`` (new workflow), ``"create version"`` or ``"unchanged"``.
        digest: the registration digest (packaged WDL + creation settings) that decides whether
            a version is due: the workflow's ``omics-toolkit:digest`` tag, or the 16 hex
            characters a ``sha256-...`` version is named after (as :func:`list_workflows` shows).
        zip_sha256: sha256 of the packaged WDL zip
            (:func:`omics_toolkit.workflows.content_digest`, as ``workflows package`` shows).
        definition: how it was (or would be) sent: ``"definitionZip"`` or ``"definitionUri"``.
        pipeline: what the deployment's state machine starts (``None``: no state machine).
    """

    workflow: str
    name: str
    workflow_id: str
    version: str | None
    action: str
    digest: str | None
    zip_sha256: str
    definition: str
    pipeline: PipelineWorkflow | None

    @property
    def started_by_pipeline(self) -> bool:
        """The deployment's pipeline runs exactly this registration."""
        return self.pipeline is not None and self.pipeline.starts(self.workflow_id, self.version)

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "name": self.name,
            "workflow_id": self.workflow_id,
            "version": self.version,
            "action": self.action,
            "digest": self.digest,
            "zip_sha256": self.zip_sha256,
            "definition": self.definition,
            "started_by_pipeline": self.started_by_pipeline,
        }


@dataclass(frozen=True)
class WorkflowEntry:
    """One row of :func:`list_workflows`: a workflow's own definition, or one of its versions.

    Attributes:
        workflow: the toolkit's workflow name (``<deployment>-`` stripped).
        name: the HealthOmics workflow name.
        workflow_id: HealthOmics workflow id.
        version: version name; ``None`` for the workflow's own definition.
        status: ``CREATING``, ``ACTIVE``, ``FAILED``, ...
        created: creation time (``None`` when the service did not say).
        digest: the registration digest: the ``omics-toolkit:digest`` tag, else the hex part of a
            ``sha256-...`` version name (a 16-character prefix); ``None`` when neither exists.
        pipeline: the deployment's state machine starts this workflow and version.
    """

    workflow: str
    name: str
    workflow_id: str
    version: str | None
    status: str
    created: datetime | None
    digest: str | None
    pipeline: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "name": self.name,
            "workflow_id": self.workflow_id,
            "version": self.version,
            "status": self.status,
            "created": self.created.isoformat() if self.created else None,
            "digest": self.digest,
            "pipeline": self.pipeline,
        }


def pipeline_workflow(ctx: AwsContext, state_machine_arn: str) -> PipelineWorkflow:
    """The workflow (and version) the state machine's StartRun state starts.

    Reads the definition with DescribeStateMachine and takes the ``WorkflowId`` and
    ``WorkflowVersionName`` parameters of the first state whose resource is StartRun, searching
    nested ``Parallel`` branches and ``Map`` iterators too. Both are ``None`` when no such state
    exists or the values are taken from the execution input (``WorkflowId.$``).
    """
    sfn = ctx.client("stepfunctions")
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=state_machine_arn)["definition"]
    )
    for state in _states(definition):
        if state.get("Resource") == START_RUN_RESOURCE:
            params = state.get("Parameters") or {}
            workflow_id = params.get("WorkflowId")
            version = params.get("WorkflowVersionName")
            return PipelineWorkflow(
                state_machine_arn,
                str(workflow_id) if isinstance(workflow_id, str) else None,
                str(version) if isinstance(version, str) else None,
            )
    return PipelineWorkflow(state_machine_arn, None, None)


def _states(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in (definition.get("States") or {}).values():
        yield state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                yield from _states(state[key])


def _deployment_pipeline(prov: Provisioner) -> PipelineWorkflow | None:
    dep = discover(prov)
    if not dep.state_machine_arn:
        return None
    return pipeline_workflow(prov.ctx, dep.state_machine_arn)


def register_workflow(
    ctx: AwsContext,
    settings: Settings,
    workflow: str,
    report: Callable[[Action], None] | None = None,
) -> Registration:
    """Register the toolkit's workflow ``workflow`` in the deployment of ``settings``.

    The same step ``provision`` runs (:meth:`Provisioner.ensure_workflow`, with the container
    registry map of :meth:`Provisioner.container_registry_map`: ECR pull through cache for the
    workflow's image registries), for ``workflow`` instead of the configured one. The pipeline's
    state machine is not changed: it keeps starting the configured workflow.

    Args:
        ctx: AWS clients.
        settings: effective settings (deployment, run parameters with private image URIs).
        workflow: name of a directory under ``workflows/``.
        report: called with every provisioning action (ECR rules, workflow, version).

    Raises:
        UserError: unknown workflow; the WDL does not load or its zip is over 100 MB; the
            deployment does not exist (run ``omics-toolkit provision`` first); an image registry
            ECR pull through cache does not support.
    """
    directory = workflows.workflow_dir(workflow)
    package = workflows.build_package(directory)  # fails on a bad WDL before any AWS call
    prov = Provisioner(ctx, settings.with_overrides(workflow=workflow), report=report)
    pipeline = _deployment_pipeline(prov)
    if pipeline is None:
        raise NotProvisionedError(
            settings.deployment,
            settings.target,
            ctx.region,
            f"state machine {prov.names.state_machine}",
        )
    registry_map = prov.container_registry_map()
    workflow_id, version = prov.ensure_workflow(registry_map)
    step = next(a for a in reversed(prov.actions) if a.kind in ("workflow", "workflow version"))
    if step.action == "unchanged":
        action = "unchanged"
    else:
        action = "create version" if step.kind == "workflow version" else "create"
    omics = ctx.client("omics")
    if version is None:
        record = omics.get_workflow(id=workflow_id)
    else:
        record = omics.get_workflow_version(workflowId=workflow_id, versionName=version)
    return Registration(
        workflow=workflow,
        name=prov.names.workflow(workflow),
        workflow_id=workflow_id,
        version=version,
        action=action,
        digest=_version_digest(dict(record.get("tags") or {}), version),
        zip_sha256=package.digest,
        definition=package.definition,
        pipeline=pipeline,
    )


def _paginate(client: Any, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get("items", [])


def _version_digest(tags: dict[str, str], version: str | None) -> str | None:
    if tags.get(DIGEST_TAG):
        return tags[DIGEST_TAG]
    if version and version.startswith(VERSION_PREFIX):
        return version.removeprefix(VERSION_PREFIX)
    return None


def list_workflows(
    ctx: AwsContext, settings: Settings
) -> tuple[list[WorkflowEntry], PipelineWorkflow | None]:
    """The deployment's private workflows and their versions, and what its pipeline starts.

    Workflows are those named ``<deployment>-...`` (ListWorkflows type PRIVATE, paginated) that
    carry the deployment tag; versions come from ListWorkflowVersions (paginated). Deleted ones
    are left out.

    Returns:
        ``(entries, pipeline)``: one entry for each workflow's own definition followed by one per
        version (oldest first), workflows sorted by name; ``pipeline`` is ``None`` when the
        deployment has no state machine.
    """
    prov = Provisioner(ctx, settings)
    omics = ctx.client("omics")
    prefix = prov.names.workflow("")
    pipeline = _deployment_pipeline(prov)
    entries: list[WorkflowEntry] = []
    found = [
        item
        for item in _paginate(omics, "list_workflows", type="PRIVATE")
        if str(item.get("name", "")).startswith(prefix) and item.get("status") != "DELETED"
    ]
    for item in sorted(found, key=lambda i: (i["name"], i["id"])):
        tags = _tags(omics, item["arn"])
        if tags.get(DEPLOYMENT_TAG) != settings.deployment:
            continue  # another deployment whose name starts with ours
        entries.append(_entry(item, prefix, None, item, tags, pipeline))
        versions = [
            v
            for v in _paginate(omics, "list_workflow_versions", workflowId=item["id"])
            if v.get("status") != "DELETED"
        ]
        versions.sort(key=lambda v: (str(v.get("creationTime")), v["versionName"]))
        for version in versions:
            vtags = _tags(omics, version.get("arn"))
            entries.append(_entry(item, prefix, version["versionName"], version, vtags, pipeline))
    return entries, pipeline


def _entry(
    workflow: dict[str, Any],
    prefix: str,
    version: str | None,
    record: dict[str, Any],
    tags: dict[str, str],
    pipeline: PipelineWorkflow | None,
) -> WorkflowEntry:
    name, workflow_id = str(workflow["name"]), str(workflow["id"])
    return WorkflowEntry(
        workflow=name.removeprefix(prefix),
        name=name,
        workflow_id=workflow_id,
        version=version,
        status=str(record.get("status", "")),
        created=_time(record.get("creationTime")),
        digest=_version_digest(tags, version),
        pipeline=pipeline is not None and pipeline.starts(workflow_id, version),
    )


def _tags(omics: Any, arn: str | None) -> dict[str, str]:
    if not arn:
        return {}
    try:
        return dict(omics.list_tags_for_resource(resourceArn=arn)["tags"])
    except ResourceNotFoundError as exc:
        if exc.code != "ResourceNotFoundException":
            raise
        return {}


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
