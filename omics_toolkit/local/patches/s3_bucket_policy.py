"""Evaluate conditional ``Deny`` statements of S3 bucket policies the way S3 does.

moto 5.2's ``IAMPolicyStatement.is_action_permitted`` returns DENIED whenever a statement's
``Condition`` does not hold, whatever its ``Effect`` — so a standard TLS-only policy
(``Deny s3:* if aws:SecureTransport = false``) denies every request, secure or not. S3 applies a
``Deny`` only when its condition holds.

Replaces ``moto.s3.models.FakeBucket.get_permission(self, action, resource)``: ``Deny`` statements
whose conditions do not hold for the request context are dropped before moto evaluates the policy.
The request context is that of an AWS SDK request: ``aws:SecureTransport = true`` (the local stack's
loopback HTTP stands in for the HTTPS every SDK uses against AWS). Conditions on other keys are
treated as not holding (the local stack has no VPC endpoints, source IPs or organisations).
"""

from __future__ import annotations

import json
from typing import Any

from omics_toolkit.local.patches.guard import Needs

#: The moto symbol this module replaces (checked by tests/unit/local/test_patches_s3_bucket_policy.py).
TARGET = "moto.s3.models.FakeBucket.get_permission"

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs("moto.s3.models.FakeBucket.get_permission", params=("self", "action", "resource")),
    Needs("moto.iam.access_control.IAMPolicy"),
    Needs("moto.iam.access_control.PermissionResult"),
)

#: Condition keys known for a local-stack request.
REQUEST_CONTEXT = {"aws:securetransport": "true"}
_original: Any = None


def _values(value: Any) -> list[str]:
    return [str(v).lower() for v in (value if isinstance(value, list) else [value])]


def condition_holds(
    condition: dict[str, dict[str, Any]], context: dict[str, str] = REQUEST_CONTEXT
) -> bool:
    """Whether every operator/key of an IAM ``Condition`` block holds for ``context``.

    Supports ``Bool``, ``StringEquals``, ``StringNotEquals`` (and ``...IfExists``); anything else,
    or a key absent from ``context``, does not hold.
    """
    for operator, tests in condition.items():
        op = operator.removesuffix("IfExists")
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None:
                return operator.endswith("IfExists")
            if op in ("Bool", "StringEquals", "StringEqualsIgnoreCase"):
                if actual.lower() not in _values(expected):
                    return False
            elif op == "StringNotEquals":
                if actual.lower() in _values(expected):
                    return False
            else:
                return False
    return True


def get_permission(self: Any, action: str, resource: str) -> Any:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy.decode() if isinstance(self.policy, bytes) else self.policy)
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    effective = [
        s
        for s in statements
        if not (
            s.get("Effect") == "Deny" and s.get("Condition") and not condition_holds(s["Condition"])
        )
    ]
    if not effective:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**policy, "Statement": effective})).is_action_permitted(
        action, resource
    )


def apply() -> None:
    """Install the replacement (idempotent)."""
    global _original
    from moto.s3.models import FakeBucket

    if FakeBucket.get_permission is get_permission:
        return
    _original = FakeBucket.get_permission
    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
