"""The IAM lint (``tests/support/iam_lint.py``) passes good policies and fails each kind of bad one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.iam_lint import (
    Policy,
    allows,
    arns_overlap,
    expand_action,
    lint_policy,
    lint_requests,
    policies_in_requests,
    task_actions,
)

from omics_toolkit.aws.session import RecordedRequest

ACCOUNT = "123456789012"
OMICS = f"arn:aws:omics:us-east-1:{ACCOUNT}"
BUCKET = "arn:aws:s3:::my-bucket"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(actions: Any, resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def _problems(kind: str, *statements: dict[str, Any]) -> list[str]:
    return [f.problem for f in lint_policy(Policy(kind, "test", _doc(*statements)))]


PASSED_TO_OMICS = {"StringEquals": {"iam:PassedToService": "omics.amazonaws.com"}}


def test_a_least_privilege_policy_passes() -> None:
    assert (
        _problems(
            "identity",
            _allow(["s3:GetObject", "s3:PutObject"], [f"{BUCKET}/runs/*"]),
            _allow(["s3:ListBucket"], [BUCKET]),
            _allow(["omics:StartRun"], [f"{OMICS}:workflow/123", f"{OMICS}:run/*"]),
            _allow(["omics:GetVariantImportJob", "logs:CreateLogDelivery"], ["*"]),
            _allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/run", Condition=PASSED_TO_OMICS),
            _allow(
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/f:*"],
            ),
            _allow(
                ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                [f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/docker-hub/*"],
            ),
        )
        == []
    )


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (_allow("s3:*", f"{BUCKET}/*"), "wildcard action 's3:*'"),
        (_allow("omics:Get*", f"{OMICS}:run/*"), "wildcard action 'omics:Get*'"),
        (_allow("*", "*"), "wildcard action '*'"),
        (
            _allow("s3:GetObjects", f"{BUCKET}/*"),
            "action 's3:GetObjects' does not exist in the IAM database",
        ),
        (
            _allow("healthomics:StartRun", f"{OMICS}:run/*"),
            "action 'healthomics:StartRun' does not exist in the IAM database",
        ),
        (
            _allow("s3:GetObject", "*"),
            "Resource ['*'] on actions that support resource-level permissions: s3:GetObject",
        ),
        (
            _allow("s3:GetObject", "arn:aws:s3:::*"),
            "Resource ['arn:aws:s3:::*'] on actions that support resource-level permissions: "
            "s3:GetObject",
        ),
        (
            _allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/run"),
            "iam:PassRole without a StringEquals/StringLike condition on iam:PassedToService",
        ),
        (
            _allow(
                "iam:PassRole",
                f"arn:aws:iam::{ACCOUNT}:role/run",
                Condition={"StringEquals": {"aws:ResourceAccount": ACCOUNT}},
            ),
            "iam:PassRole without a StringEquals/StringLike condition on iam:PassedToService",
        ),
        (
            _allow("omics:GetVariantImportJob", f"{OMICS}:variantStore/v"),
            "omics:GetVariantImportJob supports no resource-level permissions and needs "
            f"Resource '*', not ['{OMICS}:variantStore/v']: the grant is dead",
        ),
        (
            _allow("omics:StartRun", f"{OMICS}:workflow/123"),
            "omics:StartRun: no granted Resource is a run (arn:${Partition}:omics:${Region}:"
            "${Account}:run/${Id}), a resource type the action requires: the grant is dead",
        ),
        (
            _allow("s3:GetObject", BUCKET),  # a bucket, not its objects
            "s3:GetObject: no granted Resource matches its resource types "
            "(accesspointobject, object): the grant is dead",
        ),
        (
            _allow("s3:GetObject", f"{BUCKET}/*", Principal={"AWS": ACCOUNT}),
            "an identity policy has no Principal",
        ),
        (
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            "NotAction in an Allow grants every other action",
        ),
    ],
)
def test_bad_identity_statements_fail(statement: dict[str, Any], expected: str) -> None:
    assert expected in _problems("identity", statement)


def test_policies_fail_on_the_version_and_iam_size_limits() -> None:
    findings = lint_policy(
        Policy("identity", "p", {"Statement": [_allow("s3:ListBucket", BUCKET)]})
    )
    assert [f.problem for f in findings] == ["Version is None, not '2012-10-17'"]
    big = _doc(_allow(["s3:GetObject"], [f"{BUCKET}/{i:05d}/*" for i in range(120)]))
    requests = [
        RecordedRequest(
            "iam",
            "PutRolePolicy",
            {"RoleName": "r", "PolicyName": name, "PolicyDocument": json.dumps(big)},
        )
        for name in ("a", "b", "c")
    ]
    size = len(json.dumps(big).replace(" ", ""))  # IAM does not count white space
    assert [str(f) for f in lint_requests(requests)] == [
        f"iam:PutRolePolicy RoleName=r: inline policies total {3 * size} characters, over IAM's "
        "per-role limit of 10240"
    ]
    assert lint_requests(requests[:2]) == []  # 2 * size is within the limit


def test_trust_and_resource_policies() -> None:
    trust = {"Effect": "Allow", "Principal": {"Service": "omics.amazonaws.com"}}
    assert _problems("trust", {**trust, "Action": "sts:AssumeRole"}) == []
    assert _problems("trust", {**trust, "Action": "sts:AssumeRole", "Principal": "*"}) == [
        "Principal '*' in an Allow without a condition on the caller's organisation, account or ARN"
    ]
    assert _problems("trust", {**trust, "Action": "sts:AssumeRole", "Resource": "*"}) == [
        "a trust policy has no Resource"
    ]
    assert _problems("trust", {**trust, "Action": "sts:Assume"}) == [
        "action 'sts:Assume' does not exist in the IAM database"
    ]
    tls_only = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [BUCKET, f"{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert _problems("resource", tls_only) == []
    public_read = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"}
    assert _problems("resource", {**public_read, "Resource": f"{BUCKET}/*"}) == [
        "Principal '*' in an Allow without a condition on the caller's organisation, account or ARN"
    ]
    org_only = {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}
    assert _problems("resource", {**public_read, "Condition": org_only}) == []
    assert _problems("resource", {**tls_only, "Action": "s3:Nothing*"}) == [
        "action pattern 's3:Nothing*' matches no action"
    ]


def test_policies_are_collected_from_recorded_requests() -> None:
    role_policy = _doc(_allow("s3:ListBucket", BUCKET))
    template_policy = _doc(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:BatchGetImage"}
    )
    requests = [
        RecordedRequest("iam", "CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": "{}"}),
        RecordedRequest(
            "iam",
            "PutRolePolicy",
            {"RoleName": "r", "PolicyName": "p", "PolicyDocument": json.dumps(role_policy)},
        ),
        RecordedRequest(
            "ecr",
            "CreateRepositoryCreationTemplate",
            {"prefix": "docker-hub", "repositoryPolicy": json.dumps(template_policy)},
        ),
        RecordedRequest(
            "lambda",
            "AddPermission",
            {
                "FunctionName": "f",
                "StatementId": "s3",
                "Action": "lambda:InvokeFunction",
                "Principal": "*",
            },
        ),
        RecordedRequest("s3", "PutObject", {"Bucket": "b", "Key": "k", "Body": b"{}"}),
    ]
    policies = policies_in_requests(requests)
    assert [(p.kind, p.source) for p in policies] == [
        ("identity", "iam:PutRolePolicy RoleName=r PolicyName=p [PolicyDocument]"),
        ("resource", "ecr:CreateRepositoryCreationTemplate prefix=docker-hub [repositoryPolicy]"),
        ("resource", "lambda:AddPermission FunctionName=f StatementId=s3 [Principal]"),
    ]
    problems = [str(f) for f in lint_requests(requests)]
    assert problems == [
        "ecr:CreateRepositoryCreationTemplate prefix=docker-hub [repositoryPolicy] statement 0: "
        "Principal '*' in an Allow without a condition on the caller's organisation, account or "
        "ARN",
        "lambda:AddPermission FunctionName=f StatementId=s3 [Principal] statement 0 (s3): "
        "Principal '*' in an Allow without a condition on the caller's organisation, account or "
        "ARN",
    ]


def test_helpers() -> None:
    assert [d["name"] for _, d in expand_action("omics:StartRun")] == ["StartRun"]
    assert len(expand_action("omics:Start*")) > 5
    assert expand_action("omics:NoSuchAction") == [] and expand_action("nosuch:Get") == []
    log_group = "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}"
    stream = f"{log_group}:log-stream:${{LogStreamName}}"
    assert arns_overlap("arn:aws:logs:us-east-1:1:log-group:/aws/x:*", stream)
    assert not arns_overlap("arn:aws:logs:us-east-1:1:log-group", stream)
    assert not arns_overlap("arn:aws:s3:::b", "arn:${Partition}:s3:::${BucketName}/${ObjectName}")
    policy = _doc(_allow(["omics:Get*", "lambda:InvokeFunction"], "*"))
    assert allows([policy], "omics:GetRun") and not allows([policy], "omics:StartRun")
    definition = {
        "States": {
            "A": {"Resource": "arn:aws:states:::aws-sdk:omics:startRun"},
            "B": {"Resource": "arn:aws:states:::lambda:invoke"},
            "C": {"Resource": "arn:aws:states:::states:startExecution.sync:2"},
        }
    }
    assert task_actions(definition) == {
        "omics:StartRun",
        "lambda:InvokeFunction",
        "states:StartExecution",
    }


def test_a_placeholder_matches_one_path_segment() -> None:
    """``${Id}`` in an ARN format names one segment: a child's ARN is not its parent's (the old
    lint let ``referenceStore/${ReferenceStoreId}`` match ``referenceStore/r/reference/x``)."""
    store = "arn:${Partition}:omics:${Region}:${Account}:referenceStore/${ReferenceStoreId}"
    workflow = "arn:${Partition}:omics:${Region}:${Account}:workflow/${Id}"
    version = f"{workflow}/version/${{VersionName}}"
    assert not arns_overlap(f"{OMICS}:referenceStore/r/reference/x", store)
    assert not arns_overlap(f"{OMICS}:workflow/1/version/v", workflow)
    assert not arns_overlap(f"{OMICS}:workflow/1", version)
    assert arns_overlap(f"{OMICS}:workflow/1/version/v", version)
    assert arns_overlap(f"{OMICS}:referenceStore/r", store)
    # IAM's own wildcards still match across "/", and so do placeholders that name paths
    assert arns_overlap(f"{OMICS}:referenceStore/*", store)
    assert arns_overlap(f"{OMICS}:referenceStore/r*", store)
    assert arns_overlap(f"{OMICS}:workflow/*", version)
    assert not arns_overlap(f"{OMICS}:referenceStore/r?/reference/x", store)
    assert arns_overlap(
        f"{BUCKET}/runs/a/b.vcf.gz", "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    )
    assert arns_overlap(
        "arn:aws:ecr:us-east-1:1:repository/dev/quay/bwa",
        "arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}",
    )
    assert arns_overlap(
        "arn:aws:iam::1:role/service-role/x",
        "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
    )


@pytest.mark.parametrize(
    ("action", "resource", "missing"),
    [
        ("omics:GetReference", f"{OMICS}:referenceStore/r/reference/x", "referenceStore"),
        ("omics:GetReadSetMetadata", f"{OMICS}:sequenceStore/s/readSet/*", "sequenceStore"),
    ],
)
def test_a_child_arn_does_not_grant_its_store(action: str, resource: str, missing: str) -> None:
    problems = _problems("identity", _allow([action], [resource]))
    assert any(f"no granted Resource is a {missing} " in p for p in problems), problems
    store = resource.split("/", 2)
    assert _problems("identity", _allow([action], [resource, "/".join(store[:2])])) == []


def test_a_service_principal_in_a_resource_policy_needs_a_source_condition() -> None:
    pull = {
        "Effect": "Allow",
        "Principal": {"Service": "omics.amazonaws.com"},
        "Action": ["ecr:BatchGetImage"],
    }
    assert _problems("resource", pull) == [
        "service principal omics.amazonaws.com in an Allow without an aws:SourceAccount/"
        "aws:SourceArn condition (confused deputy)"
    ]
    scoped = {**pull, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}
    assert _problems("resource", scoped) == []
    assert _problems("resource", {**pull, "Effect": "Deny"}) == []
