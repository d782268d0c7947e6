"""The service role's identity policies, as HealthOmics is held to them when it acts as the role.

HealthOmics reads import sources and run inputs, and writes run outputs, as the role passed in
``roleArn`` (StartReferenceImportJob, StartReadSetImportJob, StartVariantImportJob,
StartAnnotationImportJob, StartRun). Before doing so, the emulator fetches the role's inline and
attached managed policies from moto IAM over the wire (GetRole, ListRolePolicies, GetRolePolicy,
ListAttachedRolePolicies, GetPolicy, GetPolicyVersion) and evaluates each request as IAM does
for one identity (IAM User Guide, "Policy evaluation logic", identity-based policies only):

- an explicit ``Deny`` that matches wins; otherwise a matching ``Allow`` allows; otherwise the
  request is implicitly denied;
- a statement matches when its ``Action`` (or every entry of ``NotAction`` fails to) match the
  action, case-insensitively, its ``Resource`` (or ``NotResource``) matches the ARN, case-
  sensitively, with ``*`` (any run, also across ``/`` and ``:``) and ``?`` (one character), and
  its ``Condition`` holds for the request's context (:func:`condition_holds`);
- an action whose request names several resources (``omics:GetReference`` on the reference and
  its store) is allowed only when every one is.

The role must exist and trust ``omics.amazonaws.com`` (ASSUME_ROLE_FAILED otherwise).
moto's own ``moto.iam.access_control.IAMPolicy`` is not used: it treats a statement with
``NotResource`` as matching every resource, matches actions case-sensitively, does not know
``?``, and is a moto internal, while the emulator speaks to moto only over the wire.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from healthomics_emulator.errors import EmulatorError
from healthomics_facts.service import HEALTHOMICS_PRINCIPAL

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitly denied", "implicitly denied"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@dataclass(frozen=True)
class _Like:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` one character."""

    pattern: str
    ignore_case: bool = False

    def matches(self, value: str) -> bool:
        regex = "".join(
            ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in self.pattern
        )
        flags = re.DOTALL | (re.IGNORECASE if self.ignore_case else 0)
        return re.fullmatch(regex, value, flags) is not None


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _Like(pattern, ignore_case).matches(value)


_OPERATORS = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringNotEquals": lambda actual, expected: actual != expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "StringNotEqualsIgnoreCase": lambda actual, expected: actual.lower() != expected.lower(),
    "StringLike": lambda actual, expected: _like(expected, actual),
    "StringNotLike": lambda actual, expected: not _like(expected, actual),
    "ArnEquals": lambda actual, expected: actual == expected,
    "ArnNotEquals": lambda actual, expected: actual != expected,
    "ArnLike": lambda actual, expected: _like(expected, actual),
    "ArnNotLike": lambda actual, expected: not _like(expected, actual),
    "Bool": lambda actual, expected: actual.lower() == expected.lower(),
}


class UnsupportedConditionError(EmulatorError):
    """A policy uses a condition operator the emulator cannot evaluate (``operator``): failing
    loudly, since ignoring it would let a Deny statement allow what AWS denies."""

    def __init__(self, operator: str) -> None:
        super().__init__(
            f"the role policy uses condition operator {operator!r}, which the HealthOmics "
            "emulator does not evaluate (it knows String*, Arn*, Bool, Null, Numeric*, Date*, "
            "IpAddress, NotIpAddress); remove it from the policy or add it to "
            "healthomics_emulator/role_policy.py"
        )
        self.operator = operator


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> dt.datetime | None:
    """An IAM date: ISO 8601 (``2026-01-01``, ``2026-01-01T00:00:00Z``) or epoch seconds."""
    try:
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _compare(parse: Any, holds: Any) -> Any:
    """A test that parses both sides (``parse``) and never holds when one does not parse."""

    def test(actual: str, expected: str) -> bool:
        a, e = parse(actual), parse(expected)
        return a is not None and e is not None and bool(holds(a, e))

    return test


def _in_network(actual: str, expected: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


for _kind, _parse in (("Numeric", _number), ("Date", _date)):
    _OPERATORS[f"{_kind}Equals"] = _compare(_parse, lambda a, e: a == e)
    _OPERATORS[f"{_kind}NotEquals"] = _compare(_parse, lambda a, e: a != e)
    _OPERATORS[f"{_kind}LessThan"] = _compare(_parse, lambda a, e: a < e)
    _OPERATORS[f"{_kind}LessThanEquals"] = _compare(_parse, lambda a, e: a <= e)
    _OPERATORS[f"{_kind}GreaterThan"] = _compare(_parse, lambda a, e: a > e)
    _OPERATORS[f"{_kind}GreaterThanEquals"] = _compare(_parse, lambda a, e: a >= e)
_OPERATORS["IpAddress"] = _in_network
_OPERATORS["NotIpAddress"] = lambda actual, expected: not _in_network(actual, expected)
_NEGATED = {op for op in _OPERATORS if "Not" in op}


def condition_holds(condition: dict[str, Any] | None, context: dict[str, Any]) -> bool:
    """Whether an IAM ``Condition`` block holds for ``context`` (keys lower case; a value may be
    a string or a list for multivalued keys).

    The String, Arn, Bool, Numeric, Date and IpAddress/NotIpAddress operators, with
    ``...IfExists`` and the ``ForAnyValue:`` / ``ForAllValues:`` qualifiers, and ``Null``
    (``"true"``: the key is absent). A key absent from ``context`` fails a positive operator and
    passes a negated one (and any ``...IfExists``), as IAM does (IAM User Guide, "IAM JSON policy
    elements: Condition operators"). A value that does not parse as the operator's type (a
    number, a date, an IP address) fails the test.

    Raises:
        UnsupportedConditionError: any other operator (ignoring it could let a Deny statement
            allow what AWS denies).
    """
    for raw_operator, tests in (condition or {}).items():
        qualifier, _, operator = raw_operator.rpartition(":")
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        if operator == "Null" and not if_exists and isinstance(tests, dict):
            for key, expected in tests.items():
                absent = context.get(key.lower()) is None
                if any(
                    str(e).lower() == ("true" if absent else "false") for e in _as_list(expected)
                ):
                    continue
                return False
            continue
        test = _OPERATORS.get(operator)
        if test is None:
            raise UnsupportedConditionError(raw_operator)
        if not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None:
                if if_exists or operator in _NEGATED or qualifier.lower() == "forallvalues":
                    continue
                return False
            values = [str(v) for v in _as_list(actual)]
            wanted = [str(e) for e in _as_list(expected)]

            negated = operator in _NEGATED
            # a negated operator holds when no expected value matches (the test is the negation)
            hits = [(all if negated else any)(test(v, e) for e in wanted) for v in values]
            ok = all(hits) if qualifier.lower() == "forallvalues" else any(hits)
            if not ok:
                return False
    return True


def _statement_matches(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]
) -> bool:
    if "NotAction" in statement:
        if any(_like(str(a), action, True) for a in _as_list(statement["NotAction"])):
            return False
    elif not any(_like(str(a), action, True) for a in _as_list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        if any(_like(str(r), resource) for r in _as_list(statement["NotResource"])):
            return False
    elif not any(_like(str(r), resource) for r in _as_list(statement.get("Resource"))):
        return False
    return condition_holds(statement.get("Condition"), context)


def evaluate(
    documents: Iterable[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, Any] | None = None,
) -> str:
    """:data:`ALLOW`, :data:`EXPLICIT_DENY` or :data:`IMPLICIT_DENY` for ``action`` on
    ``resource`` under identity policy ``documents`` (see the module docstring).

    Raises:
        UnsupportedConditionError: a matching statement uses a condition operator that
            :func:`condition_holds` does not evaluate.
    """
    allowed = False
    for doc in documents:
        for statement in _as_list(doc.get("Statement")):
            if not isinstance(statement, dict):
                continue
            if not _statement_matches(statement, action, resource, context or {}):
                continue
            if statement.get("Effect") == "Deny":
                return EXPLICIT_DENY
            if statement.get("Effect") == "Allow":
                allowed = True
    return ALLOW if allowed else IMPLICIT_DENY


class AccessDenied(Exception):
    """The role may not make a request HealthOmics needs.

    Attributes:
        kind: ``"assume"`` (the role is missing or does not trust HealthOmics) or ``"denied"``.
        role_arn, action, resource: what was refused (``action``/``resource`` empty for assume).
        decision: :data:`EXPLICIT_DENY` or :data:`IMPLICIT_DENY` (``"denied"`` only).
    """

    def __init__(
        self,
        kind: str,
        role_arn: str,
        detail: str,
        action: str = "",
        resource: str = "",
        decision: str = "",
    ) -> None:
        super().__init__(detail)
        self.kind, self.role_arn, self.action, self.resource = kind, role_arn, action, resource
        self.decision = decision

    @property
    def short(self) -> str:
        """One short line for a job's 127-character status message."""
        role = self.role_arn.rsplit("/", 1)[-1]
        if self.kind == "assume":
            return f"Unable to assume role {role}"
        return f"AccessDenied: role {role} may not {self.action} ({self.decision})"


@dataclass
class RolePolicies:
    """The identity policies of one role, fetched from (moto) IAM."""

    role_arn: str
    documents: list[dict[str, Any]]

    def require(
        self,
        action: str,
        resources: Sequence[str],
        context: dict[str, Any] | None = None,
    ) -> None:
        """Raise :class:`AccessDenied` unless ``action`` is allowed on every one of
        ``resources``."""
        for resource in resources:
            decision = evaluate(self.documents, action, resource, context)
            if decision != ALLOW:
                why = (
                    "an explicit deny in an identity-based policy"
                    if decision == EXPLICIT_DENY
                    else "no identity-based policy allows the action"
                )
                raise AccessDenied(
                    "denied",
                    self.role_arn,
                    f"{self.role_arn} is not authorized to perform: {action} on resource: "
                    f"{resource} because {why}",
                    action,
                    resource,
                    decision,
                )


def _document(value: Any) -> dict[str, Any]:
    """A policy document as IAM returns it (a dict, or URL-encoded JSON text)."""
    if isinstance(value, dict):
        return value
    text = str(value)
    try:
        return dict(json.loads(text))
    except ValueError:
        return dict(json.loads(urllib.parse.unquote(text)))


def _trusts(trust: dict[str, Any], service: str) -> bool:
    for statement in _as_list(trust.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if not any(
            _like(str(a), "sts:AssumeRole", True) for a in _as_list(statement.get("Action"))
        ):
            continue
        principal = statement.get("Principal")
        if principal == "*" or (
            isinstance(principal, dict) and service in _as_list(principal.get("Service"))
        ):
            return True
    return False


def fetch_role_policies(iam: Any, role_arn: str) -> RolePolicies:
    """The role's inline and attached managed policies (default versions), from IAM.

    Args:
        iam: a boto3 IAM client (moto's).
        role_arn: ``arn:aws:iam::<account>:role/[<path>/]<name>``.

    Raises:
        AccessDenied: kind ``"assume"`` when the role does not exist or its trust policy does not
            let ``omics.amazonaws.com`` assume it.
    """
    from botocore.exceptions import ClientError

    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        raise AccessDenied(
            "assume", role_arn, f"role {role_arn} does not exist ({exc.response['Error']['Code']})"
        ) from exc
    if role.get("Arn") != role_arn:
        raise AccessDenied("assume", role_arn, f"role {role_arn} does not exist")
    if not _trusts(_document(role.get("AssumeRolePolicyDocument") or {}), HEALTHOMICS_PRINCIPAL):
        raise AccessDenied(
            "assume",
            role_arn,
            f"the trust policy of {role_arn} does not let {HEALTHOMICS_PRINCIPAL} assume it",
        )
    documents: list[dict[str, Any]] = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
        for policy_name in page["PolicyNames"]:
            got = iam.get_role_policy(RoleName=name, PolicyName=policy_name)
            documents.append(_document(got["PolicyDocument"]))
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        for attached in page["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            got = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
            documents.append(_document(got["Document"]))
    return RolePolicies(role_arn, documents)


def s3_object_arn(uri: str) -> str:
    """``s3://bucket/key`` -> ``arn:aws:s3:::bucket/key``."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return f"arn:aws:s3:::{bucket}/{key}"


__all__ = [
    "ALLOW",
    "EXPLICIT_DENY",
    "IMPLICIT_DENY",
    "AccessDenied",
    "RolePolicies",
    "condition_holds",
    "evaluate",
    "fetch_role_policies",
    "s3_object_arn",
]
