"""Image resolution and policy evaluation of the host backend's HealthOmics image check."""

from __future__ import annotations

import json

import pytest

from healthomics_emulator.image_check import (
    ECR_PERMISSION_ERROR,
    INVALID_ECR_IMAGE_URI,
    ImageCheck,
    condition_holds,
    policy_allows,
    resolve_image,
    split_image,
)

ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ubuntu:22.04", ("registry-1.docker.io", "library/ubuntu", "22.04", None)),
        ("biocontainers/bwa", ("registry-1.docker.io", "biocontainers/bwa", None, None)),
        ("docker.io/library/python:3", ("registry-1.docker.io", "library/python", "3", None)),
        (
            "quay.io/biocontainers/bwa:0.7.18--he4a0461_1",
            ("quay.io", "biocontainers/bwa", "0.7.18--he4a0461_1", None),
        ),
        ("localhost:5000/x/y@sha256:ab", ("localhost:5000", "x/y", None, "sha256:ab")),
        (f"{REGISTRY}/a/b:1", (REGISTRY, "a/b", "1", None)),
    ],
)
def test_split_image_normalises_like_docker(image: str, expected: tuple) -> None:
    assert split_image(image) == expected


def test_split_image_rejects_blank_references() -> None:
    for bad in ("", "a b"):
        with pytest.raises(ValueError):
            split_image(bad)


MAP = {
    "registryMappings": [
        {"upstreamRegistryUrl": "quay.io", "ecrRepositoryPrefix": "dep/quay"},
        {"upstreamRegistryUrl": "registry-1.docker.io", "ecrRepositoryPrefix": "dep/docker-hub"},
        {
            "upstreamRegistryUrl": "public.ecr.aws",
            "ecrRepositoryPrefix": "dep/aws-lib",
            "upstreamRepositoryPrefix": "docker/library",
            "ecrAccountId": "111122223333",
        },
    ],
    "imageMappings": [
        {"sourceImage": "ubuntu:20.04", "destinationImage": f"{REGISTRY}/mine/ubuntu:20.04"}
    ],
}


@pytest.mark.parametrize(
    ("image", "resolved"),
    [
        ("quay.io/biocontainers/bwa:1", f"{REGISTRY}/dep/quay/biocontainers/bwa:1"),
        ("ubuntu:22.04", f"{REGISTRY}/dep/docker-hub/library/ubuntu:22.04"),
        ("ubuntu:20.04", f"{REGISTRY}/mine/ubuntu:20.04"),
        ("docker.io/library/ubuntu:20.04", f"{REGISTRY}/mine/ubuntu:20.04"),
        (
            "public.ecr.aws/docker/library/python:3.11",
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/dep/aws-lib/python:3.11",
        ),
        ("public.ecr.aws/other/tool:1", "public.ecr.aws/other/tool:1"),
        ("ghcr.io/x/y:1", "ghcr.io/x/y:1"),
        (f"{REGISTRY}/own/tool@sha256:ab", f"{REGISTRY}/own/tool@sha256:ab"),
    ],
)
def test_resolve_image_through_the_registry_map(image: str, resolved: str) -> None:
    assert resolve_image(image, MAP, ACCOUNT, "us-east-1") == resolved


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
ARN = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/dep/quay/x"
CTX = {"aws:sourceaccount": ACCOUNT, "aws:sourcearn": "arn:aws:omics:us-east-1:1:run/1"}
OMICS = {"Service": "omics.amazonaws.com"}


def test_policy_allows_needs_every_action_for_the_omics_principal() -> None:
    full = {"Effect": "Allow", "Principal": OMICS, "Action": list(PULL)}
    assert policy_allows(_policy(full), PULL, ARN, CTX)
    assert policy_allows(_policy({**full, "Action": "ecr:*"}), PULL, ARN, CTX)
    assert policy_allows(_policy({**full, "Principal": "*"}), PULL, ARN, CTX)
    assert not policy_allows(_policy({**full, "Action": ["ecr:BatchGetImage"]}), PULL, ARN, CTX)
    assert not policy_allows(
        _policy({**full, "Principal": {"Service": "lambda.amazonaws.com"}}), PULL, ARN, CTX
    )
    assert not policy_allows(None, PULL, ARN, CTX)
    assert not policy_allows("{not json", PULL, ARN, CTX)
    deny = {"Effect": "Deny", "Principal": OMICS, "Action": "ecr:BatchGetImage"}
    assert not policy_allows(_policy(full, deny), PULL, ARN, CTX)


def test_policy_allows_matches_resources_and_conditions() -> None:
    stmt = {
        "Effect": "Allow",
        "Principal": OMICS,
        "Action": ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
        "Resource": [f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/dep/quay/*"],
    }
    actions = ("ecr:CreateRepository", "ecr:BatchImportUpstreamImage")
    assert policy_allows(_policy(stmt), actions, ARN, CTX)
    other = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/other/x"
    assert not policy_allows(_policy(stmt), actions, other, CTX)
    scoped = {**stmt, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}
    assert policy_allows(_policy(scoped), actions, ARN, CTX)
    foreign = {**stmt, "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}}}
    assert not policy_allows(_policy(foreign), actions, ARN, CTX)


def test_condition_holds() -> None:
    assert condition_holds(None, CTX)
    assert condition_holds({"ArnLike": {"aws:SourceArn": "arn:aws:omics:*:*:run/*"}}, CTX)
    assert not condition_holds({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}, CTX)
    assert condition_holds({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-1"}}, CTX)
    assert not condition_holds({"NumericLessThan": {"aws:SourceAccount": "1"}}, CTX)


def test_non_ecr_and_other_region_images_fail_without_calling_ecr() -> None:
    check = ImageCheck(account=ACCOUNT, region="us-east-1", ecr_endpoint="http://127.0.0.1:9")
    upstream = check.check("quay.io/biocontainers/bwa:1")
    assert upstream["failureReason"] == INVALID_ECR_IMAGE_URI
    assert "quay.io" in upstream["message"]
    other = check.check(f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/tool:1")
    assert other["failureReason"] == ECR_PERMISSION_ERROR
    assert "eu-west-1" in other["message"]
    mapped = ImageCheck(
        account=ACCOUNT,
        region="us-east-1",
        ecr_endpoint="http://127.0.0.1:9",
        registry_map={
            "registryMappings": [{"upstreamRegistryUrl": "ghcr.io", "ecrRepositoryPrefix": "p"}]
        },
    ).check("quay.io/x:1")
    assert mapped["image"] == "quay.io/x:1" and mapped["failureReason"] == INVALID_ECR_IMAGE_URI
