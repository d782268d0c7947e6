"""Lake Formation refuses the principals AWS refuses.

moto 5.2 stores any ``DataLakePrincipalIdentifier``. Lake Formation does not: a session ARN
(``arn:aws:sts::<account>:assumed-role/<role>/<session>``, what GetCallerIdentity returns to
SSO users and CI roles) is answered ``InvalidInputException: Unsupported principal
identifier:<arn>. Arns identifying principals with temporary credentials are not supported.``
(wording as reported in hashicorp/terraform-provider-aws#19958), and a role that does not exist
(e.g. an SSO role's ARN without its ``/aws-reserved/sso.amazonaws.com/<region>/`` path) with
``InvalidInputException: Invalid principal, arn: <arn>`` (aws-samples/data-lake-as-code#17).
Other identifiers outside the forms Lake Formation documents get ``Unsupported principal
identifier:<value>.`` (assumed wording: not published).

This checks the principal independently of the toolkit's own
:func:`omics_toolkit.principals.check_principal` (a fake must not share the code it checks).
Accepted: a 12-digit account, ``<account>:IAMPrincipals``, ``IAM_ALLOWED_PRINCIPALS``, IAM
role and user ARNs (in the backend's own account they must exist in moto IAM, path included),
SAML provider users/groups, IAM Identity Center users/groups, organizations and OUs, QuickSight
users/groups.

Replaces ``LakeFormationBackend.grant_permissions`` and ``revoke_permissions`` (raise) and
``LakeFormationResponse.batch_grant_permissions`` / ``batch_revoke_permissions`` (a refused
entry is reported in ``Failures`` with its ``RequestEntry`` and the others applied, as the
batch operations do).
"""

from __future__ import annotations

import json
import re
from typing import Any

from omics_toolkit.local.patches.guard import Needs

#: The moto symbols this module replaces.
TARGETS = (
    "moto.lakeformation.models.LakeFormationBackend.grant_permissions",
    "moto.lakeformation.models.LakeFormationBackend.revoke_permissions",
    "moto.lakeformation.responses.LakeFormationResponse.batch_grant_permissions",
    "moto.lakeformation.responses.LakeFormationResponse.batch_revoke_permissions",
)

#: The moto internals this patch relies on, checked at stack start (:mod:`.guard`).
NEEDS = (
    Needs(
        "moto.lakeformation.models.LakeFormationBackend.grant_permissions",
        params=("self", "catalog_id", "principal", "resource", "permissions"),
    ),
    Needs(
        "moto.lakeformation.models.LakeFormationBackend.revoke_permissions",
        params=("self", "catalog_id", "principal", "resource", "permissions_to_revoke"),
    ),
    Needs(
        "moto.lakeformation.responses.LakeFormationResponse.batch_grant_permissions",
        params=("self",),
        source=('self._get_param("Entries")', "batch_grant_permissions(catalog_id, entries)"),
    ),
    Needs(
        "moto.lakeformation.responses.LakeFormationResponse.batch_revoke_permissions",
        params=("self",),
        source=('self._get_param("Entries")', "batch_revoke_permissions(catalog_id, entries)"),
    ),
    Needs("moto.lakeformation.responses.LakeFormationResponse.lakeformation_backend"),
    Needs("moto.lakeformation.exceptions.InvalidInput"),
    Needs("moto.iam.models.iam_backends"),
)

_ARN = r"^arn:aws(?:-cn|-us-gov|-iso|-iso-b)?"
_FORMS = (
    re.compile(r"^\d{12}$"),
    re.compile(r"^\d{12}:IAMPrincipals$"),
    re.compile(r"^IAM_ALLOWED_PRINCIPALS$"),
    re.compile(_ARN + r":iam::\d{12}:saml-provider/[^:/]+:(?:user|group)/.+$"),
    re.compile(_ARN + r":identitystore:::(?:user|group)/[^/]+$"),
    re.compile(
        _ARN + r":organizations::\d{12}:(?:organization/o-[a-z0-9]+|ou/o-[a-z0-9]+/ou-[a-z0-9-]+)$"
    ),
    re.compile(_ARN + r":quicksight:[a-z0-9-]+:\d{12}:(?:user|group)/[^/]+/.+$"),
)
_IAM = re.compile(_ARN + r":iam::(\d{12}):(role|user)/(?:[^/]+/)*[^/]+$")
_STS = re.compile(_ARN + r":sts::")
_originals: dict[str, Any] = {}


def refusal(identifier: Any, account_id: str, must_exist: bool = True) -> str | None:
    """The ``InvalidInputException`` message Lake Formation answers for ``identifier``, or
    ``None`` when it accepts it. With ``must_exist`` (grants), IAM roles and users of
    ``account_id`` must exist in moto IAM; revokes do not check (a grant to a since-deleted
    role can still be revoked: assumed, not documented)."""
    value = str(identifier or "")
    if _STS.match(value):
        return (
            f"Unsupported principal identifier:{value}. Arns identifying principals with "
            "temporary credentials are not supported."
        )
    iam = _IAM.match(value)
    if iam:
        account, kind = iam.group(1), iam.group(2)
        if not must_exist or account != account_id or _iam_entity_exists(account, kind, value):
            return None
        return f"Invalid principal, arn: {value}"
    if any(form.match(value) for form in _FORMS) and len(value) <= 255:
        return None
    return f"Unsupported principal identifier:{value}."


def _iam_entity_exists(account: str, kind: str, arn: str) -> bool:
    from moto.iam.models import iam_backends

    for backend in iam_backends[account].values():
        entities = backend.roles.values() if kind == "role" else backend.users.values()
        if any(entity.arn == arn for entity in entities):
            return True
    return False


def _check(backend: Any, principal: Any, must_exist: bool) -> None:
    from moto.lakeformation.exceptions import InvalidInput

    identifier = (principal or {}).get("DataLakePrincipalIdentifier")
    message = refusal(identifier, backend.account_id, must_exist)
    if message:
        raise InvalidInput(message)


def grant_permissions(self: Any, catalog_id: str, principal: Any, *args: Any, **kwargs: Any) -> Any:
    _check(self, principal, must_exist=True)
    return _originals["grant"](self, catalog_id, principal, *args, **kwargs)


def revoke_permissions(
    self: Any, catalog_id: str, principal: Any, *args: Any, **kwargs: Any
) -> Any:
    _check(self, principal, must_exist=False)
    return _originals["revoke"](self, catalog_id, principal, *args, **kwargs)


def _batch(self: Any, grant: bool) -> str:
    from moto.lakeformation.exceptions import InvalidInput

    catalog_id = self._get_param("CatalogId") or self.current_account
    backend = self.lakeformation_backend
    failures = []
    for entry in self._get_param("Entries") or []:
        try:
            if grant:
                backend.grant_permissions(
                    catalog_id=catalog_id,
                    principal=entry.get("Principal"),
                    resource=entry.get("Resource"),
                    permissions=entry.get("Permissions"),
                    permissions_with_grant_options=entry.get("PermissionsWithGrantOption"),
                )
            else:
                backend.revoke_permissions(
                    catalog_id=catalog_id,
                    principal=entry.get("Principal"),
                    resource=entry.get("Resource"),
                    permissions_to_revoke=entry.get("Permissions"),
                    permissions_with_grant_options_to_revoke=entry.get("PermissionsWithGrantOption")
                    or [],
                )
        except InvalidInput as exc:
            failures.append(
                {
                    "RequestEntry": entry,
                    "Error": {"ErrorCode": "InvalidInputException", "ErrorMessage": exc.message},
                }
            )
    return json.dumps({"Failures": failures})


def batch_grant_permissions(self: Any) -> str:
    return _batch(self, grant=True)


def batch_revoke_permissions(self: Any) -> str:
    return _batch(self, grant=False)


def apply() -> None:
    """Install the replacements (idempotent)."""
    from moto.lakeformation.models import LakeFormationBackend
    from moto.lakeformation.responses import LakeFormationResponse

    if LakeFormationBackend.grant_permissions is grant_permissions:
        return
    _originals["grant"] = LakeFormationBackend.grant_permissions
    _originals["revoke"] = LakeFormationBackend.revoke_permissions
    LakeFormationBackend.grant_permissions = grant_permissions  # type: ignore[method-assign]
    LakeFormationBackend.revoke_permissions = revoke_permissions  # type: ignore[method-assign]
    LakeFormationResponse.batch_grant_permissions = batch_grant_permissions  # type: ignore[method-assign]
    LakeFormationResponse.batch_revoke_permissions = batch_revoke_permissions  # type: ignore[method-assign]
