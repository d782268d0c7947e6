"""Guards and behaviour of omics_toolkit.local.patches.ecr_pull_through (moto 5.2.x ECR)."""

from __future__ import annotations

import inspect
import json
import pickle

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.loaders import Loader
from moto import mock_aws

from omics_toolkit.local.patches import ecr_pull_through as patch
from omics_toolkit.local.patches import ecr_pull_through_models as ptc_models

PULL = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Pull",
            "Effect": "Allow",
            "Principal": {"Service": "omics.amazonaws.com"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }
    ],
}


def test_patched_moto_symbols_exist_with_expected_signatures() -> None:
    from moto.ecr import models, responses

    def params(fn: object) -> list[str]:
        return list(inspect.signature(fn).parameters)  # type: ignore[arg-type]

    backend = models.ECRBackend
    batch_get = patch._originals.get("batch_get_image") or backend.batch_get_image
    assert params(batch_get) == ["self", "repository_name", "registry_id", "image_ids"], (
        "moto ECRBackend.batch_get_image changed; port omics_toolkit/local/patches/ecr_pull_through.py"
    )
    validate = (
        patch._originals.get("_validate_registry_policy_action")
        or backend._validate_registry_policy_action
    )
    assert params(validate) == ["self", "policy_text"]
    assert params(backend.create_repository) == [
        "self",
        "repository_name",
        "registry_id",
        "encryption_config",
        "image_scan_config",
        "image_tag_mutability",
        "tags",
        "image_tag_mutability_exclusion_filters",
    ]
    assert params(backend.set_repository_policy) == [
        "self",
        "registry_id",
        "repository_name",
        "policy_text",
    ]
    assert params(backend.put_lifecycle_policy)[:3] == ["self", "registry_id", "repository_name"]
    for name in ("_get_param", "ecr_backend"):
        assert hasattr(responses.ECRResponse, name), f"moto ECRResponse.{name} is gone"


def test_moto_still_lacks_the_added_operations() -> None:
    """If moto implements one of these itself, drop it from the patch (or port the patch)."""
    from moto.ecr import models, responses

    responses_source = inspect.getsource(responses)
    models_source = inspect.getsource(models)
    for method in patch.RESPONSES:
        assert f"def {method}(" not in responses_source, f"moto now has ECRResponse.{method}"
        assert f"def {method}(" not in models_source, f"moto now has ECRBackend.{method}"


def test_added_operations_match_the_botocore_model() -> None:
    model = Loader().load_service_model("ecr", "service-2")
    by_method = {
        "".join("_" + c.lower() if c.isupper() else c for c in op).lstrip("_"): op
        for op in model["operations"]
    }
    for method, (members, required) in patch.RESPONSES.items():
        operation = by_method[method]
        shape = model["shapes"][model["operations"][operation]["input"]["shape"]]
        assert set(members) <= set(shape["members"]), (
            operation,
            set(members) - set(shape["members"]),
        )
        assert set(required.values()) == set(shape.get("required", [])), operation
    assert model["shapes"]["PullThroughCacheRuleRepositoryPrefix"]["pattern"] == (
        ptc_models.PREFIX_PATTERN.pattern
    )
    assert model["shapes"]["Prefix"]["pattern"] == ptc_models.PREFIX_PATTERN.pattern
    assert model["shapes"]["CredentialArn"]["pattern"] == ptc_models.CREDENTIAL_ARN_PATTERN.pattern
    assert tuple(model["shapes"]["RCTAppliedFor"]["enum"]) == ptc_models.APPLIED_FOR
    enum = set(model["shapes"]["UpstreamRegistry"]["enum"])
    assert (
        set(ptc_models.UPSTREAM_REGISTRIES.values()) | {"ecr", "azure-container-registry"} <= enum
    )
    for error in (
        "PullThroughCacheRuleAlreadyExistsException",
        "PullThroughCacheRuleNotFoundException",
        "UnsupportedUpstreamRegistryException",
        "TemplateAlreadyExistsException",
        "TemplateNotFoundException",
        "SecretNotFoundException",
    ):
        assert model["shapes"][error].get("exception"), error


@pytest.fixture
def ecr():
    patch.apply()
    with mock_aws():
        yield boto3.client("ecr", region_name="us-east-1")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_rules_lifecycle_and_errors(ecr) -> None:
    created = ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="dep/quay", upstreamRegistryUrl="quay.io"
    )
    assert created["upstreamRegistry"] == "quay"
    assert created["upstreamRepositoryPrefix"] == "ROOT"
    with pytest.raises(ClientError) as exc:
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="dep/quay", upstreamRegistryUrl="quay.io"
        )
    assert _code(exc) == "PullThroughCacheRuleAlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="dep/gcr", upstreamRegistryUrl="gcr.io"
        )
    assert _code(exc) == "UnsupportedUpstreamRegistryException"
    with pytest.raises(ClientError) as exc:
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="dep/hub", upstreamRegistryUrl="registry-1.docker.io"
        )
    assert _code(exc) == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="Dep/Upper", upstreamRegistryUrl="quay.io"
        )
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="dep/hub",
            upstreamRegistryUrl="registry-1.docker.io",
            credentialArn="arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/none-AbCdEf",
        )
    assert _code(exc) == "SecretNotFoundException"
    secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="ecr-pullthroughcache/hub", SecretString='{"username":"u","accessToken":"t"}'
    )
    hub = ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="dep/hub",
        upstreamRegistryUrl="registry-1.docker.io",
        credentialArn=secret["ARN"],
    )
    assert hub["credentialArn"] == secret["ARN"]

    rules = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert [r["ecrRepositoryPrefix"] for r in rules] == ["dep/hub", "dep/quay"]
    page = ecr.describe_pull_through_cache_rules(maxResults=1)
    assert len(page["pullThroughCacheRules"]) == 1 and page["nextToken"]
    with pytest.raises(ClientError) as exc:
        ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["nope"])
    assert _code(exc) == "PullThroughCacheRuleNotFoundException"
    assert ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="dep/quay")["isValid"]
    updated = ecr.update_pull_through_cache_rule(
        ecrRepositoryPrefix="dep/hub", credentialArn=secret["ARN"]
    )
    assert updated["updatedAt"]
    deleted = ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="dep/quay")
    assert deleted["upstreamRegistryUrl"] == "quay.io"
    with pytest.raises(ClientError) as exc:
        ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="dep/quay")
    assert _code(exc) == "PullThroughCacheRuleNotFoundException"


def test_templates_lifecycle_and_errors(ecr) -> None:
    out = ecr.create_repository_creation_template(
        prefix="dep/quay",
        appliedFor=["PULL_THROUGH_CACHE"],
        repositoryPolicy=json.dumps(PULL),
        resourceTags=[{"Key": "omics-toolkit:deployment", "Value": "dep"}],
    )
    template = out["repositoryCreationTemplate"]
    assert template["prefix"] == "dep/quay"
    assert template["imageTagMutability"] == "MUTABLE"
    assert template["createdAt"] == template["updatedAt"]
    with pytest.raises(ClientError) as exc:
        ecr.create_repository_creation_template(prefix="dep/quay", appliedFor=["REPLICATION"])
    assert _code(exc) == "TemplateAlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        ecr.create_repository_creation_template(
            prefix="other", appliedFor=["PULL_THROUGH_CACHE"], repositoryPolicy="{not json"
        )
    assert _code(exc) == "InvalidParameterException"
    found = ecr.describe_repository_creation_templates(prefixes=["dep/quay", "absent"])
    assert [t["prefix"] for t in found["repositoryCreationTemplates"]] == ["dep/quay"]
    updated = ecr.update_repository_creation_template(prefix="dep/quay", description="new")
    assert updated["repositoryCreationTemplate"]["description"] == "new"
    assert updated["repositoryCreationTemplate"]["repositoryPolicy"] == json.dumps(PULL)
    ecr.delete_repository_creation_template(prefix="dep/quay")
    with pytest.raises(ClientError) as exc:
        ecr.delete_repository_creation_template(prefix="dep/quay")
    assert _code(exc) == "TemplateNotFoundException"
    with pytest.raises(ClientError) as exc:
        ecr.update_repository_creation_template(prefix="dep/quay", description="x")
    assert _code(exc) == "TemplateNotFoundException"


def test_pull_through_creates_the_repository_from_the_template(ecr) -> None:
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="dep/quay", upstreamRegistryUrl="quay.io"
    )
    ecr.create_repository_creation_template(
        prefix="dep/quay",
        appliedFor=["PULL_THROUGH_CACHE"],
        repositoryPolicy=json.dumps(PULL),
        resourceTags=[{"Key": "omics-toolkit:deployment", "Value": "dep"}],
    )
    got = ecr.batch_get_image(
        repositoryName="dep/quay/biocontainers/bwa", imageIds=[{"imageTag": "1"}]
    )
    assert got["failures"][0]["failureCode"] == "ImageNotFound"
    repo = ecr.describe_repositories(repositoryNames=["dep/quay/biocontainers/bwa"])[
        "repositories"
    ][0]
    assert (
        json.loads(ecr.get_repository_policy(repositoryName=repo["repositoryName"])["policyText"])
        == PULL
    )
    tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    assert tags == [{"Key": "omics-toolkit:deployment", "Value": "dep"}]
    # outside every rule: still RepositoryNotFoundException
    with pytest.raises(ClientError) as exc:
        ecr.batch_get_image(repositoryName="elsewhere/bwa", imageIds=[{"imageTag": "1"}])
    assert _code(exc) == "RepositoryNotFoundException"


def test_registry_policy_accepts_batch_import_upstream_image(ecr) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DepHealthOmicsPullThroughCache",
                "Effect": "Allow",
                "Principal": {"Service": "omics.amazonaws.com"},
                "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
                "Resource": ["arn:aws:ecr:us-east-1:123456789012:repository/dep/quay/*"],
            }
        ],
    }
    ecr.put_registry_policy(policyText=json.dumps(policy))
    assert json.loads(ecr.get_registry_policy()["policyText"]) == policy
    policy["Statement"][0]["Action"] = ["ecr:PutImage"]
    with pytest.raises(ClientError) as exc:
        ecr.put_registry_policy(policyText=json.dumps(policy))
    assert _code(exc) == "InvalidParameterException"


def test_state_lives_on_the_backend_and_survives_pickling(ecr) -> None:
    from moto.ecr.models import ecr_backends

    from omics_toolkit.local.stack import snapshot

    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="dep/quay", upstreamRegistryUrl="quay.io"
    )
    ecr.create_repository_creation_template(prefix="dep/quay", appliedFor=["PULL_THROUGH_CACHE"])
    backend = ecr_backends["123456789012"]["us-east-1"]
    restored = pickle.loads(snapshot._dumps(backend))
    assert list(restored.pull_through_cache_rules) == ["dep/quay"]
    assert list(restored.repository_creation_templates) == ["dep/quay"]
    assert restored.find_pull_through_cache_rule("dep/quay/x/y")["upstreamRegistryUrl"] == "quay.io"
