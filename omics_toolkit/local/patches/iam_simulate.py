"""IAM SimulatePrincipalPolicy for moto, which has none.

Evaluates the principal's own identity policies as IAM does for one account: the inline and
attached (default version) policies of a user and of the user's groups, or of a role. For each
action and resource: ``explicitDeny`` when a matching Deny statement applies, else ``allowed`` when
a matching Allow statement applies, else ``implicitDeny``. Actions match case-insensitively with
``*``/``?`` wildcards (``Action``/``NotAction``), resources case-sensitively
(``Resource``/``NotResource``). Conditions are evaluated from ``ContextEntries`` for the operators
``StringEquals``, ``StringNotEquals``, ``StringLike``, ``StringNotLike``, ``ArnEquals``,
``ArnLike``, ``Bool`` (with ``ForAnyValue:``/``ForAllValues:`` treated as plain); a key missing
from the context makes the statement not apply and is reported in ``MissingContextValues``, as
the IAM policy simulator does. Not evaluated (documented gaps): permissions boundaries, SCPs,
session policies, resource policies, ``ResourcePolicy``/``PermissionsBoundaryPolicyInputList``
parameters, pagination (every result in one page).

The local caller: requests signed with credentials moto does not know (the stack's
``testing/testing``) are made as moto's default identity ``arn:aws:sts::<account>:user/moto``,
which is no IAM user. It stands for the account's administrator: every action is ``allowed`` for
it (``MatchedStatements`` empty). Any other ARN that names no user or role answers
``NoSuchEntity``, as IAM does.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any
from urllib.parse import unquote

from omics_toolkit.local.patches.guard import Needs

#: The moto class this module adds a method to.
TARGET = "moto.iam.responses.IamResponse"

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs("moto.iam.responses.IamResponse._get_param", params=("self", "param_name")),
    Needs("moto.iam.responses.IamResponse.backend"),
    Needs("moto.iam.models.IAMBackend.get_user", params=("self", "name")),
    Needs("moto.iam.models.IAMBackend.get_role_by_arn", params=("self", "arn")),
    Needs("moto.iam.models.IAMBackend.get_groups_for_user", params=("self", "user_name")),
    Needs("moto.iam.exceptions.NoSuchEntity"),
    Needs("moto.core.responses.ActionResult"),
)


def _documents(entity: Any) -> list[tuple[str, dict[str, Any]]]:
    """(policy id, document) of an IAM user, group or role: inline, then attached."""
    docs = []
    for name, text in (getattr(entity, "policies", None) or {}).items():
        docs.append((name, _parse(text)))
    for policy in (getattr(entity, "managed_policies", None) or {}).values():
        default = next((v for v in policy.versions if v.is_default), None)
        if default is not None:
            docs.append((policy.arn, _parse(default.document)))
    return docs


def _parse(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    text = str(text)
    if not text.lstrip().startswith("{"):
        text = unquote(text)
    return dict(json.loads(text))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, *, case: bool) -> bool:
    regex = fnmatch.translate(pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement:
        if any(_glob(a, action, case=False) for a in _as_list(statement["NotAction"])):
            return False
    elif not any(_glob(a, action, case=False) for a in _as_list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        return not any(_glob(r, resource, case=True) for r in _as_list(statement["NotResource"]))
    return any(_glob(r, resource, case=True) for r in _as_list(statement.get("Resource")))


def _condition_holds(
    statement: dict[str, Any], context: dict[str, list[str]], missing: set[str]
) -> bool:
    for operator, block in (statement.get("Condition") or {}).items():
        op = operator.split(":", 1)[-1]
        op = op.removesuffix("IfExists")
        for key, expected in (block or {}).items():
            actual = context.get(key.lower())
            if actual is None:
                if not operator.endswith("IfExists"):
                    missing.add(key)
                    return False
                continue
            wanted = [str(e) for e in _as_list(expected)]
            if op in ("StringEquals", "ArnEquals"):
                ok = any(a in wanted for a in actual)
            elif op == "StringNotEquals":
                ok = not any(a in wanted for a in actual)
            elif op in ("StringLike", "ArnLike"):
                ok = any(_glob(w, a, case=True) for w in wanted for a in actual)
            elif op == "StringNotLike":
                ok = not any(_glob(w, a, case=True) for w in wanted for a in actual)
            elif op == "Bool":
                ok = any(a.lower() in [w.lower() for w in wanted] for a in actual)
            else:
                missing.add(key)
                ok = False
            if not ok:
                return False
    return True


def evaluate(
    documents: list[tuple[str, dict[str, Any]]],
    action: str,
    resource: str,
    context: dict[str, list[str]],
) -> dict[str, Any]:
    """One ``EvaluationResult`` of SimulatePrincipalPolicy for ``action`` on ``resource``."""
    missing: set[str] = set()
    allowed: list[dict[str, Any]] = []
    for policy_id, doc in documents:
        for statement in _as_list(doc.get("Statement")):
            if not _matches(statement, action, resource):
                continue
            if not _condition_holds(statement, context, missing):
                continue
            matched = {"SourcePolicyId": policy_id, "SourcePolicyType": "IAM Policy"}
            if statement.get("Effect") == "Deny":
                return _result(action, resource, "explicitDeny", [matched], missing)
            allowed.append(matched)
    decision = "allowed" if allowed else "implicitDeny"
    return _result(action, resource, decision, allowed, missing)


def _result(
    action: str, resource: str, decision: str, matched: list[dict[str, Any]], missing: set[str]
) -> dict[str, Any]:
    return {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": decision,
        "MatchedStatements": matched,
        "MissingContextValues": sorted(missing),
    }


def _principal_documents(backend: Any, arn: str) -> list[tuple[str, dict[str, Any]]] | None:
    """The principal's documents; ``None`` for moto's default (administrator) identity."""
    from moto.iam.exceptions import NoSuchEntity

    resource = arn.split(":", 5)[-1]
    if arn.split(":")[2:3] == ["sts"] and resource == "user/moto":
        return None
    kind, _, rest = resource.partition("/")
    name = rest.rsplit("/", 1)[-1]
    if kind == "user":
        user = backend.get_user(name)
        docs = _documents(user)
        for group in backend.get_groups_for_user(name):
            docs.extend(_documents(group))
        return docs
    if kind == "role":
        return _documents(backend.get_role_by_arn(arn))
    if kind == "group":
        return _documents(backend.get_group(name))
    raise NoSuchEntity(f"PolicySourceArn {arn} names no user, group or role")


def simulate_principal_policy(self: Any) -> Any:
    from moto.core.responses import ActionResult

    arn = str(self._get_param("PolicySourceArn"))
    actions = [str(a) for a in self._get_param("ActionNames") or []]
    resources = [str(r) for r in self._get_param("ResourceArns") or []] or ["*"]
    context = {
        str(entry["ContextKeyName"]).lower(): [str(v) for v in entry.get("ContextKeyValues", [])]
        for entry in self._get_param("ContextEntries") or []
    }
    documents = _principal_documents(self.backend, arn)
    results = []
    for action in actions:
        for resource in resources:
            if documents is None:
                results.append(_result(action, resource, "allowed", [], set()))
            else:
                results.append(evaluate(documents, action, resource, context))
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def apply() -> None:
    """Add SimulatePrincipalPolicy to moto's IamResponse (idempotent)."""
    from moto.iam.responses import IamResponse

    IamResponse.simulate_principal_policy = simulate_principal_policy  # type: ignore[attr-defined]
