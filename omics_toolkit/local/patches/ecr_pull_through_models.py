"""ECR pull through cache rules and repository creation templates: the registry's model.

The operations (CreatePullThroughCacheRule ... DeleteRepositoryCreationTemplate, and the pull
through a rule that creates a repository from its template) as methods of moto's
``ECRBackend``, installed by the moto patch :mod:`omics_toolkit.local.patches.ecr_pull_through`,
which also holds the wire side. State: ``backend.pull_through_cache_rules`` /
``backend.repository_creation_templates``, plain dicts on the backend object so that the local
stack's pickled snapshot keeps them. Requests are checked against botocore's ``ecr`` 2015-09-21
model (required members, lengths, patterns, enums) and fail with its error codes; sources and
assumptions are in the patch's docstring.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

#: ``PullThroughCacheRuleRepositoryPrefix`` / ``Prefix`` pattern of the botocore ecr model.
PREFIX_PATTERN = re.compile(
    r"^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\/?|ROOT)$"
)
#: ``CredentialArn`` pattern of the botocore ecr model.
CREDENTIAL_ARN_PATTERN = re.compile(
    r"^arn:aws(-\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\-pullthroughcache\/[a-zA-Z0-9\/_+=.@-]+$"
)
#: Upstream registry URL -> ``UpstreamRegistry`` enum value (ecr model, ``upstreamRegistryUrl``).
UPSTREAM_REGISTRIES = {
    "public.ecr.aws": "ecr-public",
    "registry-1.docker.io": "docker-hub",
    "ghcr.io": "github-container-registry",
    "registry.gitlab.com": "gitlab-container-registry",
    "registry.k8s.io": "k8s",
    "quay.io": "quay",
}
_AZURE = re.compile(r"^[a-z0-9-]+\.azurecr\.io$")
_PRIVATE_ECR = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
#: Upstreams that need a Secrets Manager secret (ECR User Guide, "Sync an upstream registry").
CREDENTIAL_REQUIRED = {
    "docker-hub",
    "github-container-registry",
    "gitlab-container-registry",
    "azure-container-registry",
}
#: ``RCTAppliedFor`` enum of the botocore ecr model.
APPLIED_FOR = ("REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH")
#: ``ImageTagMutability`` enum of the botocore ecr model.
TAG_MUTABILITY = ("MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")
#: Actions ECR accepts in a registry policy (ECR User Guide, "Private registry permissions").
REGISTRY_POLICY_ACTIONS = {
    "ecr:ReplicateImage",
    "ecr:BatchImportUpstreamImage",
    "ecr:CreateRepository",
}
ROOT = "ROOT"


# ---------------------------------------------------------------------------------- errors
def _exception(code: str) -> type[Exception]:
    from moto.core.exceptions import ServiceException

    return type(code, (ServiceException,), {"code": code})


def _raise(code: str, message: str) -> None:
    raise _exception(code)(message)


def validation_error(value: Any, member: str, constraint: str) -> None:
    """Raise ECR's ``ValidationException`` for ``member`` (value, failed model constraint)."""
    _raise(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {constraint}",
    )


def _check_prefix(value: Any, member: str, min_len: int, max_len: int) -> str:
    if not isinstance(value, str) or not value:
        validation_error(value, member, "Member must not be null")
    assert isinstance(value, str)
    if not min_len <= len(value) <= max_len:
        validation_error(
            value,
            member,
            f"Member must have length between {min_len} and {max_len}",
        )
    if not PREFIX_PATTERN.match(value):
        validation_error(
            value,
            member,
            f"Member must satisfy regular expression pattern: {PREFIX_PATTERN.pattern}",
        )
    return value.rstrip("/") if value != ROOT else value


def upstream_registry_of(url: str) -> str | None:
    """``UpstreamRegistry`` enum value for an upstream registry URL; ``None`` if unsupported."""
    if url in UPSTREAM_REGISTRIES:
        return UPSTREAM_REGISTRIES[url]
    if _AZURE.match(url):
        return "azure-container-registry"
    if _PRIVATE_ECR.match(url):
        return "ecr"
    return None


def covers(prefix: str, repository_name: str) -> bool:
    """True when a rule/template ``prefix`` applies to ``repository_name`` (``ROOT``: all)."""
    return prefix == ROOT or repository_name.startswith(prefix.rstrip("/") + "/")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _page(
    items: list[Any], next_token: str | None, max_results: int | None
) -> tuple[list[Any], str | None]:
    start = 0
    if next_token:
        if not str(next_token).isdigit():
            _raise("InvalidParameterException", f"Invalid parameter at 'nextToken': {next_token}")
        start = int(next_token)
    if max_results is not None and not 1 <= int(max_results) <= 1000:
        validation_error(max_results, "maxResults", "Member must have value between 1 and 1000")
    size = int(max_results or 100)
    page = items[start : start + size]
    return page, (str(start + size) if start + size < len(items) else None)


# ---------------------------------------------------------------------------------- state
def _rules(backend: Any) -> dict[str, dict[str, Any]]:
    """The backend's PTC rules by prefix (created on first use: restored snapshots lack it)."""
    return backend.__dict__.setdefault("pull_through_cache_rules", {})  # type: ignore[no-any-return]


def _templates(backend: Any) -> dict[str, dict[str, Any]]:
    """The backend's repository creation templates by prefix."""
    return backend.__dict__.setdefault("repository_creation_templates", {})  # type: ignore[no-any-return]


def _check_policy_text(backend: Any, text: str | None, member: str) -> None:
    """Validate a repository policy document like moto's SetRepositoryPolicy does."""
    if not text:
        return
    from moto.iam.exceptions import MalformedPolicyDocument
    from moto.iam.policy_validation import IAMPolicyDocumentValidator

    try:
        validator = IAMPolicyDocumentValidator(text)
        validator._validate_resource_exist = lambda: None  # type: ignore[method-assign]
        validator._validate_version = lambda: None  # type: ignore[method-assign]
        validator._validate_sid_uniqueness = lambda: None  # type: ignore[method-assign]
        validator.validate()
    except MalformedPolicyDocument:
        _raise(
            "InvalidParameterException",
            f"Invalid parameter at '{member}' failed to satisfy constraint: "
            "'Invalid repository policy provided'",
        )


def _check_secret(backend: Any, credential_arn: str) -> None:
    if len(credential_arn) < 50 or len(credential_arn) > 612:
        validation_error(
            credential_arn, "credentialArn", "Member must have length between 50 and 612"
        )
    if not CREDENTIAL_ARN_PATTERN.match(credential_arn):
        validation_error(
            credential_arn,
            "credentialArn",
            f"Member must satisfy regular expression pattern: {CREDENTIAL_ARN_PATTERN.pattern}",
        )
    try:
        from moto.secretsmanager.models import secretsmanager_backends

        secrets = secretsmanager_backends[backend.account_id][backend.region_name]
        secrets.describe_secret(secret_id=credential_arn)
    except Exception as exc:  # noqa: BLE001 - any lookup failure means "not found"
        if type(exc).__name__ in ("SecretNotFoundException", "ResourceNotFoundException"):
            _raise(
                "SecretNotFoundException",
                f"The specified secret {credential_arn} could not be found",
            )
        raise


# ---------------------------------------------------------------------------------- backend
def create_pull_through_cache_rule(
    self: Any,
    ecr_repository_prefix: str,
    upstream_registry_url: str,
    registry_id: str | None = None,
    upstream_registry: str | None = None,
    credential_arn: str | None = None,
    custom_role_arn: str | None = None,
    upstream_repository_prefix: str | None = None,
) -> dict[str, Any]:
    """CreatePullThroughCacheRule (see module docstring for errors)."""
    prefix = _check_prefix(ecr_repository_prefix, "ecrRepositoryPrefix", 2, 30)
    if not upstream_registry_url:
        validation_error(upstream_registry_url, "upstreamRegistryUrl", "Member must not be null")
    kind = upstream_registry_of(upstream_registry_url)
    if kind is None or (upstream_registry and upstream_registry != kind):
        _raise(
            "UnsupportedUpstreamRegistryException",
            f"The specified upstream registry {upstream_registry_url} is not supported",
        )
    assert kind is not None
    if upstream_repository_prefix is not None:
        _check_prefix(upstream_repository_prefix, "upstreamRepositoryPrefix", 2, 30)
    if kind in CREDENTIAL_REQUIRED and not credential_arn:
        _raise(
            "InvalidParameterException",
            f"Invalid parameter: a credentialArn is required for upstream registry "
            f"{upstream_registry_url}",
        )
    if credential_arn:
        _check_secret(self, credential_arn)
    rules = _rules(self)
    if prefix in rules:
        _raise(
            "PullThroughCacheRuleAlreadyExistsException",
            f"A pull through cache rule with prefix '{prefix}' already exists in the registry "
            f"with id '{self.account_id}'",
        )
    rule = {
        "ecrRepositoryPrefix": prefix,
        "upstreamRegistryUrl": upstream_registry_url,
        "createdAt": _now(),
        "updatedAt": None,
        "registryId": registry_id or self.account_id,
        "upstreamRegistry": kind,
        "credentialArn": credential_arn,
        "customRoleArn": custom_role_arn,
        "upstreamRepositoryPrefix": upstream_repository_prefix or ROOT,
    }
    rules[prefix] = rule
    return {k: v for k, v in rule.items() if k != "updatedAt"}


def _require_rule(self: Any, ecr_repository_prefix: str) -> dict[str, Any]:
    prefix = _check_prefix(ecr_repository_prefix, "ecrRepositoryPrefix", 2, 30)
    rule = _rules(self).get(prefix)
    if rule is None:
        _raise(
            "PullThroughCacheRuleNotFoundException",
            f"The pull through cache rule with prefix '{prefix}' does not exist in the registry "
            f"with id '{self.account_id}'",
        )
    assert rule is not None
    return rule


def describe_pull_through_cache_rules(
    self: Any,
    registry_id: str | None = None,
    ecr_repository_prefixes: list[str] | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """DescribePullThroughCacheRules; an unknown prefix -> PullThroughCacheRuleNotFoundException."""
    if ecr_repository_prefixes is not None and not 1 <= len(ecr_repository_prefixes) <= 100:
        validation_error(
            "[...]", "ecrRepositoryPrefixes", "Member must have length between 1 and 100"
        )
    if ecr_repository_prefixes:
        items = [_require_rule(self, p) for p in ecr_repository_prefixes]
    else:
        items = sorted(_rules(self).values(), key=lambda r: r["ecrRepositoryPrefix"])
    page, nxt = _page(items, next_token, max_results)
    return {"pullThroughCacheRules": [dict(r) for r in page], "nextToken": nxt}


def update_pull_through_cache_rule(
    self: Any,
    ecr_repository_prefix: str,
    registry_id: str | None = None,
    credential_arn: str | None = None,
    custom_role_arn: str | None = None,
) -> dict[str, Any]:
    """UpdatePullThroughCacheRule: new credential and/or custom role."""
    rule = _require_rule(self, ecr_repository_prefix)
    if credential_arn:
        _check_secret(self, credential_arn)
        rule["credentialArn"] = credential_arn
    if custom_role_arn is not None:
        rule["customRoleArn"] = custom_role_arn or None
    rule["updatedAt"] = _now()
    return {
        k: rule[k]
        for k in (
            "ecrRepositoryPrefix",
            "registryId",
            "updatedAt",
            "credentialArn",
            "customRoleArn",
            "upstreamRepositoryPrefix",
        )
    }


def validate_pull_through_cache_rule(
    self: Any, ecr_repository_prefix: str, registry_id: str | None = None
) -> dict[str, Any]:
    """ValidatePullThroughCacheRule: always valid (upstreams are not contacted offline)."""
    rule = _require_rule(self, ecr_repository_prefix)
    out = {
        k: rule[k]
        for k in (
            "ecrRepositoryPrefix",
            "registryId",
            "upstreamRegistryUrl",
            "credentialArn",
            "customRoleArn",
            "upstreamRepositoryPrefix",
        )
    }
    out["isValid"] = True
    return out


def delete_pull_through_cache_rule(
    self: Any, ecr_repository_prefix: str, registry_id: str | None = None
) -> dict[str, Any]:
    """DeletePullThroughCacheRule; repositories already created through it stay (as in ECR)."""
    rule = _require_rule(self, ecr_repository_prefix)
    del _rules(self)[rule["ecrRepositoryPrefix"]]
    return {k: v for k, v in rule.items() if k not in ("updatedAt", "upstreamRegistry")}


def _template_fields(
    self: Any,
    template: dict[str, Any],
    *,
    description: str | None,
    encryption_configuration: dict[str, Any] | None,
    resource_tags: list[dict[str, str]] | None,
    image_tag_mutability: str | None,
    image_tag_mutability_exclusion_filters: list[dict[str, str]] | None,
    repository_policy: str | None,
    lifecycle_policy: str | None,
    applied_for: list[str] | None,
    custom_role_arn: str | None,
) -> None:
    """Validate and set the given template members (``None`` = leave unchanged)."""
    if description is not None:
        if len(description) > 256:
            validation_error(description, "description", "Member must have length <= 256")
        template["description"] = description
    if encryption_configuration is not None:
        if encryption_configuration.get("encryptionType") not in ("AES256", "KMS", "KMS_DSSE"):
            validation_error(
                encryption_configuration.get("encryptionType"),
                "encryptionConfiguration.encryptionType",
                "Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]",
            )
        template["encryptionConfiguration"] = encryption_configuration
    if resource_tags is not None:
        for tag in resource_tags:
            if not tag.get("Key"):
                validation_error(tag, "resourceTags.member.Key", "Member must not be null")
        template["resourceTags"] = resource_tags
    if image_tag_mutability is not None:
        if image_tag_mutability not in TAG_MUTABILITY:
            validation_error(
                image_tag_mutability,
                "imageTagMutability",
                f"Member must satisfy enum value set: [{', '.join(TAG_MUTABILITY)}]",
            )
        template["imageTagMutability"] = image_tag_mutability
    if image_tag_mutability_exclusion_filters is not None:
        template["imageTagMutabilityExclusionFilters"] = image_tag_mutability_exclusion_filters
    if repository_policy is not None:
        if len(repository_policy) > 10240:
            validation_error("<policy>", "repositoryPolicy", "Member must have length <= 10240")
        _check_policy_text(self, repository_policy, "repositoryPolicy")
        template["repositoryPolicy"] = repository_policy
    if lifecycle_policy is not None:
        if lifecycle_policy:
            from moto.ecr.policy_validation import EcrLifecyclePolicyValidator

            EcrLifecyclePolicyValidator(lifecycle_policy).validate()
        template["lifecyclePolicy"] = lifecycle_policy
    if applied_for is not None:
        for item in applied_for:
            if item not in APPLIED_FOR:
                validation_error(
                    item,
                    "appliedFor.member",
                    f"Member must satisfy enum value set: [{', '.join(APPLIED_FOR)}]",
                )
        if not applied_for:
            _raise("InvalidParameterException", "Invalid parameter: appliedFor must not be empty")
        template["appliedFor"] = list(dict.fromkeys(applied_for))
    if custom_role_arn is not None:
        if len(custom_role_arn) > 2048:
            validation_error(custom_role_arn, "customRoleArn", "Member must have length <= 2048")
        template["customRoleArn"] = custom_role_arn or None


def _template_out(self: Any, template: dict[str, Any]) -> dict[str, Any]:
    return {"registryId": self.account_id, "repositoryCreationTemplate": dict(template)}


def create_repository_creation_template(
    self: Any,
    prefix: str,
    applied_for: list[str],
    description: str | None = None,
    encryption_configuration: dict[str, Any] | None = None,
    resource_tags: list[dict[str, str]] | None = None,
    image_tag_mutability: str | None = None,
    image_tag_mutability_exclusion_filters: list[dict[str, str]] | None = None,
    repository_policy: str | None = None,
    lifecycle_policy: str | None = None,
    custom_role_arn: str | None = None,
) -> dict[str, Any]:
    """CreateRepositoryCreationTemplate; an existing prefix -> TemplateAlreadyExistsException."""
    key = _check_prefix(prefix, "prefix", 1, 256)
    if applied_for is None:
        validation_error(None, "appliedFor", "Member must not be null")
    templates = _templates(self)
    if key in templates:
        _raise(
            "TemplateAlreadyExistsException",
            f"A repository creation template with prefix '{key}' already exists in the registry "
            f"with id '{self.account_id}'",
        )
    now = _now()
    template: dict[str, Any] = {
        "prefix": key,
        "imageTagMutability": "MUTABLE",
        "encryptionConfiguration": {"encryptionType": "AES256"},
        "resourceTags": [],
        "createdAt": now,
        "updatedAt": now,
    }
    _template_fields(
        self,
        template,
        description=description,
        encryption_configuration=encryption_configuration,
        resource_tags=resource_tags,
        image_tag_mutability=image_tag_mutability,
        image_tag_mutability_exclusion_filters=image_tag_mutability_exclusion_filters,
        repository_policy=repository_policy,
        lifecycle_policy=lifecycle_policy,
        applied_for=applied_for,
        custom_role_arn=custom_role_arn,
    )
    templates[key] = template
    return _template_out(self, template)


def _require_template(self: Any, prefix: str) -> dict[str, Any]:
    key = _check_prefix(prefix, "prefix", 1, 256)
    template = _templates(self).get(key)
    if template is None:
        _raise(
            "TemplateNotFoundException",
            f"The repository creation template with prefix '{key}' does not exist in the "
            f"registry with id '{self.account_id}'",
        )
    assert template is not None
    return template


def describe_repository_creation_templates(
    self: Any,
    prefixes: list[str] | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """DescribeRepositoryCreationTemplates; unknown prefixes are left out (no error in the model)."""
    templates = _templates(self)
    if prefixes:
        wanted = [_check_prefix(p, "prefixes.member", 1, 256) for p in prefixes]
        items = [templates[p] for p in wanted if p in templates]
    else:
        items = sorted(templates.values(), key=lambda t: t["prefix"])
    page, nxt = _page(items, next_token, max_results)
    return {
        "registryId": self.account_id,
        "repositoryCreationTemplates": [dict(t) for t in page],
        "nextToken": nxt,
    }


def update_repository_creation_template(
    self: Any,
    prefix: str,
    description: str | None = None,
    encryption_configuration: dict[str, Any] | None = None,
    resource_tags: list[dict[str, str]] | None = None,
    image_tag_mutability: str | None = None,
    image_tag_mutability_exclusion_filters: list[dict[str, str]] | None = None,
    repository_policy: str | None = None,
    lifecycle_policy: str | None = None,
    applied_for: list[str] | None = None,
    custom_role_arn: str | None = None,
) -> dict[str, Any]:
    """UpdateRepositoryCreationTemplate: the given members replace the stored ones."""
    template = _require_template(self, prefix)
    updated = dict(template)
    _template_fields(
        self,
        updated,
        description=description,
        encryption_configuration=encryption_configuration,
        resource_tags=resource_tags,
        image_tag_mutability=image_tag_mutability,
        image_tag_mutability_exclusion_filters=image_tag_mutability_exclusion_filters,
        repository_policy=repository_policy,
        lifecycle_policy=lifecycle_policy,
        applied_for=applied_for,
        custom_role_arn=custom_role_arn,
    )
    updated["updatedAt"] = _now()
    template.clear()
    template.update(updated)
    return _template_out(self, template)


def delete_repository_creation_template(self: Any, prefix: str) -> dict[str, Any]:
    """DeleteRepositoryCreationTemplate."""
    template = _require_template(self, prefix)
    del _templates(self)[template["prefix"]]
    return _template_out(self, template)


def find_rule(self: Any, repository_name: str) -> dict[str, Any] | None:
    """The PTC rule whose prefix covers ``repository_name`` (longest prefix first, ROOT last)."""
    matching = [r for p, r in _rules(self).items() if covers(p, repository_name)]
    matching.sort(key=lambda r: (r["ecrRepositoryPrefix"] != ROOT, len(r["ecrRepositoryPrefix"])))
    return matching[-1] if matching else None


def find_template(self: Any, repository_name: str, applied_for: str) -> dict[str, Any] | None:
    """The creation template for ``repository_name`` and scenario (longest prefix, else ROOT)."""
    matching = [
        t
        for p, t in _templates(self).items()
        if applied_for in t.get("appliedFor", []) and covers(p, repository_name)
    ]
    matching.sort(key=lambda t: (t["prefix"] != ROOT, len(t["prefix"])))
    return matching[-1] if matching else None


def pull_through(self: Any, repository_name: str) -> Any:
    """Create ``repository_name`` as a first pull through a PTC rule does; ``None`` if no rule.

    The repository gets the matching template's settings (see module docstring).
    """
    if find_rule(self, repository_name) is None:
        return None
    template = find_template(self, repository_name, "PULL_THROUGH_CACHE") or {}
    repo = self.create_repository(
        repository_name=repository_name,
        registry_id=None,
        encryption_config=template.get("encryptionConfiguration"),
        image_scan_config=None,
        image_tag_mutability=template.get("imageTagMutability") or "MUTABLE",
        tags=list(template.get("resourceTags") or []),
        image_tag_mutability_exclusion_filters=template.get("imageTagMutabilityExclusionFilters"),
    )
    if template.get("repositoryPolicy"):
        self.set_repository_policy(self.account_id, repository_name, template["repositoryPolicy"])
    if template.get("lifecyclePolicy"):
        self.put_lifecycle_policy(self.account_id, repository_name, template["lifecyclePolicy"])
    return repo
