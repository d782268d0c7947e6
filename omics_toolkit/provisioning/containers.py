"""Container images for HealthOmics: private ECR in the region, filled by ECR pull through cache.

HealthOmics runs a task only from an image in private Amazon ECR of the run's region that grants
the HealthOmics service principal ``omics.amazonaws.com`` pull access. A workflow may keep its
upstream image URIs (``quay.io/biocontainers/bwa:0.7.18--he4a0461_1``) when it is created with a
``containerRegistryMap`` whose registry mappings send each upstream registry to an ECR pull
through cache (PTC) prefix. Nothing is pulled or pushed on the user's machine (no Docker): ECR
creates ``<prefix>/<upstream path>`` and imports the image the first time HealthOmics pulls it.

For each upstream registry the workflow's images use, :func:`ensure_container_registry` makes:

- an ECR PTC rule ``<namespace>/<short name>`` -> the upstream registry URL;
- a repository creation template for that prefix (``appliedFor`` ``PULL_THROUGH_CACHE``) whose
  repository policy lets ``omics.amazonaws.com`` pull (``ecr:BatchGetImage``,
  ``ecr:GetDownloadUrlForLayer``, ``ecr:BatchCheckLayerAvailability``) and whose resource tags
  carry ``omics-toolkit:deployment``; templates with resource tags name a role ECR assumes
  (``<deployment>-ecr-templates``, trusting ``ecr.amazonaws.com``, allowed ``ecr:CreateRepository``,
  ``ecr:ReplicateImage``, ``ecr:TagResource`` on the deployment's repositories);
- one statement (Sid ``<Deployment>HealthOmicsPullThroughCache``) in the registry permissions
  policy letting ``omics.amazonaws.com`` ``ecr:CreateRepository`` and
  ``ecr:BatchImportUpstreamImage`` on ``repository/<prefix>/*``; the other statements of the
  registry policy are kept.

The statements and the template role's policy are built by :mod:`omics_toolkit.provisioning.iam`
(``ecr_pull_statement``, ``ecr_registry_statement``, ``ecr_template_role_statements``,
``ecr_run_role_statement``).

Images given as private ECR URIs of the account and region (e.g. run parameter ``bwa_image =
"<account>.dkr.ecr.<region>.amazonaws.com/bwa:0.7.17"``) need nothing: they are only checked
(repository exists, its policy lets HealthOmics pull).

Sources:
https://docs.aws.amazon.com/omics/latest/dev/permissions-ecr.html (repository policy actions for
``omics.amazonaws.com``; private repository and workflow in the same Region; a registry permission
policy for pull through cache);
https://docs.aws.amazon.com/omics/latest/dev/containers-ptc-registries.html (upstreams HealthOmics
supports through PTC: ECR Public, Kubernetes, Quay, Docker Hub, Azure, GitHub, GitLab);
https://docs.aws.amazon.com/omics/latest/dev/containers-workflow-creation.html (registry mappings
``{upstreamRegistryUrl, ecrRepositoryPrefix}``);
https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html (which upstreams
need a Secrets Manager credential);
https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry-permissions.html (actions allowed
in a registry policy);
https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-creation-templates-create.html
(templates with resource tags or KMS need a custom role; its permissions);
botocore ``ecr`` model (``PullThroughCacheRuleRepositoryPrefix``: 2-30 characters, lowercase path
pattern; upstream registry URLs) and ``omics`` model (``ContainerRegistryMap``).

Assumptions: the registry policy statement is the one AWS's HealthOmics tooling checks for
(``omics.amazonaws.com`` allowed ``ecr:CreateRepository`` + ``ecr:BatchImportUpstreamImage``,
as in awslabs' HealthOmics MCP server); Docker Hub references without a registry
(``ubuntu:22.04``) are matched to ``registry-1.docker.io/library/ubuntu`` as Docker normalises
them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from omics_toolkit.constants import DEPLOYMENT_TAG, HEALTHOMICS_PRINCIPAL
from omics_toolkit.errors import AwsError, UserError
from omics_toolkit.images import DOCKER_HUB, ImageRef, parse_image
from omics_toolkit.provisioning import iam

if TYPE_CHECKING:
    from omics_toolkit.provisioning.core import Steps
    from omics_toolkit.provisioning.iam import IamSteps

    class Teardown(Steps, Protocol):
        """What :func:`remove_container_registry` needs of a teardown: its role deletion."""

        def delete_role(self, name: str) -> None: ...


#: Upstream registry URL -> (short name used in the ECR prefix, needs a Secrets Manager secret).
PTC_UPSTREAMS: dict[str, tuple[str, bool]] = {
    "quay.io": ("quay", False),
    "public.ecr.aws": ("ecr-public", False),
    "registry.k8s.io": ("k8s", False),
    DOCKER_HUB: ("docker-hub", True),
    "ghcr.io": ("ghcr", True),
    "registry.gitlab.com": ("gitlab", True),
}
_AZURE = re.compile(r"^[a-z0-9-]+\.azurecr\.io$")
#: ``PullThroughCacheRuleRepositoryPrefix`` maximum length (botocore ecr model).
MAX_PREFIX = 30
#: Longest short name in :data:`PTC_UPSTREAMS` (and ``acr-<6 hex>`` for Azure).
_LONGEST_SHORT = 10
#: Workflow/task input names whose literal defaults are container images.
_IMAGE_INPUT = re.compile(r"(^|_)(image|docker|container)$")

KIND_RULE = "ecr pull through cache rule"
KIND_TEMPLATE = "ecr repository creation template"
KIND_REGISTRY_POLICY = "ecr registry policy"
KIND_REPOSITORY = "ecr repository"


# ------------------------------------------------------------------------------ image references
def _literal_images(value: Any) -> list[str]:
    """Image strings of a WDL expression's literal value (String or Array[String])."""
    literal = getattr(value, "literal", None)
    if literal is None:
        return []
    raw = literal.value
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [v.value for v in raw if isinstance(getattr(v, "value", None), str)]
    return []


def workflow_images(wdl_path: Path, run_parameters: Mapping[str, Any] | None = None) -> list[str]:
    """Container images a WDL workflow uses, as written (sorted, unique).

    Collected: literal defaults of the workflow's inputs named ``*_image`` (or ``image``,
    ``docker``, ``container``), replaced by ``run_parameters`` of the same name; literal
    ``runtime.docker``/``runtime.container`` values and literal image-input defaults of every task
    of the document and its imports. Images computed from expressions are only seen through the
    inputs they come from.

    Raises:
        WorkflowCheckError: the document does not load or has no workflow.
    """
    from omics_toolkit import workflows

    path = Path(wdl_path)
    doc = workflows.load_wdl(path)
    if doc.workflow is None:
        raise workflows.WorkflowCheckError(path, [f"{path}: document has no workflow section"])
    params = dict(run_parameters or {})
    images: set[str] = set()
    for decl in doc.workflow.inputs or []:
        if not _IMAGE_INPUT.search(decl.name):
            continue
        if isinstance(params.get(decl.name), str):
            images.add(params[decl.name])
        elif decl.expr is not None:
            images.update(_literal_images(decl.expr))
    documents, pending, seen = [], [doc], set()
    while pending:
        document = pending.pop()
        if document.pos.abspath in seen:
            continue
        seen.add(document.pos.abspath)
        documents.append(document)
        pending += [imported.doc for imported in document.imports if imported.doc is not None]
    for document in documents:
        for task in document.tasks:
            for key in ("docker", "container"):
                if key in task.runtime:
                    images.update(_literal_images(task.runtime[key]))
            for decl in task.inputs or []:
                if _IMAGE_INPUT.search(decl.name) and decl.expr is not None:
                    images.update(_literal_images(decl.expr))
    return sorted(images)


# ------------------------------------------------------------------------------ names
def upstream_short_name(upstream: str) -> str:
    """Short name of a PTC-supported upstream registry (``quay.io`` -> ``quay``).

    Raises:
        UserError: HealthOmics/ECR pull through cache does not support the registry.
    """
    if upstream in PTC_UPSTREAMS:
        return PTC_UPSTREAMS[upstream][0]
    if _AZURE.match(upstream):
        return "acr-" + hashlib.sha256(upstream.encode()).hexdigest()[:6]
    raise UserError(
        f"container registry {upstream} is not supported by ECR pull through cache for "
        f"HealthOmics (supported: {', '.join(sorted(PTC_UPSTREAMS))}, <name>.azurecr.io); "
        "copy the image to private ECR and pass its URI as a run parameter"
    )


def needs_credential(upstream: str) -> bool:
    """True for upstreams ECR reaches only with a Secrets Manager secret (Docker Hub, ...)."""
    return bool(_AZURE.match(upstream)) or PTC_UPSTREAMS.get(upstream, ("", False))[1]


def namespace(deployment: str) -> str:
    """The deployment's ECR repository namespace (first path segment of every prefix).

    The deployment name itself when ``<name>/<longest short name>`` fits the 30-character
    ``ecrRepositoryPrefix``; else its first 12 characters plus a 6-hex digest of the whole name.
    """
    limit = MAX_PREFIX - 1 - _LONGEST_SHORT
    if len(deployment) <= limit:
        return deployment
    digest = hashlib.sha256(deployment.encode()).hexdigest()[:6]
    return f"{deployment[: limit - 7].rstrip('-')}-{digest}"


def ecr_prefix(deployment: str, upstream: str) -> str:
    """``ecrRepositoryPrefix`` of the PTC rule for ``upstream`` (``<namespace>/<short name>``)."""
    return f"{namespace(deployment)}/{upstream_short_name(upstream)}"


def template_role_name(deployment: str) -> str:
    """IAM role ECR assumes to create tagged repositories from the deployment's templates."""
    return f"{deployment}-ecr-templates"


def registry_map(
    deployment: str, account: str, region: str, upstreams: Iterable[str]
) -> dict[str, Any]:
    """The ``containerRegistryMap`` for CreateWorkflow/CreateWorkflowVersion.

    Returns ``{"registryMappings": [{"upstreamRegistryUrl", "ecrRepositoryPrefix"}, ...]}``
    (sorted by upstream), or ``{}`` when no upstream registry is used. The private ECR registry
    of ``account``/``region`` itself is never mapped.

    Raises:
        UserError: an upstream is not supported by pull through cache.
    """
    own = f"{account}.dkr.ecr.{region}.amazonaws.com"
    urls = sorted({u for u in upstreams if u != own})
    if not urls:
        return {}
    return {
        "registryMappings": [
            {"upstreamRegistryUrl": url, "ecrRepositoryPrefix": ecr_prefix(deployment, url)}
            for url in urls
        ]
    }


@dataclass(frozen=True)
class ImagePlan:
    """How each image reaches HealthOmics.

    Attributes:
        upstreams: upstream registries to serve through pull through cache (sorted).
        private: images already in private ECR of the account and region.
        cross_account: private ECR images of another account in the region (not checkable here).
    """

    upstreams: tuple[str, ...]
    private: tuple[ImageRef, ...]
    cross_account: tuple[ImageRef, ...]


def plan_images(images: Iterable[str], account: str, region: str) -> ImagePlan:
    """Sort images into upstream registries (PTC) and private ECR images.

    Raises:
        UserError: an invalid reference, a private ECR image of another region, or an upstream
            registry pull through cache does not support.
    """
    upstreams: set[str] = set()
    private: list[ImageRef] = []
    cross: list[ImageRef] = []
    for image in images:
        try:
            ref = parse_image(image)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        ecr = ref.ecr()
        if ecr is not None:
            if ecr[1] != region:
                raise UserError(
                    f"image {image} is in ECR of {ecr[1]}; HealthOmics in {region} pulls only "
                    f"from private ECR in {region}"
                )
            (private if ecr[0] == account else cross).append(ref)
            continue
        upstream_short_name(ref.registry)  # raises for unsupported registries
        upstreams.add(ref.registry)
    return ImagePlan(tuple(sorted(upstreams)), tuple(private), tuple(cross))


# ------------------------------------------------------------------------------ user images
# The policy documents (repository, registry and role statements) are built by
# :mod:`omics_toolkit.provisioning.iam`; here an existing repository policy is only read.
def _grants_pull(policy_text: str | None) -> bool:
    """True when a repository policy allows ``omics.amazonaws.com`` to pull (Allow statements)."""
    if not policy_text:
        return False
    granted: set[str] = set()
    for stmt in iam.statements_of(json.loads(policy_text)):
        if stmt.get("Effect") != "Allow":
            continue
        principal = stmt.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else principal
        services = services if isinstance(services, list) else [services]
        if HEALTHOMICS_PRINCIPAL not in services and "*" not in services:
            continue
        actions = stmt.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            if action in ("*", "ecr:*"):
                granted.update(iam.ECR_PULL_ACTIONS)
            else:
                granted.add(action)
    return {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} <= granted


# ------------------------------------------------------------------------------ provisioning
def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def ensure_container_registry(
    prov: IamSteps,
    wdl_path: Path,
    run_parameters: Mapping[str, Any] | None = None,
    credential_arns: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Make the workflow's images pullable by HealthOmics; return its ``containerRegistryMap``.

    Idempotent: reads first, changes only what differs (no mutating call when everything
    matches); with ``prov.dry_run`` only reports. Every resource is reported through
    ``prov._record(kind, name, "create" | "update" | "unchanged", detail)`` (``detail`` names the
    differing fields on update).

    Args:
        prov: a :class:`~omics_toolkit.provisioning.iam.IamSteps` (uses ``ctx``,
            ``names.deployment``, ``partition``, ``tags``, ``dry_run``, ``_record``,
            ``ensure_role``).
        wdl_path: the workflow's main WDL.
        run_parameters: fixed run parameters (e.g. ``{"bwa_image": "<private ECR URI>"}``); by
            default ``prov.settings.run_parameters``.
        credential_arns: upstream registry URL -> Secrets Manager secret ARN
            (``...:secret:ecr-pullthroughcache/...``) for upstreams that need one (Docker Hub,
            GitHub, GitLab, Azure).

    Returns:
        the map to pass as ``containerRegistryMap`` to CreateWorkflow, or ``{}`` when every image
        is already in private ECR (then pass nothing).

    Raises:
        UserError: an unsupported registry, an image in another region's ECR, a missing
            credential, or a private ECR image whose repository is missing or does not let
            HealthOmics pull.
    """
    if run_parameters is None:
        run_parameters = prov.settings.run_parameters
    credentials = dict(credential_arns or {})
    deployment = prov.names.deployment
    account, region = prov.ctx.account_id, prov.ctx.region
    plan = plan_images(workflow_images(Path(wdl_path), run_parameters), account, region)
    ecr = prov.client("ecr")
    for ref in plan.private:
        _check_private_image(prov, ecr, ref)
    for ref in plan.cross_account:
        prov._record(KIND_REPOSITORY, ref.uri, "unchanged", "another account's ECR: not checked")
    if not plan.upstreams:
        return {}
    missing = [u for u in plan.upstreams if needs_credential(u) and u not in credentials]
    if missing:
        raise UserError(
            f"ECR pull through cache for {', '.join(missing)} needs a Secrets Manager secret "
            "named ecr-pullthroughcache/<name> with the registry credentials; or copy the images "
            "to private ECR and pass their URIs as run parameters"
        )
    prefixes = {u: ecr_prefix(deployment, u) for u in plan.upstreams}
    for upstream, prefix in prefixes.items():
        _ensure_rule(prov, ecr, prefix, upstream, credentials.get(upstream))
    role_arn = _ensure_template_role(prov, prefixes.values())
    for upstream, prefix in prefixes.items():
        _ensure_template(prov, ecr, prefix, upstream, role_arn)
    _ensure_registry_policy(prov, ecr, prefixes.values())
    return registry_map(deployment, account, region, plan.upstreams)


def _check_private_image(prov: IamSteps, ecr: Any, ref: ImageRef) -> None:
    """A user's private ECR image: its repository exists and lets HealthOmics pull (read only)."""
    try:
        ecr.describe_repositories(repositoryNames=[ref.repository])
    except AwsError as exc:
        if exc.code != "RepositoryNotFoundException":
            raise
        raise UserError(
            f"image {ref.uri}: ECR repository {ref.repository} does not exist in "
            f"{prov.ctx.region}; push the image there first"
        ) from exc
    try:
        policy = ecr.get_repository_policy(repositoryName=ref.repository)["policyText"]
    except AwsError as exc:
        if exc.code != "RepositoryPolicyNotFoundException":
            raise
        policy = None
    if not _grants_pull(policy):
        raise UserError(
            f"image {ref.uri}: the policy of ECR repository {ref.repository} does not let "
            f"{HEALTHOMICS_PRINCIPAL} pull; add the statement "
            f"{json.dumps(iam.ecr_pull_statement(prov.names.deployment, prov.ctx.account_id))}"
        )
    prov._record(KIND_REPOSITORY, ref.repository, "unchanged", "user image; HealthOmics can pull")


def _ensure_rule(
    prov: IamSteps, ecr: Any, prefix: str, upstream: str, credential_arn: str | None
) -> None:
    try:
        rules = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=[prefix])[
            "pullThroughCacheRules"
        ]
    except AwsError as exc:
        if exc.code != "PullThroughCacheRuleNotFoundException":
            raise
        rules = []
    create: dict[str, Any] = {"ecrRepositoryPrefix": prefix, "upstreamRegistryUrl": upstream}
    if credential_arn:
        create["credentialArn"] = credential_arn
    if not rules:
        prov._record(KIND_RULE, prefix, "create", f"-> {upstream}")
        if not prov.dry_run:
            ecr.create_pull_through_cache_rule(**create)
        return
    rule = rules[0]
    changes: list[str] = []
    if rule.get("upstreamRegistryUrl") != upstream:
        # the upstream of a rule cannot be updated: replace the rule
        changes.append("upstreamRegistryUrl")
        if not prov.dry_run:
            ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=prefix)
            ecr.create_pull_through_cache_rule(**create)
    elif credential_arn and rule.get("credentialArn") != credential_arn:
        changes.append("credentialArn")
        if not prov.dry_run:
            ecr.update_pull_through_cache_rule(
                ecrRepositoryPrefix=prefix, credentialArn=credential_arn
            )
    prov._record(KIND_RULE, prefix, "update" if changes else "unchanged", ", ".join(changes))


def _ensure_template_role(prov: IamSteps, prefixes: Iterable[str]) -> str:
    statements = iam.ecr_template_role_statements(
        prov.partition, prov.ctx.account_id, prov.ctx.region, prefixes
    )
    name = template_role_name(prov.names.deployment)
    return str(prov.ensure_role(name, "ecr.amazonaws.com", statements))


def _find_template(ecr: Any, prefix: str) -> dict[str, Any] | None:
    found = ecr.describe_repository_creation_templates(prefixes=[prefix]).get(
        "repositoryCreationTemplates", []
    )
    return next((t for t in found if t.get("prefix") == prefix), None)


def _ensure_template(prov: IamSteps, ecr: Any, prefix: str, upstream: str, role_arn: str) -> None:
    deployment = prov.names.deployment
    current = _find_template(ecr, prefix)
    policy_doc = (
        json.loads(current["repositoryPolicy"])
        if current and current.get("repositoryPolicy")
        else None
    )
    merged_policy, policy_changed = iam.merge_statement(
        policy_doc, iam.ecr_pull_statement(deployment, prov.ctx.account_id)
    )
    current_tags = {t["Key"]: t["Value"] for t in (current or {}).get("resourceTags", [])}
    wanted: dict[str, Any] = {
        "description": f"omics-toolkit {deployment}: pull through cache of {upstream}",
        "appliedFor": ["PULL_THROUGH_CACHE"],
        "imageTagMutability": "MUTABLE",
        "repositoryPolicy": json.dumps(merged_policy),
        "resourceTags": _tag_list({**current_tags, **prov.tags}),
        "customRoleArn": role_arn,
    }
    if current is None:
        prov._record(KIND_TEMPLATE, prefix, "create", "repository policy lets HealthOmics pull")
        if not prov.dry_run:
            ecr.create_repository_creation_template(prefix=prefix, **wanted)
        return
    changes: dict[str, Any] = {}
    if current.get("description") != wanted["description"]:
        changes["description"] = wanted["description"]
    if "PULL_THROUGH_CACHE" not in current.get("appliedFor", []):
        changes["appliedFor"] = sorted({*current.get("appliedFor", []), "PULL_THROUGH_CACHE"})
    if current.get("imageTagMutability", "MUTABLE") != "MUTABLE":
        changes["imageTagMutability"] = "MUTABLE"
    if policy_changed:
        changes["repositoryPolicy"] = wanted["repositoryPolicy"]
    if {**current_tags, **prov.tags} != current_tags:
        changes["resourceTags"] = wanted["resourceTags"]
    if current.get("customRoleArn") != role_arn:
        changes["customRoleArn"] = role_arn
    if changes and not prov.dry_run:
        ecr.update_repository_creation_template(prefix=prefix, **changes)
    prov._record(KIND_TEMPLATE, prefix, "update" if changes else "unchanged", ", ".join(changes))


def _registry_policy(ecr: Any) -> dict[str, Any] | None:
    try:
        return dict(json.loads(ecr.get_registry_policy()["policyText"]))
    except AwsError as exc:
        if exc.code != "RegistryPolicyNotFoundException":
            raise
        return None


def _differing(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Keys whose values differ between two JSON documents."""
    return [
        k
        for k in sorted(set(old) | set(new))
        if json.dumps(old.get(k), sort_keys=True) != json.dumps(new.get(k), sort_keys=True)
    ]


def _ensure_registry_policy(prov: IamSteps, ecr: Any, prefixes: Iterable[str]) -> None:
    deployment = prov.names.deployment
    statement = iam.ecr_registry_statement(
        deployment, prov.partition, prov.ctx.account_id, prov.ctx.region, prefixes
    )
    sid = statement["Sid"]
    current = _registry_policy(ecr)
    old = next((s for s in iam.statements_of(current) if s.get("Sid") == sid), None)
    merged, changed = iam.merge_statement(current, statement)
    others = sum(1 for s in iam.statements_of(current) if s.get("Sid") != sid)
    detail = f"kept {others} other statement(s)"
    if not changed:
        prov._record(KIND_REGISTRY_POLICY, sid, "unchanged", detail)
        return
    if old is None:
        prov._record(KIND_REGISTRY_POLICY, sid, "create", detail)
    else:
        prov._record(
            KIND_REGISTRY_POLICY,
            sid,
            "update",
            f"{', '.join(_differing(old, statement))}; {detail}",
        )
    if not prov.dry_run:
        ecr.put_registry_policy(policyText=json.dumps(merged))


# ------------------------------------------------------------------------------ teardown
def _paginate(ecr: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in ecr.get_paginator(operation).paginate(**kwargs):
        items += page.get(key, [])
    return items


def remove_container_registry(td: Teardown) -> None:
    """Delete the deployment's PTC rules, templates, cached repositories and template role, and
    only its statement of the ECR registry policy (reported as ``delete``).

    Cached repositories (``<namespace>/...``) are deleted with their images only when they carry
    the deployment tag (set by the template). Honours ``td.dry_run``.
    """
    ecr = td.client("ecr")
    deployment = td.names.deployment
    ours = namespace(deployment) + "/"
    dry = td.dry_run
    for rule in _paginate(ecr, "describe_pull_through_cache_rules", "pullThroughCacheRules"):
        prefix = rule["ecrRepositoryPrefix"]
        if prefix.startswith(ours):
            if not dry:
                ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=prefix)
            td._record(KIND_RULE, prefix, "delete", f"-> {rule.get('upstreamRegistryUrl')}")
    for template in _paginate(
        ecr, "describe_repository_creation_templates", "repositoryCreationTemplates"
    ):
        prefix = template["prefix"]
        if prefix.startswith(ours):
            if not dry:
                ecr.delete_repository_creation_template(prefix=prefix)
            td._record(KIND_TEMPLATE, prefix, "delete")
    for repo in _paginate(ecr, "describe_repositories", "repositories"):
        name = repo["repositoryName"]
        if not name.startswith(ours):
            continue
        tags = {
            t["Key"]: t["Value"]
            for t in ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"]).get("tags", [])
        }
        if tags.get(DEPLOYMENT_TAG) != deployment:
            td._record(KIND_REPOSITORY, name, "kept", "not tagged by this deployment")
            continue
        if not dry:
            ecr.delete_repository(repositoryName=name, force=True)
        td._record(KIND_REPOSITORY, name, "delete", "pull through cache copy")
    sid = iam.ecr_registry_statement_sid(deployment)
    current = _registry_policy(ecr)
    remaining, changed = iam.remove_statement(current, sid)
    if changed:
        if not dry:
            if remaining is None:
                ecr.delete_registry_policy()
            else:
                ecr.put_registry_policy(policyText=json.dumps(remaining))
        kept = len(iam.statements_of(remaining))
        td._record(KIND_REGISTRY_POLICY, sid, "delete", f"kept {kept} other statement(s)")
    td.delete_role(template_role_name(deployment))
