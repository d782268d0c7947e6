"""The local IAM policy simulation (patch iam_simulate): IAM's evaluation order on documents."""

from __future__ import annotations

from typing import Any

from omics_toolkit.local.patches.iam_simulate import evaluate


def _doc(*statements: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("p", {"Version": "2012-10-17", "Statement": list(statements)})]


def test_explicit_deny_beats_allow_and_nothing_is_an_implicit_deny() -> None:
    docs = _doc(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
    )
    assert evaluate(docs, "s3:PutObject", "*", {})["EvalDecision"] == "allowed"
    assert evaluate(docs, "s3:deletebucket", "*", {})["EvalDecision"] == "explicitDeny"
    assert evaluate(docs, "omics:StartRun", "*", {})["EvalDecision"] == "implicitDeny"


def test_not_action_and_resource_patterns() -> None:
    docs = _doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::dev-*"})
    assert evaluate(docs, "s3:GetObject", "arn:aws:s3:::dev-in", {})["EvalDecision"] == "allowed"
    assert evaluate(docs, "s3:GetObject", "arn:aws:s3:::prod", {})["EvalDecision"] == "implicitDeny"
    assert (
        evaluate(docs, "iam:GetRole", "arn:aws:s3:::dev-in", {})["EvalDecision"] == "implicitDeny"
    )


def test_conditions_use_the_context_and_report_missing_keys() -> None:
    docs = _doc(
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:PassedToService": "omics.amazonaws.com"}},
        }
    )
    ok = evaluate(docs, "iam:PassRole", "*", {"iam:passedtoservice": ["omics.amazonaws.com"]})
    assert ok["EvalDecision"] == "allowed"
    assert ok["MatchedStatements"] == [{"SourcePolicyId": "p", "SourcePolicyType": "IAM Policy"}]
    other = evaluate(docs, "iam:PassRole", "*", {"iam:passedtoservice": ["lambda.amazonaws.com"]})
    assert other["EvalDecision"] == "implicitDeny"
    missing = evaluate(docs, "iam:PassRole", "*", {})
    assert (missing["EvalDecision"], missing["MissingContextValues"]) == (
        "implicitDeny",
        ["iam:PassedToService"],
    )
