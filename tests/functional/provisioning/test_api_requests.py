"""Every AWS request of provision and teardown is valid for botocore's service model.

botocore checks types, required members and minimum sizes before it sends a request; the services
also enforce enums, patterns, maximum lengths and values and unions, which the local stack does
not all check. :func:`healthomics_emulator.botocore_model.validator_for` checks them all, so a
request the real service would refuse fails here. The operations are whatever provisioning makes:
resources added later are checked without changing this test.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from support.recorded import RecordedDeployment, record_deployment

from healthomics_emulator.botocore_model import validator_for


@pytest.fixture(scope="module")
def recorded(local_stack) -> RecordedDeployment:
    return record_deployment(local_stack)


def _problems(requests) -> list[str]:
    return [
        f"{r.call}: {problem}"
        for r in requests
        for problem in validator_for(r.service).validate_operation(r.operation, r.params)
    ]


def test_every_request_satisfies_the_service_model(recorded: RecordedDeployment) -> None:
    requests = recorded.requests
    calls = Counter(r.call for r in requests)
    # A sane minimum, whatever resources are added later.
    assert len(recorded.provision) > 30, calls
    assert {
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "omics:CreateWorkflow",
        "stepfunctions:CreateStateMachine",
        "lambda:CreateFunction",
        "s3:PutBucketPolicy",
    } <= set(calls), calls
    teardown_calls = {r.call for r in recorded.teardown}
    assert {"iam:DeleteRole", "stepfunctions:DeleteStateMachine", "omics:DeleteWorkflow"} <= (
        teardown_calls
    ), teardown_calls
    # Every recorded request carries its parameters (not only the operation name).
    assert all(r.params for r in requests if r.call == "iam:PutRolePolicy")

    assert _problems(requests) == []

    services = {r.service for r in requests}
    unchecked = {s: validator_for(s).unchecked_patterns for s in services}
    assert not any(unchecked.values()), f"patterns not translated to Python re: {unchecked}"


def test_the_check_rejects_what_the_services_would(recorded: RecordedDeployment) -> None:
    """The same recorded requests, spoiled the way botocore would not notice, are reported."""
    by_call = {r.call: r for r in recorded.requests}
    spoiled = []
    for call, member, value in (
        ("stepfunctions:CreateStateMachine", "type", "BOGUS"),  # enum
        ("iam:PutRolePolicy", "RoleName", "no spaces allowed"),  # pattern
        ("iam:PutRolePolicy", "PolicyName", "p" * 129),  # max length
        ("lambda:CreateFunction", "Timeout", 100_000),  # max value
    ):
        request = by_call[call]
        spoiled.append((replace(request, params={**request.params, member: value}), member))
    for request, member in spoiled:
        problems = _problems([request])
        assert len(problems) == 1 and f"at '{member}'" in problems[0], (request.call, problems)
