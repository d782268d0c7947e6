"""ECR pull through cache rules and repository creation templates in moto, as in Amazon ECR.

moto 5.2's ECR keeps repositories, repository policies and the registry policy, but has no pull
through cache (PTC) rules and no repository creation templates, and its registry policy refuses
``ecr:BatchImportUpstreamImage``. This patch adds them to ``moto.ecr.models.ECRBackend`` (state in
``backend.pull_through_cache_rules`` / ``backend.repository_creation_templates``: plain dicts on
the backend object, so the local stack's pickled snapshot keeps them) and to
``moto.ecr.responses.ECRResponse`` (the operations below, with the request/response members and
errors of botocore's ``ecr`` 2015-09-21 model):

- CreatePullThroughCacheRule, DescribePullThroughCacheRules, UpdatePullThroughCacheRule,
  ValidatePullThroughCacheRule, DeletePullThroughCacheRule;
- CreateRepositoryCreationTemplate, DescribeRepositoryCreationTemplates,
  UpdateRepositoryCreationTemplate, DeleteRepositoryCreationTemplate.

Errors: ``PullThroughCacheRuleAlreadyExistsException``, ``PullThroughCacheRuleNotFoundException``,
``UnsupportedUpstreamRegistryException`` (an upstream URL not in the model's list),
``SecretNotFoundException`` (a ``credentialArn`` unknown to moto Secrets Manager),
``TemplateAlreadyExistsException``, ``TemplateNotFoundException``, ``ValidationException``
(model constraints: required members, lengths, patterns, enums) and ``InvalidParameterException``
(invalid policy documents, missing credential).

Pulling through the cache: ``BatchGetImage`` on a repository that does not exist but whose name
starts with a rule's ``ecrRepositoryPrefix`` + ``/`` first creates the repository the way ECR does
on a first pull, applying the repository creation template for that prefix (``appliedFor``
``PULL_THROUGH_CACHE``; longest matching prefix, else ``ROOT``): repository policy, lifecycle
policy, tag mutability, encryption, resource tags. No image is imported (nothing upstream is
reachable offline), so the image itself is reported in ``failures`` (``ImageNotFound``).

Registry policy: ECR enforces ``ecr:ReplicateImage``, ``ecr:BatchImportUpstreamImage`` and
``ecr:CreateRepository`` at the registry level (ECR User Guide, "Private registry permissions");
moto's check is widened to accept the second.

Sources: botocore ``ecr`` service model (shapes ``PullThroughCacheRule``,
``RepositoryCreationTemplate``, ``PullThroughCacheRuleRepositoryPrefix``, ``Prefix``,
``CredentialArn``, ``RCTAppliedFor``; ``upstreamRegistryUrl`` documentation for the URL of each
upstream); https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html
(which upstreams need a Secrets Manager credential);
https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry-permissions.html.

Assumptions (the API reference does not say): a missing ``credentialArn`` for an upstream that
needs one is refused at CreatePullThroughCacheRule with ``InvalidParameterException``;
ValidatePullThroughCacheRule answers ``isValid: true`` (upstreams are not contacted offline);
Chainguard (``chainguard`` in the ``UpstreamRegistry`` enum) is refused because the model gives no
URL for it; no service quota (``LimitExceededException``) is enforced.

Layout: the registry's model (operations, state, validation) is
:mod:`omics_toolkit.local.patches.ecr_pull_through_models`; this module installs it on moto and
holds the wire side (``ECRResponse`` handlers, the registry policy check, the pull on BatchGetImage).
"""

from __future__ import annotations

import json
import re
from typing import Any

from omics_toolkit.local.patches.ecr_pull_through_models import (
    REGISTRY_POLICY_ACTIONS,
    create_pull_through_cache_rule,
    create_repository_creation_template,
    delete_pull_through_cache_rule,
    delete_repository_creation_template,
    describe_pull_through_cache_rules,
    describe_repository_creation_templates,
    find_rule,
    find_template,
    pull_through,
    update_pull_through_cache_rule,
    update_repository_creation_template,
    validate_pull_through_cache_rule,
    validation_error,
)
from omics_toolkit.local.patches.guard import Needs

#: The moto symbols this module extends or replaces (checked by
#: tests/unit/local/test_patches_ecr_pull_through.py).
TARGETS = (
    "moto.ecr.models.ECRBackend",
    "moto.ecr.models.ECRBackend.batch_get_image",
    "moto.ecr.models.ECRBackend._validate_registry_policy_action",
    "moto.ecr.models.ECRBackend.create_repository",
    "moto.ecr.models.ECRBackend.set_repository_policy",
    "moto.ecr.models.ECRBackend.put_lifecycle_policy",
    "moto.ecr.responses.ECRResponse",
)

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs(
        "moto.ecr.models.ECRBackend.batch_get_image",
        params=("self", "repository_name", "registry_id", "image_ids"),
    ),
    Needs(
        "moto.ecr.models.ECRBackend._validate_registry_policy_action",
        params=("self", "policy_text"),
    ),
    Needs(
        "moto.ecr.models.ECRBackend.create_repository",
        params=(
            "self",
            "repository_name",
            "registry_id",
            "encryption_config",
            "image_scan_config",
            "image_tag_mutability",
            "tags",
        ),
    ),
    Needs(
        "moto.ecr.models.ECRBackend.set_repository_policy",
        params=("self", "registry_id", "repository_name", "policy_text"),
    ),
    Needs(
        "moto.ecr.models.ECRBackend.put_lifecycle_policy",
        params=("self", "registry_id", "repository_name"),
    ),
    Needs("moto.ecr.responses.ECRResponse._get_param"),
    Needs("moto.ecr.responses.ECRResponse.ecr_backend"),
    Needs("moto.core.exceptions.ServiceException"),
    Needs("moto.iam.policy_validation.IAMPolicyDocumentValidator"),
)

_originals: dict[str, Any] = {}


def batch_get_image(
    self: Any,
    repository_name: str,
    registry_id: str | None = None,
    image_ids: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """moto's BatchGetImage, after creating a missing repository through a PTC rule."""
    if repository_name not in self.repositories and (registry_id in (None, self.account_id)):
        pull_through(self, repository_name)
    return _originals["batch_get_image"](self, repository_name, registry_id, image_ids)  # type: ignore[no-any-return]


def _validate_registry_policy_action(self: Any, policy_text: str) -> None:
    """Registry policies may name ReplicateImage, BatchImportUpstreamImage, CreateRepository."""
    from moto.iam.exceptions import MalformedPolicyDocument

    policy = json.loads(policy_text)
    statements = policy["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        action = statement["Action"]
        actions = [action] if isinstance(action, str) else action
        if set(actions) - REGISTRY_POLICY_ACTIONS - {"ecr:*"}:
            raise MalformedPolicyDocument()


# ---------------------------------------------------------------------------------- responses
def _drop_none(value: Any) -> Any:
    """Leave out absent members (``None``) at every level, as the service does."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _response(method: str, params: tuple[str, ...], required: dict[str, str] | None = None) -> Any:
    """An ``ECRResponse`` method: camelCase request members -> backend ``method`` kwargs."""
    from moto.core.responses import ActionResult

    def handler(self: Any) -> Any:
        kwargs: dict[str, Any] = {}
        for param in params:
            value = self._get_param(param)
            if value is not None:
                kwargs[re.sub(r"(?<!^)(?=[A-Z])", "_", param).lower()] = value
        for param, member in (required or {}).items():
            if param not in kwargs:
                validation_error(None, member, "Member must not be null")
        return ActionResult(_drop_none(getattr(self.ecr_backend, method)(**kwargs)))

    handler.__name__ = method
    return handler


_TEMPLATE_PARAMS = (
    "prefix",
    "description",
    "encryptionConfiguration",
    "resourceTags",
    "imageTagMutability",
    "imageTagMutabilityExclusionFilters",
    "repositoryPolicy",
    "lifecyclePolicy",
    "appliedFor",
    "customRoleArn",
)

#: ECRResponse method -> (request members, required members {member: kwarg}).
RESPONSES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "create_pull_through_cache_rule": (
        (
            "ecrRepositoryPrefix",
            "upstreamRegistryUrl",
            "registryId",
            "upstreamRegistry",
            "credentialArn",
            "customRoleArn",
            "upstreamRepositoryPrefix",
        ),
        {
            "ecr_repository_prefix": "ecrRepositoryPrefix",
            "upstream_registry_url": "upstreamRegistryUrl",
        },
    ),
    "describe_pull_through_cache_rules": (
        ("registryId", "ecrRepositoryPrefixes", "nextToken", "maxResults"),
        {},
    ),
    "update_pull_through_cache_rule": (
        ("ecrRepositoryPrefix", "registryId", "credentialArn", "customRoleArn"),
        {"ecr_repository_prefix": "ecrRepositoryPrefix"},
    ),
    "validate_pull_through_cache_rule": (
        ("ecrRepositoryPrefix", "registryId"),
        {"ecr_repository_prefix": "ecrRepositoryPrefix"},
    ),
    "delete_pull_through_cache_rule": (
        ("ecrRepositoryPrefix", "registryId"),
        {"ecr_repository_prefix": "ecrRepositoryPrefix"},
    ),
    "create_repository_creation_template": (
        _TEMPLATE_PARAMS,
        {"prefix": "prefix", "applied_for": "appliedFor"},
    ),
    "describe_repository_creation_templates": (("prefixes", "nextToken", "maxResults"), {}),
    "update_repository_creation_template": (_TEMPLATE_PARAMS, {"prefix": "prefix"}),
    "delete_repository_creation_template": (("prefix",), {"prefix": "prefix"}),
}

BACKEND_METHODS = {
    "create_pull_through_cache_rule": create_pull_through_cache_rule,
    "describe_pull_through_cache_rules": describe_pull_through_cache_rules,
    "update_pull_through_cache_rule": update_pull_through_cache_rule,
    "validate_pull_through_cache_rule": validate_pull_through_cache_rule,
    "delete_pull_through_cache_rule": delete_pull_through_cache_rule,
    "create_repository_creation_template": create_repository_creation_template,
    "describe_repository_creation_templates": describe_repository_creation_templates,
    "update_repository_creation_template": update_repository_creation_template,
    "delete_repository_creation_template": delete_repository_creation_template,
    "find_pull_through_cache_rule": find_rule,
    "find_repository_creation_template": find_template,
    "pull_through": pull_through,
}


def apply() -> None:
    """Install the operations and replacements (idempotent)."""
    from moto.ecr.models import ECRBackend
    from moto.ecr.responses import ECRResponse

    for name, fn in BACKEND_METHODS.items():
        setattr(ECRBackend, name, fn)
    if ECRBackend.__dict__.get("batch_get_image") is not batch_get_image:
        _originals["batch_get_image"] = ECRBackend.__dict__["batch_get_image"]
        ECRBackend.batch_get_image = batch_get_image  # type: ignore[method-assign]
    if (
        ECRBackend.__dict__.get("_validate_registry_policy_action")
        is not _validate_registry_policy_action
    ):
        _originals["_validate_registry_policy_action"] = ECRBackend.__dict__[
            "_validate_registry_policy_action"
        ]
        ECRBackend._validate_registry_policy_action = _validate_registry_policy_action  # type: ignore[method-assign]
    for method, (params, required) in RESPONSES.items():
        if not getattr(getattr(ECRResponse, method, None), "_omics_toolkit_patch", False):
            handler = _response(method, params, required)
            handler._omics_toolkit_patch = True  # type: ignore[attr-defined]
            setattr(ECRResponse, method, handler)
